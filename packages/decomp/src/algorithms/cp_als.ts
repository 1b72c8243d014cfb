import { Matrix, pseudoInverse } from 'ml-matrix';
import { khatriRaoAll } from '../contract/cp.js';
import { cpToDense } from '../contract/cp.js';
import { check, fmt } from '../errors.js';
import { type CpTensor, cpTensor } from '../formats/cp.js';
import { unfoldingSpectrum } from '../linalg/gram.js';
import { matMulNd, type NdArray, relativeError, unfold } from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { Rng } from '../random.js';
import { checkPositiveInt } from '../validate.js';
import { checkIterOptions, scaledInput } from './options.js';
import { prod } from '../prod.js';

export interface CpAlsOptions {
  rank: number;
  /** Default 500. */
  maxIter?: number;
  /** Stop when the relative error changes by less than tol between sweeps. Default 1e-10. */
  tol?: number;
  /** 'svd' (default): leading left singular vectors of each unfolding; 'random': Gaussian. */
  init?: 'svd' | 'random';
  /** Seed of the random initialisation (and of columns 'svd' cannot fill). Default 0. */
  seed?: number;
}

export interface CpAlsResult {
  cp: CpTensor<NdArray>;
  iterations: number;
  /** False when maxIter was reached first: a flag, not an error. */
  converged: boolean;
  /** ||X - X_hat||_F / ||X||_F of the returned factors. */
  relativeError: number;
}

/**
 * CP decomposition by alternating least squares: each factor in turn is the least-squares solution
 * A_k = X_(k) KR(others) (Hadamard of the others' Grams)^+, then its columns are normalised into
 * the weights. Float64.
 */
export function cpAls(x: Core, options: CpAlsOptions): CpAlsResult {
  const fn = 'cpAls';
  const { rank, maxIter = 500, tol = 1e-10, init = 'svd', seed = 0 } = options ?? ({} as CpAlsOptions);
  checkPositiveInt(fn, 'rank', rank);
  checkIterOptions(fn, maxIter, tol);
  check(
    init === 'svd' || init === 'random',
    'INVALID_ARGUMENT',
    () => `${fn}: init must be 'svd' or 'random', got ${fmt(init)}`,
  );
  const { t, scale } = scaledInput(fn, x, 2);
  const d = t.shape.length;
  if (scale === 0) {
    // The zero tensor is its own exact decomposition: zero weights, unit columns.
    const factors = t.shape.map((n) => {
      const a = { shape: [n, rank], data: new Float64Array(n * rank) };
      for (let j = 0; j < rank; j++) a.data[(j % n) * rank + j] = 1;
      return a;
    });
    return {
      cp: cpTensor(factors, { shape: [rank], data: new Float64Array(rank) }, { checkFinite: false }),
      iterations: 0,
      converged: true,
      relativeError: 0,
    };
  }
  const rng = new Rng(seed);
  // The unfoldings are kept only for the MTTKRP of order < 4 (by halves otherwise).
  const unfoldings = d < 4 ? t.shape.map((_, k) => unfold(t, k)) : [];
  const factors: NdArray[] = t.shape.map((n, k) => {
    const a = { shape: [n, rank], data: rng.normalArray(n * rank) };
    if (init === 'svd') {
      // Leading left singular vectors of the unfolding, from its small Gram matrix (n_k x n_k).
      const u = unfoldingSpectrum(t, k).vectors;
      const cols = Math.min(rank, u.shape[1]!);
      for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) a.data[i * rank + j] = u.data[i * u.shape[1]! + j]!;
    }
    return a;
  });
  let weights: NdArray = { shape: [rank], data: new Float64Array(rank).fill(1) };
  // MTTKRP (X_(k) times the Khatri-Rao product of the other factors) for every mode. Order >= 4: by
  // halves, X seen as a (left modes x right modes) matrix: one product with the right half's
  // Khatri-Rao serves every left mode (and the other way round), so a sweep costs two passes over X
  // instead of one per mode (the Khatri-Rao product of all others is never formed).
  const h = d >= 4 ? Math.floor(d / 2) : 0;
  const sizeOf = (modes: readonly number[]) => prod(modes);
  const asMatrix: NdArray | undefined = h
    ? { shape: [sizeOf(t.shape.slice(0, h)), sizeOf(t.shape.slice(h))], data: t.data }
    : undefined;
  let half: NdArray | undefined;
  const mttkrp = (k: number): NdArray => {
    if (!asMatrix)
      return matMulNd(
        unfoldings[k]!,
        khatriRaoAll(
          f64Ops,
          factors.filter((_, j) => j !== k),
        ),
      );
    if (k === 0) half = matMulNd(asMatrix, khatriRaoAll(f64Ops, factors.slice(h)));
    if (k === h) half = matMulNd(asMatrix, khatriRaoAll(f64Ops, factors.slice(0, h)), true, false);
    return k < h
      ? contractOthers(half!, factors.slice(0, h), k, rank)
      : contractOthers(half!, factors.slice(h), k - h, rank);
  };
  const norm2 = t.data.reduce((a, v) => a + v * v, 0);
  let error = Infinity;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIter && !converged) {
    iterations++;
    let last: NdArray | undefined;
    for (let k = 0; k < d; k++) {
      const others = factors.filter((_, j) => j !== k);
      const gram = new Matrix(rank, rank).fill(1);
      for (const f of others) {
        const g = matMulNd(f, f, true, false);
        for (let i = 0; i < rank; i++)
          for (let j = 0; j < rank; j++) gram.set(i, j, gram.get(i, j) * g.data[i * rank + j]!);
      }
      const m = mttkrp(k);
      const pinv = pseudoInverse(gram);
      const solved = matMulNd(m, { shape: [rank, rank], data: Float64Array.from(pinv.to1DArray()) });
      weights = normaliseColumns(solved);
      factors[k] = solved;
      if (k === d - 1) last = m;
    }
    // ||X - X^||^2 = ||X||^2 - 2 <X, X^> + ||X^||^2, from the last mode's MTTKRP and the Grams: cheap,
    // for the convergence test (the reported error is computed from the rebuilt tensor at the end).
    const fl = factors[d - 1]!;
    let inner = 0;
    for (let i = 0; i < fl.shape[0]!; i++)
      for (let r = 0; r < rank; r++) inner += weights.data[r]! * fl.data[i * rank + r]! * last!.data[i * rank + r]!;
    const had = new Float64Array(rank * rank).fill(1);
    for (const f of factors) {
      const g = matMulNd(f, f, true, false);
      for (let i = 0; i < rank * rank; i++) had[i]! *= g.data[i]!;
    }
    let self = 0;
    for (let i = 0; i < rank; i++)
      for (let j = 0; j < rank; j++) self += weights.data[i]! * weights.data[j]! * had[i * rank + j]!;
    const next = Math.sqrt(Math.max(0, norm2 - 2 * inner + self) / norm2);
    converged = Math.abs(error - next) < tol || next < 1e-7;
    error = next;
  }
  // The reported error from the rebuilt tensor; by halves for order >= 4 (left Khatri-Rao x diag(w)
  // x right Khatri-Rao^T), which never forms the (size x R) Khatri-Rao product of all modes.
  const rebuilt = asMatrix
    ? {
        shape: t.shape,
        data: matMulNd(
          scaleColumns(khatriRaoAll(f64Ops, factors.slice(0, h)), weights),
          khatriRaoAll(f64Ops, factors.slice(h)),
          false,
          true,
        ).data,
      }
    : cpToDense(cpTensor(factors, weights, { checkFinite: false }));
  error = relativeError(rebuilt, t);
  for (let j = 0; j < rank; j++) weights.data[j]! *= scale;
  return {
    cp: cpTensor(factors, weights, { checkFinite: false }),
    iterations,
    converged,
    relativeError: error,
  };
}

