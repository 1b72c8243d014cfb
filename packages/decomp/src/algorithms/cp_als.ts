import { Matrix, pseudoInverse } from 'ml-matrix';
import { khatriRaoAll } from '../contract/cp.js';
import { cpToDense } from '../contract/cp.js';
import { check, fmt } from '../errors.js';
import { type CpTensor, cpTensor } from '../formats/cp.js';
import { svd } from '../linalg/svd.js';
import { matMulNd, type NdArray, relativeError, unfold } from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { Rng } from '../random.js';
import { checkPositiveInt } from '../validate.js';
import { checkIterOptions, scaledInput } from './options.js';

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
  check(init === 'svd' || init === 'random', 'INVALID_ARGUMENT', () => `${fn}: init must be 'svd' or 'random', got ${fmt(init)}`);
  const { t, scale } = scaledInput(fn, x, 2);
  const d = t.shape.length;
  if (scale === 0) {
    // The zero tensor is its own exact decomposition: zero weights, unit columns.
    const factors = t.shape.map((n) => {
      const a = { shape: [n, rank], data: new Float64Array(n * rank) };
      for (let j = 0; j < rank; j++) a.data[(j % n) * rank + j] = 1;
      return a;
    });
    return { cp: cpTensor(factors, { shape: [rank], data: new Float64Array(rank) }, { checkFinite: false }), iterations: 0, converged: true, relativeError: 0 };
  }
  const rng = new Rng(seed);
  const unfoldings = t.shape.map((_, k) => unfold(t, k));
  const factors: NdArray[] = t.shape.map((n, k) => {
    const a = { shape: [n, rank], data: rng.normalArray(n * rank) };
    if (init === 'svd') {
      const { u } = svd(unfoldings[k]!);
      const cols = Math.min(rank, u.shape[1]!);
      for (let i = 0; i < n; i++) for (let j = 0; j < cols; j++) a.data[i * rank + j] = u.data[i * u.shape[1]! + j]!;
    }
    return a;
  });
  let weights: NdArray = { shape: [rank], data: new Float64Array(rank).fill(1) };
  let error = Infinity;
  let iterations = 0;
  let converged = false;
  while (iterations < maxIter && !converged) {
    iterations++;
    for (let k = 0; k < d; k++) {
      const others = factors.filter((_, j) => j !== k);
      const gram = new Matrix(rank, rank).fill(1);
      for (const f of others) {
        const g = matMulNd(f, f, true, false);
        for (let i = 0; i < rank; i++) for (let j = 0; j < rank; j++) gram.set(i, j, gram.get(i, j) * g.data[i * rank + j]!);
      }
      const mttkrp = matMulNd(unfoldings[k]!, khatriRaoAll(f64Ops, others));
      const pinv = pseudoInverse(gram);
      const solved = matMulNd(mttkrp, { shape: [rank, rank], data: Float64Array.from(pinv.to1DArray()) });
      weights = normaliseColumns(solved);
      factors[k] = solved;
    }
    const next = relativeError(cpToDense(cpTensor(factors, weights, { checkFinite: false })), t);
    converged = Math.abs(error - next) < tol || next < 1e-14;
    error = next;
  }
  for (let j = 0; j < rank; j++) weights.data[j]! *= scale;
  return {
    cp: cpTensor(factors, weights, { checkFinite: false }),
    iterations,
    converged,
    relativeError: error,
  };
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
