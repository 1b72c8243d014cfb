import { check, fmt } from './errors.js';
import { gemmNT, gramRows, transpose2d } from './linalg/blas.js';

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

/**
 * Permutes the axes of `x`: result axis k is input axis perm[k]. Input axes that stay neighbours are
 * merged first, so that the common cases become (batched) 2-D transposes in tiles; otherwise the last
 * output axis runs as an inner loop at a fixed input stride.
 */
export function transposeNd(x: NdArray, perm: readonly number[]): NdArray {
  const outShape = perm.map((p) => x.shape[p]!);
  // Drop size-1 axes, then merge runs of output axes that are consecutive input axes.
  const kept = x.shape.map((_, a) => a).filter((a) => x.shape[a]! > 1);
  const pos = new Map(kept.map((a, i) => [a, i]));
  const groups: number[][] = [];
  for (const p of perm) {
    const q = pos.get(p);
    if (q === undefined) continue;
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] === q - 1) last.push(q);
    else groups.push([q]);
  }
  const order = groups.map((g) => g[0]!).sort((a, b) => a - b);
  const sizeOf = (g: number[]) => g.reduce((s, q) => s * x.shape[kept[q]!]!, 1);
  const byFirst = new Map(groups.map((g) => [g[0]!, sizeOf(g)]));
  const mergedIn = order.map((q) => byFirst.get(q)!);
  const mergedPerm = groups.map((g) => order.indexOf(g[0]!));
  const rank = mergedPerm.length;
  if (mergedPerm.every((p, i) => p === i)) return { shape: outShape, data: Float64Array.from(x.data) };
  if (rank === 2) return { shape: outShape, data: transpose2d(x.data, mergedIn[0]!, mergedIn[1]!) };
  if (rank === 3 && mergedPerm[0] === 0 && mergedPerm[1] === 2 && mergedPerm[2] === 1) {
    const [b, r, c] = mergedIn as [number, number, number];
    const out = new Float64Array(x.data.length);
    for (let i = 0; i < b; i++) {
      out.set(transpose2d(x.data.subarray(i * r * c, (i + 1) * r * c), r, c), i * r * c);
    }
    return { shape: outShape, data: out };
  }
  const inStrides = stridesOf(mergedIn);
  const mergedOut = mergedPerm.map((p) => mergedIn[p]!);
  const stride = mergedPerm.map((p) => inStrides[p]!);
  const out = new Float64Array(x.data.length);
  const inner = mergedOut[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  const data = x.data;
  for (let o = 0; o < out.length; o += inner) {
    for (let j = 0, s = src; j < inner; j++, s += innerStride) out[o + j] = data[s]!;
    // Odometer over the outer output axes, tracking the matching input offset.
    for (let k = rank - 2; k >= 0; k--) {
      idx[k]!++;
      src += stride[k]!;
      if (idx[k]! < mergedOut[k]!) break;
      src -= stride[k]! * mergedOut[k]!;
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
  if (transposeB && !transposeA && a.data === b.data && ar === br) {
    return { shape: [m, n], data: gramRows(a.data, ar, ac) };
  }
  const A = transposeA ? transpose2d(a.data, ar, ac) : a.data;
  const Bt = transposeB ? b.data : transpose2d(b.data, br, bc);
  const C = gemmNT(A, Bt, m, k, n);
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