/**
 * For T (prod s_j x R) over modes of sizes s_0..s_{m-1} (first slowest) and factors F_j (s_j x R):
 * out[i_k, r] = sum over the other indices of T[i, r] prod_{j != k} F_j[i_j, r].
 */
function contractOthers(t: NdArray, factors: readonly NdArray[], k: number, rank: number): NdArray {
  const sizes = factors.map((f) => f.shape[0]!);
  const out = new Float64Array(sizes[k]! * rank);
  const idx = new Array<number>(sizes.length).fill(0);
  const row = new Float64Array(rank);
  for (let p = 0; p < t.shape[0]!; p++) {
    row.fill(1);
    for (let j = 0; j < sizes.length; j++) {
      if (j === k) continue;
      const f = factors[j]!.data;
      const base = idx[j]! * rank;
      for (let r = 0; r < rank; r++) row[r]! *= f[base + r]!;
    }
    const o = idx[k]! * rank;
    const tp = p * rank;
    for (let r = 0; r < rank; r++) out[o + r]! += t.data[tp + r]! * row[r]!;
    for (let j = sizes.length - 1; j >= 0; j--) {
      if (++idx[j]! < sizes[j]!) break;
      idx[j] = 0;
    }
  }
  return { shape: [sizes[k]!, rank], data: out };
}

/** a with column r multiplied by w_r (a copy). */
function scaleColumns(a: NdArray, w: NdArray): NdArray {
  const r = a.shape[1]!;
  return { shape: a.shape, data: a.data.map((v, i) => v * w.data[i % r]!) };
}

/** Scales each column of a to unit norm in place and returns the norms (zero columns keep norm 1). */
function normaliseColumns(a: NdArray): NdArray {
  const [n, r] = a.shape as [number, number];
  const norms = new Float64Array(r);
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) norms[j]! += a.data[i * r + j]! ** 2;
  for (let j = 0; j < r; j++) norms[j] = Math.sqrt(norms[j]!) || 1;
  for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) a.data[i * r + j]! /= norms[j]!;
  return { shape: [r], data: norms };
}
