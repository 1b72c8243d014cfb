import { check, fmt } from './errors.js';

/**
 * A dense float64 tensor in row-major order: the storage of the decomposition algorithms, which run
 * on the CPU in double precision (TF.js has no float64 and no SVD).
 */
export interface NdArray {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** Wraps `data` (copied into a Float64Array when it is not one) as an NdArray of `shape`. */
export function ndarray(data: ArrayLike<number>, shape: readonly number[]): NdArray {
  check(
    shape.every((s) => Number.isInteger(s) && s > 0),
    'SHAPE_MISMATCH',
    () => `ndarray: shape must hold positive integers, got ${fmt(shape)}`,
  );
  check(
    data.length === sizeOf(shape),
    'SHAPE_MISMATCH',
    () => `ndarray: data has ${data.length} values but shape ${fmt(shape)} needs ${sizeOf(shape)}`,
  );
  return { shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

export function isNdArray(x: unknown): x is NdArray {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as NdArray).data instanceof Float64Array &&
    Array.isArray((x as NdArray).shape)
  );
}

export function reshapeNd(x: NdArray, shape: readonly number[]): NdArray {
  return ndarray(x.data, shape);
}

/** Permutes the axes of `x`: result axis k is input axis perm[k]. */
export function transposeNd(x: NdArray, perm: readonly number[]): NdArray {
  const rank = x.shape.length;
  const outShape = perm.map((p) => x.shape[p]!);
  const inStrides = stridesOf(x.shape);
  const stride = perm.map((p) => inStrides[p]!);
  const out = new Float64Array(x.data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = x.data[src]!;
    // Odometer over the output index, tracking the matching input offset.
    for (let k = rank - 1; k >= 0; k--) {
      idx[k]!++;
      src += stride[k]!;
      if (idx[k]! < outShape[k]!) break;
      src -= stride[k]! * outShape[k]!;
      idx[k] = 0;
    }
  }
  return { shape: outShape, data: out };
}

export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k]!;
  }
  return strides;
}

/** C = op(A) op(B) for 2-D arrays, op being an optional transpose. */
export function matMulNd(a: NdArray, b: NdArray, transposeA = false, transposeB = false): NdArray {
  const [ar, ac] = a.shape as [number, number];
  const [br, bc] = b.shape as [number, number];
  const m = transposeA ? ac : ar;
  const k = transposeA ? ar : ac;
  const k2 = transposeB ? bc : br;
  const n = transposeB ? br : bc;
  check(
    a.shape.length === 2 && b.shape.length === 2 && k === k2,
    'SHAPE_MISMATCH',
    () => `matMulNd: inner sizes differ: ${fmt(a.shape)} x ${fmt(b.shape)}`,
  );
  const A = transposeA ? transposeNd(a, [1, 0]).data : a.data;
  const B = transposeB ? transposeNd(b, [1, 0]).data : b.data;
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const ci = i * n;
    for (let p = 0; p < k; p++) {
      const aip = A[i * k + p]!;
      if (aip === 0) continue;
      const bp = p * n;
      for (let j = 0; j < n; j++) C[ci + j]! += aip * B[bp + j]!;
    }
  }
  return { shape: [m, n], data: C };
}

export function frobeniusNorm(x: NdArray): number {
  let s = 0;
  for (const v of x.data) s += v * v;
  return Math.sqrt(s);
}

/**
 * ||a - b||_F / ||b||_F, with both scaled by b's largest magnitude first, so that the squares neither
 * overflow nor underflow (data near 1e200 or 1e-200). 0 when both are zero.
 */
export function relativeError(approx: NdArray, exact: NdArray): number {
  check(
    approx.data.length === exact.data.length,
    'SHAPE_MISMATCH',
    () => `relativeError: sizes differ: ${fmt(approx.shape)} vs ${fmt(exact.shape)}`,
  );
  let scale = 0;
  for (const v of exact.data) scale = Math.max(scale, Math.abs(v));
  if (scale === 0) return approx.data.every((v) => v === 0) ? 0 : Infinity;
  let num = 0;
  let den = 0;
  for (let i = 0; i < exact.data.length; i++) {
    const d = approx.data[i]! / scale - exact.data[i]! / scale;
    num += d * d;
    den += (exact.data[i]! / scale) ** 2;
  }
  return Math.sqrt(num / den);
}

/** Mode-k unfolding (n_k x prod of the other modes, in their order, last fastest). */
export function unfold(x: NdArray, mode: number): NdArray {
  const perm = [mode, ...x.shape.map((_, i) => i).filter((i) => i !== mode)];
  const t = transposeNd(x, perm);
  return reshapeNd(t, [x.shape[mode]!, x.data.length / x.shape[mode]!]);
}
