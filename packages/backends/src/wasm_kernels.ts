import * as tf from '@tensorflow/tfjs-core';
// Registers the wasm backend and its kernels, so that the fixes below can be installed as soon as this
// package is imported (and a plain tf.setBackend('wasm') gets them too).
import '@tensorflow/tfjs-backend-wasm';
import { type NativeKernels, nativeKernels, offsetOf, sharedMemory, type WasmBackendInternals } from './wasm_native.js';

/** What this module uses of the wasm backend (BackendWasm in @tensorflow/tfjs-backend-wasm). */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

let installed = false;

const count = (shape: readonly number[]): number => shape.reduce((p, q) => p * q, 1);

/** The same data seen with another shape of the same size (what the Reshape kernel returns). */
const viewed = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: x.dataId, shape, dtype: x.dtype });

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
    const total = count(s);
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
    const kernels = x.dtype === 'float32' || x.dtype === 'int32' ? nativeKernels(args.backend as never) : undefined;
    if (kernels) {
      // The runs along the last axis of each plane of the last two axes in one call, the planes
      // walked like an odometer.
      const backend4 = args.backend as unknown as WasmBackendInternals;
      const inner = s[rank - 1]! * 4;
      const rows = s[rank - 2]!;
      const planes = total / (s[rank - 1]! * rows);
      const index = new Array<number>(rank - 2).fill(0);
      const [from, to] = [offsetOf(backend4, x.dataId), offsetOf(backend4, out.dataId)];
      for (let p = 0; p < planes; p++) {
        let offset = b[rank - 1]! + b[rank - 2]! * strides[rank - 2]!;
        for (let a = 0; a < rank - 2; a++) offset += (b[a]! + index[a]!) * strides[a]!;
        kernels.copyRows(from + offset * 4, to + p * rows * inner, rows, inner, strides[rank - 2]! * 4, inner);
        for (let a = rank - 3; a >= 0; a--) {
          if (++index[a]! < s[a]!) break;
          index[a] = 0;
        }
      }
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
 * Concat for the wasm backend in one copy per input. TF.js 4.22's wasm Concat copies with a fresh
 * typed-array view per run: a concatenation along an inner axis of N rows makes N views per input
 * (960 x 1024 and 960 x 512 side by side, a GRU's input gradient, took about 1 ms). Here each input's
 * runs go in one call of the WebAssembly copyRows. float32 and int32; everything else, and wherever
 * the WebAssembly kernels cannot run, to the original kernel.
 */
function concatKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const kernels = nativeKernels(args.backend as never);
    const dtype = inputs[0]?.dtype;
    if (!kernels || (dtype !== 'float32' && dtype !== 'int32') || inputs.some((t) => t.dtype !== dtype))
      return original(args);
    const axis = tf.util.parseAxisParam((args.attrs as { axis: number | number[] }).axis, inputs[0]!.shape)[0]!;
    tf.backend_util.assertParamsConsistent(
      inputs.map((t) => t.shape),
      axis,
    );
    const nonEmpty = inputs.filter((t) => count(t.shape) > 0);
    if (nonEmpty.length < 2) return original(args);
    const outShape = tf.backend_util.computeOutShape(
      inputs.map((t) => t.shape),
      axis,
    );
    const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
    const out = backend.makeOutput(outShape, dtype);
    const rows = count(outShape.slice(0, axis));
    const row = count(outShape.slice(axis)) * 4;
    const to = offsetOf(backend, out.dataId);
    let at = 0;
    for (const t of nonEmpty) {
      const bytes = count(t.shape.slice(axis)) * 4;
      kernels.copyRows(offsetOf(backend, t.dataId), to + at, rows, bytes, bytes, row);
      at += bytes;
    }
    return out;
  };
}

/**
 * Pack (tf.stack) for the wasm backend as concatKernel does it: TF.js 4.22's wasm Pack is its Concat
 * of the inputs with a unit axis added, a typed-array view per run; stacking T states of B x H along
 * axis 1 (batch-major outputs) makes B T views. Here one copyRows call per input. float32 and int32,
 * two inputs or more; everything else to the original kernel.
 */
function packKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const inputs = args.inputs as unknown as tf.TensorInfo[];
    const kernels = nativeKernels(args.backend as never);
    const first = inputs[0];
    const dtype = first?.dtype;
    if (!kernels || !first || inputs.length < 2 || (dtype !== 'float32' && dtype !== 'int32')) return original(args);
    if (inputs.some((t) => t.dtype !== dtype || !tf.util.arraysEqual(t.shape, first.shape))) return original(args);
    const rank = first.shape.length;
    const axis = (args.attrs as { axis: number }).axis;
    const at = axis < 0 ? axis + rank + 1 : axis;
    if (!(Number.isInteger(at) && at >= 0 && at <= rank) || count(first.shape) === 0) return original(args);
    const outShape = [...first.shape.slice(0, at), inputs.length, ...first.shape.slice(at)];
    const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
    const out = backend.makeOutput(outShape, dtype);
    const rows = count(first.shape.slice(0, at));
    const bytes = count(first.shape.slice(at)) * 4;
    const to = offsetOf(backend, out.dataId);
    for (const [i, t] of inputs.entries())
      kernels.copyRows(offsetOf(backend, t.dataId), to + i * bytes, rows, bytes, bytes, bytes * inputs.length);
    return out;
  };
}

/**
 * Identity for the wasm backend without a copy. TF.js 4.22's wasm Identity copies its input into a
 * fresh buffer, and the engine calls it for every tensor it saves for a gradient (engine.clone), for
 * tf.clone and for the outputs of custom gradients: a training step of the dense GRU made 53 such
 * copies per batch, each a pass over up to 784 x 1536 values. TF.js tensors are immutable (a
 * variable's assign takes the new value's data id; no kernel here writes into an input), so the
 * result can share its input's data, as the cpu backend's Identity and every backend's Reshape do:
 * one more reference, released with the last tensor that holds it. Strings go to the original kernel.
 */
function identityKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype === 'string') return original(args);
    (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
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
 * Right-hand sides of at most this many values (256 KiB) are multiplied by smallMatMulKernel, and
 * narrow ones (N <= SMALL_MATMUL_NARROW) of up to 4x as many. Measured through tf.matMul in
 * alternating rounds: 16 x 1536 by 1536 x 80 or x 64 (narrow) 1.0x to 1.1x XNNPACK's time, and wide
 * ones XNNPACK's packed layout does better: 16 x 80 by 80 x 1536 0.88x, 16 x 128 by 128 x 1536 0.91x.
 */
export const SMALL_MATMUL_MAX_RHS = 2 ** 16;
/** The widest right-hand side (columns) that smallMatMulKernel takes up to 4 x SMALL_MATMUL_MAX_RHS values of. */
export const SMALL_MATMUL_NARROW = 128;
/**
 * Products of at most this many rows take up to 4 x SMALL_MATMUL_MAX_RHS values of any width: a few
 * rows by a fresh right-hand side (a factor rebuilt for every batch of sequences, as CP's (R x 1536)
 * is), which XNNPACK packs before its first product (about 1.4 ms for 80 x 1536) and this kernel
 * reads as it is.
 */
export const SMALL_MATMUL_FEW_ROWS = 4;
/**
 * A^T B (transposeA, a weight gradient summed over all steps) is formed by the WebAssembly matmulTN
 * where the result has at most this many values (1 MiB, carried from block to block of the summed
 * axis) and A or B has fewer columns than panels need (TN_PANELS_MIN_ROWS, TN_PANELS_MIN_COLS). Against the transpose and XNNPACK (which packs B or, flipped, transposes it), alternating,
 * `node apps/bench/scripts/small-matmul.mjs` (recorded 2026-12-05T2149): 1024 x 50 ^T by 1024 x 1536
 * (a CP factor's gradient) 4.1 ms against 5.5, 1024 x 160 ^T by 1024 x 1536 10.1 against 13.2,
 * 2048 x 176 ^T by 2048 x 48 (a TT stage's) 0.59 against 1.02. Beyond it B is read in panels
 * (see TN_PACKED_MAX): reading it as it is, a larger C is no faster than XNNPACK (measured alone:
 * 784 x 256 ^T by 784 x 1536, 393K values, 15.7 against 15.8 ms; 784 x 512 ^T, 786K, 31.3 against 29.9).
 */
export const TN_DIRECT_MAX = 2 ** 18;
/**
 * A^T B with a result of more than TN_DIRECT_MAX values and at most this many (8 MiB) is formed by
 * the WebAssembly matmulTNPacked, which copies each block of TN_PACKED_BLOCK rows of B into panels
 * of 8 columns (XNNPACK, on A transposed or flipped, is slower there: a row of B of 1536 values
 * puts the 8 values a step reads 6 KiB apart). Measured against it, alternating,
 * `node apps/bench/scripts/small-matmul.mjs` (recorded 2026-12-06T0205): the dense U's gradient
 * 960 x 512 ^T by 960 x 1536 0.83x the time, the dense W's 784 x 256 ^T by 784 x 1536 0.83x. Since
 * 2026-12-06 the panels are copied by the first four columns of A on their way through B, not in a
 * pass of their own: a CP-GRU's factor gradients (80 x 1536) 0.90x the time in `profile-epoch.mjs
 * cp-gru`'s kernel times (143 -> 129 and 158 -> 144 ms per 15 batches, alternating, ad hoc); the
 * dense ones (more columns of A over the same copy) unchanged within noise.
 */
export const TN_PACKED_MAX = 2 ** 21;
/**
 * A^T B with B at least this many columns wide and at least TN_PANELS_MIN_ROWS columns of A goes
 * through panels of B (matmulTNPacked) at any size: since its panels are copied on the way through
 * B (2026-12-06) it is as fast as matmulTN reading B as it is or faster wherever both apply, hot in
 * cache, alternating, ad hoc (matmulTN against matmulTNPacked, us): a TT-GRU's per-step stage
 * gradients 512 x 176 ^T by 512 x 48 147 against 141, 256 x 32 ^T by 256 x 352 101 against 95; a
 * Tucker-like 960 x 20 ^T by 960 x 1536 1209 against 1040; 512 x 16 ^T by 512 x 16 4.4 against 4.2;
 * 960 x 8 ^T by 960 x 1536 460 against 457. Four columns of A keep matmulTN (235 against 263 for
 * 960 x 4 ^T by 960 x 1536: one group of four columns, nothing to reuse the panels).
 */
export const TN_PANELS_MIN_COLS = 8;
/** The fewest columns of A (rows of the result) for which B (TN_PANELS_MIN_COLS wide) goes through panels. */
export const TN_PANELS_MIN_ROWS = 8;
/**
 * The values (256 KiB) of a block of C that matmulTNPacked keeps in cache over the whole sum: C is
 * taken in blocks of columns this size, 128 columns for the dense U's gradient (512 x 1536).
 */
const TN_PACKED_C_BLOCK = 2 ** 16;
/** Rows of A and B per block of matmulTNPacked: its scratch holds this many rows of B by a block of C's columns, in panels. */
const TN_PACKED_BLOCK = 128;
/**
 * Products of at least this many rows whose right-hand side none of the rules above takes (more
 * than SMALL_MATMUL_MAX_RHS values, wide, at most PACKED_MAX_RHS) are multiplied by the WebAssembly
 * matmulPacked, which first copies B into panels of 8 columns (K x 8 values each, read as one
 * stream) and then runs matmul's microkernel over blocks of rows. XNNPACK's kernel reaches about
 * 44 GFLOP/s on these on this project's machine where B has 1024 or 1536 columns (its 8 values per
 * step a row apart map to a few sets of the L1 cache); the panels reach 55 to 57. Measured
 * alternating, `node apps/bench/scripts/small-matmul.mjs` (recorded 2026-12-06T0205): 960 x 80 by
 * 80 x 1536 (a CP-GRU's W over a batch) 0.74x XNNPACK's time, 960 x 256 by 256 x 1536 (the dense W)
 * 0.84x, 1024 x 1024 by 1024 x 1024 0.82x. Measured alone: 32 rows break even, 16 rows are slower
 * (the copy of B is not amortised; recurrent products stay with XNNPACK, which packs a persistent
 * right-hand side once).
 */
export const PACKED_MIN_ROWS = 32;
/** The largest right-hand side (values, 8 MiB of scratch) matmulPacked copies into panels. */
export const PACKED_MAX_RHS = 2 ** 21;
/** On the threaded build, products of at most this many multiply-adds (XNNPACK spreads larger ones over its threads). */
export const SMALL_MATMUL_MAX_THREADED = 2 ** 21;
/**
 * Products of fewer than 4 rows take a right-hand side of any size (N a multiple of 4): those rows
 * stream through B's rows (see wasm/kernels.ts), as fast as XNNPACK's packed layout or faster
 * (measured at 1 x 512 by 512 x 1536, the dense U at batch 1, and 1 x 2048 by 2048 x 256, 40
 * against 43 us), where XNNPACK first packs a right-hand side it has not seen, 7x to 30x the
 * product's time: tf.layers.gru slices its recurrent kernel anew at every step, and a bias's
 * gradient as column sums (ones times dy, 1 x 2048 by 2048 x 256) took 1.2 ms. On the threaded
 * build, whose XNNPACK spreads a product over its threads, only for a right-hand side seen for the
 * first time (a persistent one XNNPACK packs once).
 */
export const SMALL_MATMUL_ROWS_ANY_SIZE = 4;
/**
 * A new (rows x cols4) float32 tensor holding x (rows x cols) in its first columns and zeros in the
 * others: a right-hand side (or a bias, rows = 1) for the WebAssembly products, whose columns come
 * in fours.
 */
function padColumns(
  backend: WasmBackendLike & WasmBackendInternals,
  kernels: NativeKernels,
  x: tf.TensorInfo,
  rows: number,
  cols: number,
  cols4: number,
): tf.TensorInfo {
  const out = backend.makeOutput([rows, cols4], 'float32');
  (backend.typedArrayFromHeap(out) as Float32Array).fill(0);
  kernels.copyRows(offsetOf(backend, x.dataId), offsetOf(backend, out.dataId), rows, 4 * cols, 4 * cols, 4 * cols4);
  return out;
}

/**
 * Which WebAssembly product smallMatMulKernel runs for float32 matrices (M x K) by (K x N), by their
 * sizes alone (see there): 'matmul' (B as it is), 'padded' (N not a multiple of 4: B padded with
 * zeros), 'packed' (B through panels: matmulPacked), 'wide' (fewer than SMALL_MATMUL_ROWS_ANY_SIZE
 * rows), or undefined (XNNPACK). The threaded build's limit (SMALL_MATMUL_MAX_THREADED) and its rule
 * for wide right-hand sides it has seen are the kernel's to apply.
 */
export function smallMatMulRoute(M: number, K: number, N: number): 'matmul' | 'padded' | 'packed' | 'wide' | undefined {
  if (M === 0 || K === 0 || N === 0) return undefined;
  // Columns not a multiple of 4: B (and the bias) padded with zeros to N4 columns, small products only.
  const N4 = (N + 3) & ~3;
  const padded = N !== N4;
  const small =
    K * N4 <= SMALL_MATMUL_MAX_RHS ||
    ((N4 <= SMALL_MATMUL_NARROW || M <= SMALL_MATMUL_FEW_ROWS) && K * N4 <= 4 * SMALL_MATMUL_MAX_RHS);
  const wide = !padded && !small && M < SMALL_MATMUL_ROWS_ANY_SIZE;
  // Many rows by a B that is small only by the narrow or few-rows allowance (more than
  // SMALL_MATMUL_MAX_RHS values) go through panels too: 960 x 1536 by 1536 x 80 (a CP-GRU's W
  // gradient) 55.5 GFLOP/s through panels against 50.9 streaming B (ad hoc).
  const tall =
    !padded &&
    !wide &&
    (!small || K * N > SMALL_MATMUL_MAX_RHS) &&
    M >= PACKED_MIN_ROWS &&
    N >= 8 &&
    K * N <= PACKED_MAX_RHS;
  if (wide) return 'wide';
  if (tall) return 'packed';
  if (!small) return undefined;
  return padded ? 'padded' : 'matmul';
}

/** The right-hand sides (dataIds) that smallMatMulKernel has seen under SMALL_MATMUL_ROWS_ANY_SIZE's rule. */
const seenWide = new WeakSet<object>();

/**
 * BatchMatMul for the small products of the wasm backend: a few rows by a matrix that fits in cache
 * (a recurrent state by a CP or Tucker factor, a TT core at batch 1, the output layer). XNNPACK,
 * which the backend's kernel calls, runs these well below its peak (measured on this project's
 * machine, one thread: 16 x 512 by 512 x 80 74 us against 45 us here; 256 x 16 by 16 x 16, a TT
 * core at batch 1, 21 us against 5; 16 x 512 by 512 x 1536 the same either way). This kernel
 * multiplies them with the WebAssembly SIMD `matmul` of wasm/kernels.ts, in place on the heap, with
 * XNNPACK's order of operations (it agrees bit for bit). For _FusedMatMul (tf.fused.matMul) it adds
 * the bias after the whole sum, then applies relu or leakyrelu, as the separate ops would (XNNPACK
 * starts its sums from the bias: the last bit may differ); other activations and a PReLU go to the
 * original kernel. It takes float32 products without transposes or batches (leading axes of size 1
 * are fine) and a right-hand side of at most SMALL_MATMUL_MAX_RHS values (N not a multiple of 4:
 * counted with B padded by zeros to the next multiple, which is what runs), or 4x
 * as many in at most SMALL_MATMUL_NARROW columns or by at most SMALL_MATMUL_FEW_ROWS rows, or any
 * size by fewer than SMALL_MATMUL_ROWS_ANY_SIZE rows (N a multiple of 4), or, through panels of B
 * (matmulPacked), any other right-hand side of at most PACKED_MAX_RHS values and at least 8 columns (a multiple of 4)
 * by at least PACKED_MIN_ROWS rows (also where B is small only by the narrow allowance) (at most SMALL_MATMUL_MAX_THREADED multiply-adds on the threaded
 * build); everything else goes to the original kernel, as does everything where the WebAssembly
 * kernels cannot run (see setNativeWasmKernels).
 */
export function smallMatMulKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as {
      transposeA?: boolean;
      transposeB?: boolean;
      activation?: string;
      leakyreluAlpha?: number;
    };
    const { transposeA = false, transposeB = false, activation = 'linear', leakyreluAlpha = 0.2 } = attrs;
    const act = ACTIVATIONS[activation];
    if (!a || !b || transposeA || transposeB || act === undefined || preluActivationWeights) return original(args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || ra < 2 || rb < 2) return original(args);
    const [M, K] = a.shape.slice(-2) as [number, number];
    const [K2, N] = b.shape.slice(-2) as [number, number];
    const route = K === K2 ? smallMatMulRoute(M, K, N) : undefined;
    if (!route) return original(args);
    const [padded, wide, tall] = [route === 'padded', route === 'wide', route === 'packed'];
    const N4 = (N + 3) & ~3;
    if (count(a.shape.slice(0, -2)) !== 1 || count(b.shape.slice(0, -2)) !== 1) return original(args);
    // A bias of one value per column ([N], [1, N], ...) and no more axes than the product's.
    const outRank = Math.max(ra, rb);
    if (
      bias &&
      (bias.dtype !== 'float32' ||
        bias.shape.length > outRank ||
        bias.shape[bias.shape.length - 1] !== N ||
        count(bias.shape) !== N)
    )
      return original(args);
    const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
    const kernels = nativeKernels(backend);
    if (!kernels || (sharedMemory(backend) && M * K * N > SMALL_MATMUL_MAX_THREADED)) return original(args);
    if (wide && sharedMemory(backend)) {
      if (seenWide.has(b.dataId)) return original(args);
      seenWide.add(b.dataId);
    }
    const out = backend.makeOutput([...new Array<number>(outRank - 2).fill(1), M, N], 'float32');
    const at = (x: tf.TensorInfo | undefined): number => (x ? offsetOf(backend, x.dataId) : 0);
    if (padded) {
      // Each column of C is its own sum: the real columns are the same sums, in the same order.
      const scratch = [
        padColumns(backend, kernels, b, K, N, N4),
        backend.makeOutput([M, N4], 'float32'),
        ...(bias ? [padColumns(backend, kernels, bias, 1, N, N4)] : []),
      ];
      const [b4, c4, bias4] = scratch;
      try {
        kernels.matmul(at(a), at(b4), at(c4), M, K, N4, at(bias4), act, leakyreluAlpha);
        kernels.copyRows(at(c4), at(out), M, 4 * N, 4 * N4, 4 * N);
      } finally {
        for (const x of scratch) backend.disposeData(x!.dataId, true);
      }
      return out;
    }
    if (tall) {
      const packed = backend.makeOutput([K * (N & ~7)], 'float32');
      try {
        kernels.matmulPacked(at(a), at(b), at(out), M, K, N, at(bias), act, leakyreluAlpha, at(packed));
      } finally {
        backend.disposeData(packed.dataId, true);
      }
      return out;
    }
    kernels.matmul(at(a), at(b), at(out), M, K, N, at(bias), act, leakyreluAlpha);
    return out;
  };
}

