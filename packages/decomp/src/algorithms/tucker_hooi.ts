import { modeProducts } from '../contract/mode_products.js';
import { type TuckerTensor, tuckerTensor } from '../formats/tucker.js';
import { tuckerToDense } from '../contract/tucker.js';
import { frobeniusNorm, type NdArray, relativeError as relativeErrorOf, reshapeNd, unfold } from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { checkIterOptions, scaledInput } from './options.js';
import { checkTuckerRanks, leadingLeftVectors, projectCore, type TuckerOptions } from './tucker_hosvd.js';

export interface TuckerHooiOptions extends TuckerOptions {
  /** Default 100. */
  maxIter?: number;
  /** Stop when the relative error improves by less than tol. Default 1e-12. */
  tol?: number;
}

export interface TuckerHooiResult {
  tucker: TuckerTensor<NdArray>;
  iterations: number;
  converged: boolean;
  relativeError: number;
}

function identity(n: number): NdArray {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return { shape: [n, n], data };
}

/**
 * Higher-order orthogonal iteration (De Lathauwer et al. 2000), started from the HOSVD: U_k = leading
 * r_k left singular vectors of X projected on all other factors. Each update can only lower the
 * error, so the result is never worse than the HOSVD of the same ranks. Float64.
 */
export function tuckerHooi(x: Core, options: TuckerHooiOptions): TuckerHooiResult {
  const fn = 'tuckerHooi';
  const { ranks, maxIter = 100, tol = 1e-12 } = options ?? ({} as TuckerHooiOptions);
  const { t, scale } = scaledInput(fn, x);
  checkTuckerRanks(fn, ranks, t.shape);
  checkIterOptions(fn, maxIter, tol);
  const norm = frobeniusNorm(t);
  // With orthonormal factors ||X - X_hat||^2 = ||X||^2 - ||core||^2: cheap, for the iteration only
  // (it loses its digits near zero; the reported error is computed from the reconstruction).
  const errorOf = (core: NdArray): number =>
    norm === 0 ? 0 : Math.sqrt(Math.max(0, norm ** 2 - frobeniusNorm(core) ** 2)) / norm;
  const factors = ranks.map((r, k) => leadingLeftVectors(unfold(t, k), r));
  let core = projectCore(t, factors);
  let error = errorOf(core);
  let iterations = 0;
  let converged = false;
  const flat = reshapeNd(t, [1, t.data.length]);
  while (iterations < maxIter && !converged) {
    iterations++;
    const previous = factors.slice();
    for (let k = 0; k < t.shape.length; k++) {
      const mats = factors.map((f, j) => (j === k ? identity(t.shape[k]!) : f));
      const projShape = mats.map((m) => m.shape[1]!);
      const y = reshapeNd(modeProducts(f64Ops, flat, t.shape, mats), projShape);
      factors[k] = leadingLeftVectors(unfold(y, k), ranks[k]!);
    }
    const nextCore = projectCore(t, factors);
    const next = errorOf(nextCore);
    if (next > error) {
      // Rounding can make a converged sweep a hair worse: keep the better factors.
      factors.splice(0, factors.length, ...previous);
      converged = true;
      break;
    }
    converged = error - next < tol;
    error = next;
    core = nextCore;
  }
  const result = tuckerTensor(core, factors, { checkFinite: false });
  const relativeError = scale === 0 ? 0 : relativeErrorOf(tuckerToDense(result), t);
  for (let i = 0; i < core.data.length; i++) core.data[i]! *= scale;
  return { tucker: result, iterations, converged, relativeError };
}
