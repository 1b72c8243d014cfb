import { EigenvalueDecomposition, Matrix, SingularValueDecomposition } from 'ml-matrix';
import { matMulNd, type NdArray } from '../ndarray.js';
import { cholesky, gramShortSide, transpose2d } from './blas.js';

/** Thin SVD A = U diag(s) Vt of an (m x n) array, singular values in decreasing order. */
export interface Svd {
  u: NdArray;
  s: Float64Array;
  vt: NdArray;
}

/** Thin SVD in float64 (ml-matrix's Golub-Kahan; transposes wide matrices internally). */
export function svd(a: NdArray): Svd {
  const [m, n] = a.shape as [number, number];
  const mat = new Matrix(m, n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) mat.set(i, j, a.data[i * n + j]!);
  const dec = new SingularValueDecomposition(mat, { autoTranspose: true });
  const k = Math.min(m, n);
  const U = dec.leftSingularVectors;
  const V = dec.rightSingularVectors;
  const s = Float64Array.from(dec.diagonal.slice(0, k));
  const u = new Float64Array(m * k);
  const vt = new Float64Array(k * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) u[i * k + j] = U.get(i, j);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) vt[i * n + j] = V.get(j, i);
  return { u: { shape: [m, k], data: u }, s, vt: { shape: [k, n], data: vt } };
}

/**
 * The smallest rank r whose discarded tail satisfies sum_{i >= r} s_i^2 <= delta^2, at least 1 and at
 * most maxRank.
 */
export function truncationRank(s: Float64Array, delta: number, maxRank = Infinity): number {
  let tail = 0;
  let r = s.length;
  while (r > 1 && tail + s[r - 1]! ** 2 <= delta * delta) {
    tail += s[r - 1]! ** 2;
    r--;
  }
  return Math.max(1, Math.min(r, maxRank));
}

/** The first r columns of U, r entries of s and r rows of Vt. */
export function truncateSvd({ u, s, vt }: Svd, r: number): Svd {
  const [m, k] = u.shape as [number, number];
  const n = vt.shape[1]!;
  const ur = new Float64Array(m * r);
  for (let i = 0; i < m; i++) for (let j = 0; j < r; j++) ur[i * r + j] = u.data[i * k + j]!;
  return {
    u: { shape: [m, r], data: ur },
    s: s.slice(0, r),
    vt: { shape: [r, n], data: vt.data.slice(0, r * n) },
  };
}

/** diag(s) Vt. */
export function scaleRows(s: Float64Array, vt: NdArray): NdArray {
  const n = vt.shape[1]!;
  return { shape: [...vt.shape], data: vt.data.map((v, i) => v * s[Math.floor(i / n)]!) };
}

/** U diag(s). */
export function scaleCols(u: NdArray, s: Float64Array): NdArray {
  const k = u.shape[1]!;
  return { shape: [...u.shape], data: u.data.map((v, i) => v * s[i % k]!) };
}

/**
 * The leading part of an SVD from the Gram matrix of the shorter side: A A^T (m x m) when m <= n,
 * else A^T A. Its eigenvalues are the squared singular values, so it costs one product of A with
 * itself and an eigensolver of the small side, where a full SVD of a wide matrix costs far more; but
 * it resolves singular values only down to about 1e-8 of the largest (the squares lose half the
 * digits). `rank(s)` picks how many to keep from the singular values; undefined is returned where a
 * kept one is below that resolution, and the caller takes the full SVD.
 */
export function gramSvd(a: NdArray, rank: (s: Float64Array) => number): Svd | undefined {
  const [m, n] = a.shape as [number, number];
  const wide = m <= n;
  const k = wide ? m : n;
  const g = { shape: [k, k], data: gramShortSide(a.data, m, n) };
  const mat = new Matrix(k, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) mat.set(i, j, g.data[i * k + j]!);
  const dec = new EigenvalueDecomposition(mat, { assumeSymmetric: true });
  const order = dec.realEigenvalues.map((e, i) => [e, i] as const).sort((x, y) => y[0] - x[0]);
  const s = Float64Array.from(order, ([e]) => Math.sqrt(Math.max(0, e)));
  const r = rank(s);
  if (!(s[r - 1]! > 1e-7 * s[0]!)) return undefined;
  const vecs = dec.eigenvectorMatrix;
  // The kept eigenvectors: U (m x r) when wide, else V (n x r).
  const e = new Float64Array(k * r);
  for (let i = 0; i < k; i++) for (let j = 0; j < r; j++) e[i * r + j] = vecs.get(i, order[j]![1]);
  const kept = { shape: [k, r], data: e };
  const sr = s.slice(0, r);
  if (wide) {
    // Vt = diag(1/s) U^T A.
    const uta = matMulNd(kept, a, true, false);
    return {
      u: kept,
      s: sr,
      vt: scaleRows(
        Float64Array.from(sr, (x) => 1 / x),
        uta,
      ),
    };
  }
  // U = A V diag(1/s).
  const av = matMulNd(a, kept);
  return {
    u: scaleCols(
      av,
      Float64Array.from(sr, (x) => 1 / x),
    ),
    s: sr,
    vt: { shape: [r, n], data: transpose2d(kept.data, n, r) },
  };
}

const UNIT_ROUNDOFF = 2 ** -53;

/**
 * Whether every singular value of an (m x n) matrix is certainly above delta, so that a truncated
 * SVD at delta keeps all min(m, n) of them: a Cholesky factorisation of the short side's Gram matrix
 * shifted by delta^2 plus a bound on the rounding of the Gram matrix and of the factorisation
 * succeeds only then. It costs the Gram matrix and a Cholesky factorisation, where the SVD it
 * spares costs several times that. False where it cannot be certified (the caller takes the SVD).
 */
export function noSingularValueWithin(a: NdArray, delta: number): boolean {
  const [m, n] = a.shape as [number, number];
  const k = Math.min(m, n);
  const g = gramShortSide(a.data, m, n);
  let trace = 0;
  for (let i = 0; i < k; i++) trace += g[i * k + i]!;
  if (!(trace > 0)) return false;
  const rounding = 4 * (Math.max(m, n) + k * k) * UNIT_ROUNDOFF * trace;
  return cholesky(g, k, delta * delta + rounding) !== undefined;
}
