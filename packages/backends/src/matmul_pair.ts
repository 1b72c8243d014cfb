import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './fused_kernels.js';

/** Attributes of TensorizedMatMulPair: the output's shape (as many values as the second product has). */
export interface MatMulPairAttrs {
  outShape: number[];
  /**
   * x on the left of the first product: X (n x K1) times first (K1 x P), then seen as (rows x K2)
   * and times second (two plain factors, x M_1 M_2). Default false: first (P x K1) times X (K1 x n).
   */
  xLeft?: boolean;
  /**
   * second on the left of the second product: second (N2 x K2) times T = first X seen as
   * (K2 x cols), so y = second T; with `keep`, T is returned too, first (a chain of two left
   * products, M_2 (M_1 X), whose middle a backward pass keeps). Not with xLeft or bias.
   */
  secondLeft?: boolean;
  /** Also return T = first X (before y): the outputs are [T, y]. */
  keep?: boolean;
}

/** What the kernel uses of a backend (cpu and wasm both have it). */
interface BackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

/** The wasm backend's views of its heap. */
interface WasmLike {
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

const count = (shape: readonly number[]): number => shape.reduce((p, q) => p * q, 1);

/** The same data seen with another shape of the same size (what the Reshape kernel returns). */
const viewed = (x: tf.TensorInfo, shape: number[]): tf.TensorInfo => ({ dataId: x.dataId, shape, dtype: x.dtype });

/**
 * TensorizedMatMulPair: two products of which the second multiplies the first's result seen in
 * another shape, y = (first X) viewed as (rows x K2), times second, viewed in `outShape`, where X is
 * x viewed as (K1 x n); inputs `first` (P x K1), `x` (K1 n values in any shape), `second` (K2 x N2),
 * with P n = rows K2, and an optional `bias` (rows N2 values, any shape) added to the result. With
 * `xLeft`, the first product is X first instead, X = x viewed as (n x K1) and first (K1 x P). These
 * are the batch-1 products of a TT-matrix contracted in two merged cores (G_1^T X, then times G_2)
 * and of two plain factors (CP's and Tucker's x M_1 M_2, xLeft), which @tensorized/decomp's
 * PreparedMatmul.apply runs as this one kernel where the active backend has it and no gradient is
 * being recorded. Each product is the backend's own BatchMatMul kernel (on
 * wasm, with this package's fixes: for small ones the WebAssembly SIMD matmul), and the bias its Add,
 * called directly on views of the data: the same sums as tf.matMul and tf.add, bit for bit, in one
 * launch of the engine instead of five (three reshapes and two products; six with the Add). At batch
 * 1 the launches are most of a product's time (a TT-GRU's generated frame: see the backends README).
 * With `secondLeft` and `keep`, a chain of two left products M_2 (M_1 X) and its middle M_1 X: the
 * per-step products of a recurrence through two plain factors, flipped (@tensorized/cells).
 */
function matMulPair(backendName: string): tf.KernelFunc {
  const name = FUSED_KERNELS.matMulPair;
  return (args) => {
    const { first, x, second, bias } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { outShape, xLeft = false, secondLeft = false, keep = false } = args.attrs as unknown as MatMulPairAttrs;
    for (const [attr, v] of Object.entries({ xLeft, secondLeft, keep }))
      if (typeof v !== 'boolean') throw new TypeError(`${name}: attribute '${attr}' must be a boolean, got ${v}`);
    if (secondLeft && (xLeft || bias))
      throw new RangeError(`${name}: attribute 'secondLeft' goes with neither 'xLeft' nor a bias`);
    if (!first || !x || !second) throw new Error(`${name}: inputs 'first', 'x' and 'second' are required`);
    for (const [input, t] of [
      ['first', first],
      ['x', x],
      ['second', second],
      ['bias', bias],
    ] as const) {
      if (t && t.dtype !== 'float32') throw new TypeError(`${name}: input '${input}' must be float32, got ${t.dtype}`);
    }
    if (first.shape.length !== 2 || second.shape.length !== 2)
      throw new RangeError(
        `${name}: 'first' and 'second' must be matrices, got shapes [${first.shape.join(', ')}] and [${second.shape.join(', ')}]`,
      );
    const [P, K1] = (xLeft ? [first.shape[1], first.shape[0]] : first.shape) as [number, number];
    // secondLeft: second is (N2 x K2) and multiplies first X seen as (K2 x rows) from the left.
    const [K2, N2] = (secondLeft ? [second.shape[1], second.shape[0]] : second.shape) as [number, number];
    const n = count(x.shape) / K1;
    const rows = (P * n) / K2;
    if (!Number.isInteger(n) || n === 0 || !Number.isInteger(rows))
      throw new RangeError(
        `${name}: x must hold a positive multiple of ${K1} values (first's ${xLeft ? 'rows' : 'columns'}) and first x x a multiple of ${K2} (second's rows), got x of shape [${x.shape.join(', ')}]`,
      );
    if (!Array.isArray(outShape) || count(outShape) !== rows * N2)
      throw new RangeError(`${name}: outShape must hold ${rows * N2} values, got ${JSON.stringify(outShape)}`);
    if (bias && count(bias.shape) !== rows * N2)
      throw new RangeError(
        `${name}: bias must hold ${rows * N2} values (the output's), got shape [${bias.shape.join(', ')}]`,
      );
    const kernel = (k: string): tf.KernelConfig => {
      const config = tf.getKernel(k, backendName);
      if (!config) throw new Error(`${name}: the ${backendName} backend has no ${k} kernel`);
      return config;
    };
    const matMul = kernel('BatchMatMul');
    const product = (a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo =>
      matMul.kernelFunc({
        inputs: { a, b },
        backend: args.backend,
        attrs: { transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    const dispose = (t: tf.TensorInfo): void =>
      void (args.backend as unknown as BackendLike).disposeData(t.dataId, true);
    const t = xLeft ? product(viewed(x, [n, K1]), first) : product(first, viewed(x, [K1, n]));
    let y: tf.TensorInfo;
    try {
      y = secondLeft ? product(second, viewed(t, [K2, rows])) : product(viewed(t, [rows, K2]), second);
    } catch (e) {
      dispose(t);
      throw e;
    }
    if (keep) return [t, viewed(y, [...outShape])];
    dispose(t);
    if (!bias) return viewed(y, [...outShape]);
    if (backendName === 'wasm') {
      // In place, on the fresh product: a float32 add computed in float64 and rounded is the float32
      // sum, so the same values as the Add kernel, without XNNPACK's hand-off of 1536 values to its
      // other thread on the threaded build (which costs more than the add).
      const backend = args.backend as unknown as WasmLike;
      const yv = backend.typedArrayFromHeap(y);
      const bv = backend.typedArrayFromHeap(bias);
      for (let i = 0; i < yv.length; i++) yv[i] = yv[i]! + bv[i]!;
      return viewed(y, [...outShape]);
    }
    // The bias added as one flat vector: an elementwise add, the same sums as tf.add(y, bias).
    const flat = [rows * N2];
    try {
      const sum = kernel('Add').kernelFunc({
        inputs: { a: viewed(y, flat), b: viewed(bias, flat) },
        backend: args.backend,
        attrs: {},
      }) as tf.TensorInfo;
      return viewed(sum, [...outShape]);
    } finally {
      dispose(y);
    }
  };
}

/** Registers TensorizedMatMulPair for cpu and wasm (importing @tensorized/backends does it). Idempotent. */
export function installMatMulPair(): void {
  for (const backendName of ['cpu', 'wasm']) {
    if (tf.getKernel(FUSED_KERNELS.matMulPair, backendName)) continue;
    tf.registerKernel({ kernelName: FUSED_KERNELS.matMulPair, backendName, kernelFunc: matMulPair(backendName) });
  }
}

installMatMulPair();
