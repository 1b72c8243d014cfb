import * as tf from '@tensorflow/tfjs-core';

/** What this module uses of the wasm backend (BackendWasm in @tensorflow/tfjs-backend-wasm). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

let installed = false;

/**
 * Slice for the wasm backend without its whole-input copy. TF.js 4.22's wasm Slice reads its input
 * with `readSync`, which copies the entire input out of the WebAssembly heap into a fresh JS buffer
 * before taking the slice: the cost of a slice grows with the input, not the output (64 slices of a
 * 64 x 16 x 512 tensor took 120 ms; a GRU's gate slices and per-step unstacking spent a fifth of a
 * training step there). This kernel reads the input through a view of the heap instead and copies
 * only the sliced values. Same results (tested against the cpu backend's Slice); strings and
 * everything else go to the original kernel.
 */
function sliceKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
    if (x.dtype === 'string') return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.TensorInfo as tf.Tensor, begin, size) as [number[], number[]];
    const out = backend.makeOutput(s, x.dtype);
    const total = s.reduce((p, q) => p * q, 1);
    if (total === 0) return out;
    // Views taken after makeOutput, which may grow (and so replace) the heap's buffer.
    const xv = backend.typedArrayFromHeap(x);
    const ov = backend.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    const rank = x.shape.length;
    if (tf.slice_util.isSliceContinous(x.shape, b, s)) {
      const offset = rank === 0 ? 0 : tf.slice_util.computeFlatOffset(b, strides);
      ov.set(xv.subarray(offset, offset + total));
      return out;
    }
    // Copy runs along the last axis, walking the other axes like an odometer.
    const inner = s[rank - 1]!;
    const index = new Array<number>(rank - 1).fill(0);
    for (let o = 0; o < total; o += inner) {
      let offset = b[rank - 1]!;
      for (let a = 0; a < rank - 1; a++) offset += (b[a]! + index[a]!) * strides[a]!;
      ov.set(xv.subarray(offset, offset + inner), o);
      for (let a = rank - 2; a >= 0; a--) {
        if (++index[a]! < s[a]!) break;
        index[a] = 0;
      }
    }
    return out;
  };
}

/**
 * MatMul for the wasm backend that survives a right-hand side seen before in another shape. TF.js
 * 4.22's wasm BatchMatMul caches the XNNPACK operator (with b packed) under b's data id; when the same
 * data comes back reshaped (reshape shares data: say a gradient viewed as 4 x 48 and then as 16 x 12),
 * the cached operator is reused with the old dimensions and reads and writes out of bounds: wrong
 * results, then "memory access out of bounds" or an abort. This kernel remembers the shape each
 * right-hand side was first multiplied in and hands the original kernel a fresh copy (a new data id)
 * whenever the shape differs. The copy costs one pass over b; the operator is packed afresh anyway.
 */
function matMulKernel(original: tf.KernelFunc, rhs: string): tf.KernelFunc {
  const seen = new WeakMap<object, string>();
  return (args) => {
    const b = args.inputs[rhs] as tf.TensorInfo | undefined;
    if (!b) return original(args);
    const key = `${b.shape.join('x')}${(args.attrs as { transposeB?: boolean }).transposeB ? 'T' : ''}`;
    const first = seen.get(b.dataId);
    if (first === undefined) seen.set(b.dataId, key);
    if (first === undefined || first === key) return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const copy = backend.makeOutput([...b.shape], b.dtype);
    backend.typedArrayFromHeap(copy).set(backend.typedArrayFromHeap(b));
    try {
      return original({ ...args, inputs: { ...args.inputs, [rhs]: copy } });
    } finally {
      backend.disposeData(copy.dataId, true);
    }
  };
}

/**
 * out = x^T for x (R x C) row-major, in 64 x 64 blocks with 4 rows at a time, so that reads and
 * writes both stay within a few cache lines.
 */
function transpose2d(x: Float32Array | Int32Array, out: Float32Array | Int32Array, R: number, C: number): void {
  const block = 64;
  for (let i0 = 0; i0 < R; i0 += block) {
    const i1 = Math.min(R, i0 + block);
    for (let j0 = 0; j0 < C; j0 += block) {
      const j1 = Math.min(C, j0 + block);
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        const r0 = i * C;
        const r1 = r0 + C;
        const r2 = r1 + C;
        const r3 = r2 + C;
        for (let j = j0; j < j1; j++) {
          const o = j * R + i;
          out[o] = x[r0 + j]!;
          out[o + 1] = x[r1 + j]!;
          out[o + 2] = x[r2 + j]!;
          out[o + 3] = x[r3 + j]!;
        }
      }
      for (; i < i1; i++) for (let j = j0; j < j1; j++) out[j * R + i] = x[i * C + j]!;
    }
  }
}

/**
 * Transpose for the wasm backend, faster for the transposes that swap two blocks of axes (a matrix
 * transpose once axes are grouped: (A..., B...) -> (B..., A...), axes of size 1 ignored), the kind a
 * weight gradient or a transposed weight needs. TF.js 4.22's wasm kernel walks such a transpose
 * element by element with strided writes: 4 to 7 ns per element for 512 x 1536 or 16384 x 352
 * (8.8 and 29 ms); this blocked copy on a view of the heap takes about 1 ns (measured: 0.9 and 7.6
 * ms). Other permutations, small tensors and other dtypes go to the original kernel.
 */
function transposeKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as unknown as { perm: number[] }).perm;
    const size = x.shape.reduce((p, q) => p * q, 1);
    if ((x.dtype !== 'float32' && x.dtype !== 'int32') || size < 16384) return original(args);
    // The permutation among the axes longer than 1, renumbered.
    const kept = x.shape.map((d, a) => (d > 1 ? a : -1)).filter((a) => a >= 0);
    const reduced = perm.filter((a) => x.shape[a]! > 1).map((a) => kept.indexOf(a));
    const n = reduced.length;
    const k = reduced[0] ?? 0;
    if (n < 2 || k === 0 || !reduced.every((a, i) => a === (k + i) % n)) return original(args);
    const dims = kept.map((a) => x.shape[a]!);
    const R = dims.slice(0, k).reduce((p, q) => p * q, 1);
    const C = size / R;
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(
      perm.map((a) => x.shape[a]!),
      x.dtype,
    );
    // Views taken after makeOutput, which may grow (and so replace) the heap's buffer.
    transpose2d(backend.typedArrayFromHeap(x) as Float32Array, backend.typedArrayFromHeap(out) as Float32Array, R, C);
    return out;
  };
}

/**
 * Replaces kernels of the wasm backend that are wrong (see matMulKernel) or correct but needlessly
 * slow (see sliceKernel, transposeKernel).
 * useBackend('wasm') calls it; call it yourself after tf.setBackend('wasm') if you start the
 * backend another way. Idempotent.
 */
export function installWasmKernelFixes(): void {
  if (installed) return;
  const config = tf.getKernel('Slice', 'wasm');
  if (!config) return;
  tf.unregisterKernel('Slice', 'wasm');
  tf.registerKernel({ ...config, kernelFunc: sliceKernel(config.kernelFunc) });
  const transpose = tf.getKernel('Transpose', 'wasm');
  if (transpose) {
    tf.unregisterKernel('Transpose', 'wasm');
    tf.registerKernel({ ...transpose, kernelFunc: transposeKernel(transpose.kernelFunc) });
  }
  for (const name of ['BatchMatMul', '_FusedMatMul']) {
    const mm = tf.getKernel(name, 'wasm');
    if (!mm) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...mm, kernelFunc: matMulKernel(mm.kernelFunc, 'b') });
  }
  installed = true;
}