/**
 * _FusedMatMul for the wasm backend on matrices (rank 2). TF.js 4.22's wasm kernel reads its operands
 * as rank 3 (a.shape[1] as the rows): tf.fused.matMul always reshapes to rank 3 first (two Reshape
 * launches, and one back), but a direct kernel call with matrices, which the cpu and webgl kernels
 * take, gets a wrong shape. This wrapper views rank-2 operands as [1, M, K] and [1, K, N] and the
 * result as [M, N]; other ranks go to the original kernel as they are.
 */
function matrixFusedMatMulKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    if (!a || !b || a.shape.length !== 2 || b.shape.length !== 2) return original(args);
    const out = original({
      ...args,
      inputs: { ...args.inputs, a: viewed(a, [1, ...a.shape]), b: viewed(b, [1, ...b.shape]) },
    }) as tf.TensorInfo;
    return viewed(out, out.shape.slice(1));
  };
}

/** The activations smallMatMulKernel applies (the codes of wasm/kernels.ts's matmul); others go to the original kernel. */
const ACTIVATIONS: Record<string, number | undefined> = { linear: 0, relu: 1, leakyrelu: 2 };

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
 * A permutation with its unit axes dropped and neighbouring axes merged where they stay neighbours
 * (input axes a, a + 1 next to each other in the output): the same data movement with the fewest
 * axes. E.g. (4, 4, 4, 4, 12, 4, 6) by [6, 0, 1, 2, 3, 5, 4] is (256, 12, 4, 6) by [3, 0, 2, 1].
 */
