import * as tf from '@tensorflow/tfjs-core';
import { isNdArray, matMulNd, type NdArray, reshapeNd, sizeOf, transposeNd } from './ndarray.js';
import { recordingGradients } from './bias.js';
import type { Traced } from './trace.js';

/** Storage of a factor: a TF.js tensor (trainable, on any backend) or a float64 NdArray (host). */
export type Core = tf.Tensor | NdArray;

/**
 * What the contractions compute on: stored factors, or shapes whose operations are only recorded
 * (Traced, see trace.ts: how the cost model runs the same code).
 */
export type Computable = Core | Traced;

/**
 * The few primitives every contraction in this package is written with. One implementation serves
 * TF.js tensors (differentiable, every backend: no einsum) and float64 NdArrays (the algorithms).
 */
export interface Ops<T extends Computable> {
  reshape(x: T, shape: readonly number[]): T;
  transpose(x: T, perm: readonly number[]): T;
  matMul(a: T, b: T, transposeA?: boolean, transposeB?: boolean): T;
  /** Column-wise Kronecker product: (p x R), (q x R) -> (pq x R), row index i*q + j. */
  khatriRao(a: T, b: T): T;
  /** a (p x R) with column r multiplied by w[r]. */
  scaleColumns(a: T, w: T): T;
  /** A tensor of ones; `like` is any value of the same computation (the trace needs it). */
  ones(shape: readonly number[], like?: T): T;
  /** The (n x n) identity matrix; `like` as for ones. */
  eye(n: number, like?: T): T;
  /** Kronecker product: (p x r), (q x s) -> (pq x rs), entry [i q + j, a s + b] = A[i, a] B[j, b]. */
  kron(a: T, b: T): T;
}

/**
 * The Khatri-Rao kernels @tensorized/backends registers for cpu and wasm (its FUSED_KERNELS; a test
 * checks the names): where the active backend has both, tfOps.khatriRao is one kernel, and its
 * gradient one more, instead of a broadcast multiply (four launches with its reshapes) and the six
 * of its gradient.
 */
export const KHATRI_RAO_KERNELS = { forward: 'TensorizedKhatriRao', gradient: 'TensorizedKhatriRaoGrad' } as const;

/** Whether the active backend has the Khatri-Rao kernels. */
export function hasKhatriRaoKernels(): boolean {
  const backend = tf.getBackend();
  return (
    tf.getKernel(KHATRI_RAO_KERNELS.forward, backend) !== undefined &&
    tf.getKernel(KHATRI_RAO_KERNELS.gradient, backend) !== undefined
  );
}

const khatriRaoKernel = (a: tf.Tensor, b: tf.Tensor): tf.Tensor => {
  const out = tf.engine().runKernel(KHATRI_RAO_KERNELS.forward, { a, b }, {}) as tf.Tensor | tf.Tensor[];
  return Array.isArray(out) ? out[0]! : out;
};

const khatriRaoWithGradient: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor = tf.customGrad(((
  ...args: Array<tf.Tensor | tf.GradSaveFunc>
) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: khatriRaoKernel(a, b),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) =>
      tf.engine().runKernel(KHATRI_RAO_KERNELS.gradient, { dy, a: sa!, b: sb! }, {}) as tf.Tensor[],
  };
}) as Parameters<typeof tf.customGrad>[0]) as never;

export const tfOps: Ops<tf.Tensor> = {
  reshape: (x, shape) => tf.reshape(x, [...shape]),
  transpose: (x, perm) => tf.transpose(x, [...perm]),
  matMul: (a, b, ta = false, tb = false) => tf.matMul(a, b, ta, tb),
  khatriRao: (a, b) => {
    if (hasKhatriRaoKernels() && a.dtype === 'float32' && b.dtype === 'float32')
      return recordingGradients() ? khatriRaoWithGradient(a, b) : khatriRaoKernel(a, b);
    const [p, r] = a.shape as [number, number];
    const q = b.shape[0]!;
    return tf.reshape(tf.mul(tf.reshape(a, [p, 1, r]), tf.reshape(b, [1, q, r])), [p * q, r]);
  },
  scaleColumns: (a, w) => tf.mul(a, tf.reshape(w, [1, -1])),
  ones: (shape) => tf.ones([...shape]),
  eye: (n) => tf.eye(n),
  kron: (a, b) => {
    const [p, r] = a.shape as [number, number];
    const [q, s] = b.shape as [number, number];
    return tf.reshape(tf.mul(tf.reshape(a, [p, 1, r, 1]), tf.reshape(b, [1, q, 1, s])), [p * q, r * s]);
  },
};

export const f64Ops: Ops<NdArray> = {
  reshape: reshapeNd,
  transpose: transposeNd,
  matMul: matMulNd,
  khatriRao: (a, b) => {
    const [p, r] = a.shape as [number, number];
    const q = b.shape[0]!;
    const out = new Float64Array(p * q * r);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++)
        for (let c = 0; c < r; c++) out[(i * q + j) * r + c] = a.data[i * r + c]! * b.data[j * r + c]!;
    return { shape: [p * q, r], data: out };
  },
  scaleColumns: (a, w) => {
    const r = a.shape[1]!;
    const out = a.data.map((v, i) => v * w.data[i % r]!);
    return { shape: [...a.shape], data: out };
  },
  ones: (shape) => ({ shape: [...shape], data: new Float64Array(sizeOf(shape)).fill(1) }),
  eye: (n) => {
    const data = new Float64Array(n * n);
    for (let i = 0; i < n; i++) data[i * n + i] = 1;
    return { shape: [n, n], data };
  },
  kron: (a, b) => {
    const [p, r] = a.shape as [number, number];
    const [q, s] = b.shape as [number, number];
    const out = new Float64Array(p * q * r * s);
    for (let i = 0; i < p; i++)
      for (let j = 0; j < q; j++)
        for (let x = 0; x < r; x++)
          for (let y = 0; y < s; y++) out[(i * q + j) * r * s + x * s + y] = a.data[i * r + x]! * b.data[j * s + y]!;
    return { shape: [p * q, r * s], data: out };
  },
};

/** The primitives for the storage `x` is in. */
export function opsFor<T extends Core>(x: T): Ops<T> {
  return (isNdArray(x) ? f64Ops : tfOps) as unknown as Ops<T>;
}

/** Runs `fn` inside tf.tidy when it works on TF.js tensors, directly otherwise. */
export function tidyFor<R extends Core>(x: Core, fn: () => R): R {
  return isNdArray(x) ? fn() : (tf.tidy(fn as () => tf.Tensor) as R);
}

/** A host copy (float64) of a tensor or NdArray; reads a tensor synchronously. */
export function toNdArray(x: Core): NdArray {
  if (isNdArray(x)) return x;
  return { shape: [...x.shape], data: Float64Array.from(x.dataSync()) };
}

/** A float32 TF.js tensor from an NdArray (or the tensor itself). */
export function toTensor(x: Core): tf.Tensor {
  if (!isNdArray(x)) return x;
  return tf.tensor(Float32Array.from(x.data), [...x.shape], 'float32');
}