export function mergeTransposeAxes(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = shape.map((d, a) => (d > 1 ? a : -1)).filter((a) => a >= 0);
  const reduced = perm.filter((a) => shape[a]! > 1).map((a) => kept.indexOf(a));
  // Runs of the output order whose input axes are consecutive: each run is one merged axis.
  const runs: number[][] = [];
  for (const a of reduced) {
    const last = runs[runs.length - 1];
    if (last && a === last[last.length - 1]! + 1) last.push(a);
    else runs.push([a]);
  }
  const byInput = [...runs].sort((u, v) => u[0]! - v[0]!);
  return {
    shape: byInput.map((run) => count(run.map((a) => shape[kept[a]!]!))),
    perm: runs.map((run) => byInput.indexOf(run)),
  };
}

/**
 * out = x transposed by `perm`, for any rank: the output written in order, the input read along
 * the output's last axis with its stride, an odometer over the other axes (a few ns per element
 * where TF.js 4.22's wasm kernel takes about 100 above rank 4).
 */
function transposeStrided(
  x: Float32Array | Int32Array,
  out: Float32Array | Int32Array,
  shape: readonly number[],
  perm: readonly number[],
): void {
  const r = perm.length;
  const inStrides = shape.map((_, a) => count(shape.slice(a + 1)));
  const dims = perm.map((a) => shape[a]!);
  const strides = perm.map((a) => inStrides[a]!);
  const last = dims[r - 1]!;
  const step = strides[r - 1]!;
  const idx = new Int32Array(r - 1);
  const rows = out.length / last;
  let base = 0;
  let o = 0;
  for (let t = 0; t < rows; t++) {
    for (let j = 0, i = base; j < last; j++, i += step) out[o++] = x[i]!;
    for (let a = r - 2; a >= 0; a--) {
      base += strides[a]!;
      if (++idx[a]! < dims[a]!) break;
      base -= strides[a]! * dims[a]!;
      idx[a] = 0;
    }
  }
}

/**
 * A matrix transpose of at least this many values runs in the WebAssembly `transpose` (where the
 * native kernels are off, in the JavaScript transpose2d from 16384 values on): TF.js's kernel moves
 * one value at a time, 16 x 512 (a recurrent state, flipped) 5.1 us against 0.8.
 */
const NATIVE_TRANSPOSE_MIN = 64;
/** With the native kernels off, matrix transposes of at least this many values run transpose2d. */
const JS_TRANSPOSE_MIN = 16384;

/**
 * [A, R, C] of a merged permutation that transposes the matrices of a batch ((A, R, C) by [0, 2, 1])
 * when each has at least BATCHED_TRANSPOSE_MIN values (a call per matrix costs about 0.1 us).
 */
function batchedMatrixTranspose(merged: { shape: number[]; perm: number[] }): [number, number, number] | undefined {
  const { shape, perm } = merged;
  if (perm.length !== 3 || perm[0] !== 0 || perm[1] !== 2 || perm[2] !== 1) return undefined;
  const [A, R, C] = shape as [number, number, number];
  return R * C >= BATCHED_TRANSPOSE_MIN ? [A, R, C] : undefined;
}

const BATCHED_TRANSPOSE_MIN = 64;

/** [A, B, C, D] of a merged permutation that swaps its two middle axes (see swapMiddleAxes). */
function swappedMiddle(merged: { shape: number[]; perm: number[] }): [number, number, number, number] | undefined {
  const [s, p] = [merged.shape, merged.perm];
  if (p.length === 4 && p[0] === 0 && p[1] === 2 && p[2] === 1 && p[3] === 3) return [s[0]!, s[1]!, s[2]!, s[3]!];
  if (p.length === 3 && p[0] === 1 && p[1] === 0 && p[2] === 2) return [1, s[0]!, s[1]!, s[2]!];
  return undefined;
}

/**
 * Transpose for the wasm backend. TF.js 4.22's wasm kernel is slow in two cases: it walks a matrix
 * transpose (the kind a weight gradient or a transposed weight needs) element by element with
 * strided writes, 4 to 7 ns per element for 512 x 1536 or 16384 x 352 (8.8 and 29 ms), and above
 * rank 4 it takes a generic path of about 100 ns per element (a rank-7 transpose of 73,728 values,
 * as a Block-Term matrix's preparation makes, 7.1 ms). So the permutation is first reduced to its
 * fewest axes (mergeTransposeAxes: unit axes dropped, neighbours that stay neighbours merged); a
 * swap of two blocks of axes (a matrix transpose) of at least NATIVE_TRANSPOSE_MIN values is then
 * the WebAssembly `transpose` (ad hoc, kernel alone: 512 x 1536 0.15 ms, 16384 x 352 2.7 ms; with
 * the native kernels off, from JS_TRANSPOSE_MIN values, a blocked copy on a view of the heap: 0.5
 * and 7.4 ms); a swap of the two middle axes that keeps runs of the last one whole
 * (a TT-GRU's layout between its cores, (16, 16, 1, 32, 11) by [0, 3, 2, 1, 4]) is one WebAssembly
 * pass (swapMiddleAxes: 63 -> 26 us for that one, transpose-speed 2026-12-06T0119);
 * what is still above rank 4 is a strided copy (transposeStrided); and
 * anything else goes to the original kernel on the merged shape (a rank-7 case that merges to rank 4:
 * 7.1 -> 0.3 ms). Small block swaps and other dtypes go to the original kernel.
 */
function transposeKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const perm = (args.attrs as unknown as { perm: number[] }).perm;
    if (x.dtype !== 'float32' && x.dtype !== 'int32') return original(args);
    const merged = mergeTransposeAxes(x.shape, perm);
    const outShape = perm.map((a) => x.shape[a]!);
    const n0 = count(x.shape);
    const matrixKernels =
      merged.perm.length === 2 && n0 >= NATIVE_TRANSPOSE_MIN ? nativeKernels(args.backend as never) : undefined;
    if (merged.perm.length === 2 && (matrixKernels || n0 >= JS_TRANSPOSE_MIN)) {
      const R = merged.shape[0]!;
      const C = merged.shape[1]!;
      const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
      const out = backend.makeOutput(outShape, x.dtype);
      if (matrixKernels) matrixKernels.transpose(offsetOf(backend, x.dataId), offsetOf(backend, out.dataId), R, C);
      // Views taken after makeOutput, which may grow (and so replace) the heap's buffer.
      else
        transpose2d(
          backend.typedArrayFromHeap(x) as Float32Array,
          backend.typedArrayFromHeap(out) as Float32Array,
          R,
          C,
        );
      return out;
    }
    // The two middle axes swapped, runs of the last one kept whole ([0, 2, 1, 3], or [1, 0, 2]
    // without a leading axis): one WebAssembly pass where the original kernel moves one value at a time.
    const swap = swappedMiddle(merged);
    const kernels = swap ? nativeKernels(args.backend as never) : undefined;
    if (swap && kernels) {
      const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
      const out = backend.makeOutput(outShape, x.dtype);
      kernels.swapMiddleAxes(offsetOf(backend, x.dataId), offsetOf(backend, out.dataId), ...swap);
      return out;
    }
    // A batch of matrix transposes ((A, R, C) by [0, 2, 1], e.g. a TT-GRU's (16, 16, 32) per step):
    // the WebAssembly `transpose` per matrix, where the original kernel moves one value at a time
    // (16 x 16 x 32: 9.8 -> about 2.5 us, in cache).
    const batched = batchedMatrixTranspose(merged);
    const kernelsB = batched ? nativeKernels(args.backend as never) : undefined;
    if (batched && kernelsB) {
      const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
      const out = backend.makeOutput(outShape, x.dtype);
      const [A, R, C] = batched;
      const [src, dst] = [offsetOf(backend, x.dataId), offsetOf(backend, out.dataId)];
      for (let a = 0; a < A; a++) kernelsB.transpose(src + 4 * a * R * C, dst + 4 * a * R * C, R, C);
      return out;
    }
    if (merged.perm.length > 4) {
      const backend = args.backend as unknown as WasmBackendLike;
      const out = backend.makeOutput(outShape, x.dtype);
      transposeStrided(
        backend.typedArrayFromHeap(x) as Float32Array,
        backend.typedArrayFromHeap(out) as Float32Array,
        merged.shape,
        merged.perm,
      );
      return out;
    }
    if (merged.perm.length >= 2 && merged.perm.length < perm.length) {
      const out = original({
        ...args,
        inputs: { x: viewed(x, merged.shape) },
        attrs: { ...args.attrs, perm: merged.perm },
      }) as tf.TensorInfo;
      return viewed(out, outShape);
    }
    return original(args);
  };
}

/**
 * x tiled `reps` times along each axis, written into `out` (out.shape[d] = shape[d] * reps[d]): the
 * innermost axis as one fill (an axis of 1) or one set and copies of it, every outer axis as copies
 * of the block already written (copyWithin, a memmove), so no element is addressed one by one.
 */
export function tileInto<A extends Float32Array | Int32Array | Uint8Array>(
  x: A,
  out: A,
  shape: readonly number[],
  reps: readonly number[],
): void {
  const rank = shape.length;
  if (rank === 0) {
    if (out.length > 0) out[0] = x[0]!;
    return;
  }
  const inStride = new Array<number>(rank).fill(1);
  const outStride = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) {
    inStride[d] = inStride[d + 1]! * shape[d + 1]!;
    outStride[d] = outStride[d + 1]! * shape[d + 1]! * reps[d + 1]!;
  }
  const fill = (d: number, xi: number, oi: number): void => {
    const s = shape[d]!;
    if (d === rank - 1) {
      if (s === 1) out.fill(x[xi]!, oi, oi + reps[d]!);
      else {
        out.set(x.subarray(xi, xi + s), oi);
        for (let r = 1; r < reps[d]!; r++) out.copyWithin(oi + r * s, oi, oi + s);
      }
      return;
    }
    for (let i = 0; i < s; i++) fill(d + 1, xi + i * inStride[d]!, oi + i * outStride[d]!);
    const block = s * outStride[d]!;
    for (let r = 1; r < reps[d]!; r++) out.copyWithin(oi + r * block, oi, oi + block);
  };
  fill(0, 0, 0);
}

/**
 * Tile is correct but slow: its C++ kernel computes every output element's source index (about 90 ns
 * per element: a padding mask [16, 55, 1] broadcast to [16, 55, 256] by tf.broadcastTo took 20 ms,
 * 14% of a CP-GRU training epoch on JSB). Ours tiles on views of the heap with fills and block copies
 * (tileInto). float32, int32 and bool; other dtypes go to the original kernel.
 */
function tileKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const reps = (args.attrs as unknown as { reps: number[] }).reps;
    if (!['float32', 'int32', 'bool'].includes(x.dtype) || reps.length !== x.shape.length) return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const out = backend.makeOutput(
      x.shape.map((s, d) => s * reps[d]!),
      x.dtype,
    );
    if (count(out.shape) > 0) {
      // Views taken after makeOutput, which may grow (and so replace) the heap's buffer.
      tileInto(backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out), x.shape, reps);
    }
    return out;
  };
}

/**
 * TF.js's wasm Select (tf.where) is a scalar loop: about 1.5 ns per value (0.36 ms for a JSB batch's
 * padding mask of 16 x 60 x 256). Where the condition is bool and the three operands have one shape
 * (tf.where broadcasts them to one before the kernel) and the values are 32-bit, one WebAssembly
 * pass four values at a time (`select`); anything else goes to the original kernel.
 */
function selectKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const { condition, t, e } = args.inputs as Record<string, tf.TensorInfo>;
    const backend = args.backend as unknown as WasmBackendLike & WasmBackendInternals;
    const kernels = nativeKernels(backend);
    const same = (x: tf.TensorInfo) =>
      x.shape.length === condition!.shape.length && x.shape.every((d, i) => d === condition!.shape[i]);
    if (
      !kernels ||
      condition?.dtype !== 'bool' ||
      !t ||
      !e ||
      t.dtype !== e.dtype ||
      !['float32', 'int32'].includes(t.dtype) ||
      !same(t) ||
      !same(e)
    )
      return original(args);
    const out = backend.makeOutput([...t.shape], t.dtype);
    const at = (x: tf.TensorInfo) => offsetOf(backend, x.dataId);
    kernels.select(at(condition), at(t), at(e), at(out), count(t.shape));
    return out;
  };
}

/** Runs the wasm kernel registered under `name` (the fixed one, once installed). */
function run(
  name: string,
  backend: WasmBackendLike,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`@tensorized/backends: the wasm backend has no ${name} kernel`);
  return kernel.kernelFunc({ inputs, backend: backend as never, attrs }) as tf.TensorInfo;
}

/** x with its last two axes swapped, as a fresh tensor. */
function swapLastTwo(x: tf.TensorInfo, backend: WasmBackendLike): tf.TensorInfo {
  const r = x.shape.length;
  const perm = [...Array(r - 2).keys(), r - 1, r - 2];
  return run('Transpose', backend, { x }, { perm });
}

/**
 * matMul with transposed operands for the wasm backend. TF.js 4.22's wasm kernels with transposeA or
 * transposeB set run about 10x slower than plain ones (measured: the recurrent weight gradient
 * h^T dY took 15 ms per step against 1.4 ms), and the gradient of every matMul asks for them. This
 * kernel transposes explicitly (with the blocked Transpose below) and multiplies plainly, choosing the
 * cheaper orientation for the two products a gradient needs (one 2-D product, no batch):
 * - A^T B for A (n x k), B (n x m): usually A is transposed and B is the right-hand side, which
 *   XNNPACK repacks (about 6.5 ns per element). When B is much wider than A, (B^T A)^T is cheaper: it
 *   repacks the narrow A and transposes B, at the price of transposing the (k x m) result (measured:
 *   TT stage gradients 16384 x 32 by 16384 x 352 take 50 ms against 60; the dense dU = H^T G,
 *   1024 x 512 by 1024 x 1536, 74 ms the usual way against 81).
 * - A B^T for A (n x k), B (m x k): (B A^T)^T when A (a few rows of a recurrent state) is the smaller,
 *   so that the fixed B stays on the left; else A (B^T) with B transposed.
 * Both transposed, or batched products: each transposed operand is transposed explicitly.
 */
function transposedMatMulKernel(original: tf.KernelFunc, name: string): tf.KernelFunc {
  return (args) => {
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const { transposeA = false, transposeB = false } = attrs;
    if (!transposeA && !transposeB) return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    const plain = (x: tf.TensorInfo, y: tf.TensorInfo): tf.TensorInfo =>
      original({
        ...args,
        inputs: { ...args.inputs, a: x, b: y },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    const fresh: tf.TensorInfo[] = [];
    const keep = (t: tf.TensorInfo): tf.TensorInfo => {
      fresh.push(t);
      return t;
    };
    try {
      const twoD = name === 'BatchMatMul' && a.shape.length === 2 && b.shape.length === 2;
      if (twoD && transposeA && !transposeB && a.dtype === 'float32' && b.dtype === 'float32') {
        // A^T B by the WebAssembly kernels, without the transpose and XNNPACK's packing of B: where
        // C has at most TN_DIRECT_MAX values reading B as it is (where A or B is too narrow for
        // panels: TN_PANELS_MIN_ROWS, TN_PANELS_MIN_COLS), up to
        // TN_PACKED_MAX through panels of B (matmulTNPacked; a larger C, carried from block to
        // block of K, is memory-bound). On the threaded build, large products stay with XNNPACK,
        // which spreads them over its threads.
        const [K, M] = a.shape as [number, number];
        const [K2, N] = b.shape as [number, number];
        const internals = args.backend as unknown as WasmBackendInternals & WasmBackendLike;
        const kernels = nativeKernels(internals);
        if (kernels && K === K2 && K > 0 && M > 0 && N > 0 && N % 4 !== 0 && M * N <= TN_DIRECT_MAX) {
          // A narrow B (a Tucker factor's gradient, 12288 x 8 ^T by 12288 x 2): C^T = B^T A by
          // matmulTN where A's columns are a multiple of 4, then C^T transposed (a few values); else
          // B's columns padded with zeros to a multiple of 4 and the padding's columns of C dropped.
          // Either way every value of C is the same sum, in the same order.
          const at = (x: tf.TensorInfo): number => offsetOf(internals, x.dataId);
          const out = internals.makeOutput([M, N], 'float32');
          if (M % 4 === 0) {
            const ct = internals.makeOutput([N, M], 'float32');
            try {
              kernels.matmulTN(at(b), at(a), at(ct), K, N, M);
              kernels.transpose(at(ct), at(out), N, M);
            } finally {
              internals.disposeData(ct.dataId, true);
            }
            return out;
          }
          const N4 = (N + 3) & ~3;
          const [b4, c4] = [padColumns(internals, kernels, b, K, N, N4), internals.makeOutput([M, N4], 'float32')];
          try {
            kernels.matmulTN(at(a), at(b4), at(c4), K, M, N4);
            kernels.copyRows(at(c4), at(out), M, 4 * N, 4 * N4, 4 * N);
          } finally {
            for (const x of [b4, c4]) internals.disposeData(x.dataId, true);
          }
          return out;
        }
        if (
          kernels &&
          K === K2 &&
          K > 0 &&
          M > 0 &&
          N % 4 === 0 &&
          N > 0 &&
          M * N <= TN_PACKED_MAX &&
          !(sharedMemory(internals) && M * K * N > SMALL_MATMUL_MAX_THREADED)
        ) {
          const out = internals.makeOutput([M, N], 'float32');
          if ((M * N > TN_DIRECT_MAX || (N >= TN_PANELS_MIN_COLS && M >= TN_PANELS_MIN_ROWS)) && N >= 8) {
            // C in blocks of columns of about TN_PACKED_C_BLOCK values (at least 8 columns).
            const cols = Math.min(N & ~7, Math.max(8, Math.floor(TN_PACKED_C_BLOCK / M) & ~7));
            const packed = internals.makeOutput([TN_PACKED_BLOCK * cols], 'float32');
            try {
              kernels.matmulTNPacked(
                offsetOf(internals, a.dataId),
                offsetOf(internals, b.dataId),
                offsetOf(internals, out.dataId),
                K,
                M,
                N,
                offsetOf(internals, packed.dataId),
                TN_PACKED_BLOCK,
                cols,
              );
            } finally {
              internals.disposeData(packed.dataId, true);
            }
            return out;
          }
          kernels.matmulTN(
            offsetOf(internals, a.dataId),
            offsetOf(internals, b.dataId),
            offsetOf(internals, out.dataId),
            K,
            M,
            N,
          );
          return out;
        }
      }
      if (twoD && transposeA !== transposeB) {
        let flip: boolean;
        if (transposeA) {
          const [n, k] = a.shape as [number, number];
          const m = b.shape[1]!;
          flip = n * (m - k) > 5 * k * m;
        } else flip = count(a.shape) <= count(b.shape);
        if (flip) {
          // (op(A) op(B)) = (op(B)^T op(A)^T)^T, where op(X)^T is X itself when op transposes.
          const left = transposeB ? b : keep(swapLastTwo(b, backend));
          const right = transposeA ? a : keep(swapLastTwo(a, backend));
          return swapLastTwo(keep(plain(left, right)), backend);
        }
      }
      return plain(transposeA ? keep(swapLastTwo(a, backend)) : a, transposeB ? keep(swapLastTwo(b, backend)) : b);
    } finally {
      for (const t of fresh) backend.disposeData(t.dataId, true);
    }
  };
}

/**
 * Tanh for the wasm backend. TF.js 4.22's wasm Tanh is a scalar loop, several times slower than its
 * (XNNPACK, SIMD) Sigmoid: measured on 16 x 512, about 130 us against 10 to 30. This kernel computes
 * tanh(x) = 2 sigmoid(2x) - 1 with the Sigmoid kernel and two passes on views of the heap (about 45 us;
 * agrees with tanh to 2e-7, tested).
 */
function tanhKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    if (x.dtype !== 'float32') return original(args);
    const backend = args.backend as unknown as WasmBackendLike;
    const doubled = backend.makeOutput([...x.shape], 'float32');
    try {
      const xv = backend.typedArrayFromHeap(x);
      const dv = backend.typedArrayFromHeap(doubled);
      for (let i = 0; i < dv.length; i++) dv[i] = 2 * xv[i]!;
      const out = run('Sigmoid', backend, { x: doubled });
      const ov = backend.typedArrayFromHeap(out);
      for (let i = 0; i < ov.length; i++) ov[i] = 2 * ov[i]! - 1;
      return out;
    } finally {
      backend.disposeData(doubled.dataId, true);
    }
  };
}

/** The most axes TF.js 4.22's wasm (XNNPACK) binary kernels handle; beyond it they return garbage. */
const MAX_XNN_RANK = 6;

/**
 * Binary elementwise kernels (Add, Sub, Multiply, RealDiv, SquaredDifference) for the wasm backend on
 * tensors of more than 6 axes. TF.js 4.22 hands them to XNNPACK, whose setup fails beyond 6 axes, and
 * the kernel returns uninitialised memory without an error (a Tucker core of 4 modes has 8 axes, and
 * so does every optimizer update of it). This kernel merges neighbouring axes that broadcast alike
 * (both full in an operand, or both of size 1) before the call, which leaves 1 or 2 axes for equal
 * shapes or a scalar, and views the result in the full shape.
 */
function rankSafeBinaryKernel(original: tf.KernelFunc, name: string): tf.KernelFunc {
  return (args) => {
    const a = args.inputs.a as tf.TensorInfo;
    const b = args.inputs.b as tf.TensorInfo;
    if (a.shape.length <= MAX_XNN_RANK && b.shape.length <= MAX_XNN_RANK) return original(args);
    const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const r = outShape.length;
    const aligned = [a, b].map((t) => [...Array<number>(r - t.shape.length).fill(1), ...t.shape]);
    const groups: Array<{ out: number; dims: number[]; kinds: string }> = [];
    outShape.forEach((d, i) => {
      if (d === 1) return;
      const kinds = aligned.map((s) => (s[i] === 1 ? '1' : 'f')).join('');
      const last = groups[groups.length - 1];
      if (last && last.kinds === kinds) {
        last.out *= d;
        last.dims = last.dims.map((x, j) => x * aligned[j]![i]!);
      } else groups.push({ out: d, dims: aligned.map((s) => s[i]!), kinds });
    });
    if (groups.length > MAX_XNN_RANK) {
      throw new Error(
        `@tensorized/backends: wasm ${name} of shapes [${a.shape}] and [${b.shape}] needs more than ${MAX_XNN_RANK} axes`,
      );
    }
    const shapeOf = (j: number): number[] => (groups.length ? groups.map((g) => g.dims[j]!) : [1]);
    const out = original({ ...args, inputs: { a: viewed(a, shapeOf(0)), b: viewed(b, shapeOf(1)) } }) as tf.TensorInfo;
    return viewed(out, outShape);
  };
}

/**
 * PadV2 for the wasm backend on tensors of more than 6 axes (the wasm kernel hands them to XNNPACK,
 * which fails the same way): an axis without padding is merged into the axis before it, whose
 * padding then counts whole rows of the merged axes.
 */
function rankSafePadKernel(original: tf.KernelFunc): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { paddings } = args.attrs as unknown as { paddings: Array<[number, number]> };
    if (x.shape.length <= MAX_XNN_RANK) return original(args);
    const dims: number[] = [];
    const pads: Array<[number, number]> = [];
    x.shape.forEach((d, i) => {
      const [before, after] = paddings[i]!;
      if (dims.length && before === 0 && after === 0) {
        const j = dims.length - 1;
        dims[j]! *= d;
        pads[j] = [pads[j]![0] * d, pads[j]![1] * d];
      } else {
        dims.push(d);
        pads.push([before, after]);
      }
    });
    if (dims.length > MAX_XNN_RANK) return original(args);
    const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const out = original({
      ...args,
      inputs: { x: viewed(x, dims) },
      attrs: { ...args.attrs, paddings: pads },
    }) as tf.TensorInfo;
    return viewed(out, outShape);
  };
}

/** Replaces the wasm kernel `name` by `wrap(original)`, keeping its setup. */
function replace(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const config = tf.getKernel(name, 'wasm');
  if (!config) return;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ ...config, kernelFunc: wrap(config.kernelFunc) });
}

/**
 * Replaces kernels of the wasm backend that are wrong (matMulKernel, matrixFusedMatMulKernel,
 * rankSafeBinaryKernel, rankSafePadKernel) or correct but needlessly slow (sliceKernel, identityKernel,
 * transposeKernel, tileKernel, selectKernel, transposedMatMulKernel, smallMatMulKernel, tanhKernel). Importing @tensorized/backends installs them, so they are in
 * place however the wasm backend is then started (useBackend('wasm') or tf.setBackend('wasm')).
 * Idempotent.
 */
export function installWasmKernelFixes(): void {
  if (installed || !tf.getKernel('Slice', 'wasm')) return;
  replace('Slice', sliceKernel);
  replace('Concat', concatKernel);
  replace('Pack', packKernel);
  replace('Identity', identityKernel);
  replace('Transpose', transposeKernel);
  replace('Tile', tileKernel);
  replace('Select', selectKernel);
  replace('BatchMatMul', (k) => transposedMatMulKernel(smallMatMulKernel(matMulKernel(k, 'b')), 'BatchMatMul'));
  replace('_FusedMatMul', (k) =>
    transposedMatMulKernel(smallMatMulKernel(matMulKernel(matrixFusedMatMulKernel(k), 'b')), '_FusedMatMul'),
  );
  replace('Tanh', tanhKernel);
  for (const name of ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference'])
    replace(name, (k) => rankSafeBinaryKernel(k, name));
  replace('PadV2', rankSafePadKernel);
  installed = true;
}

installWasmKernelFixes();
