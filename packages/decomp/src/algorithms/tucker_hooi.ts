import { modeProducts } from '../contract/mode_products.js';
import { type TuckerTensor, tuckerTensor } from '../formats/tucker.js';
import { tuckerToDense } from '../contract/tucker.js';
import {
  frobeniusNorm,
  type NdArray,
  relativeError as relativeErrorOf,
  reshapeNd,
  transposeNd,
  unfold,
} from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { checkIterOptions, scaledInput } from './options.js';
import {
  checkTuckerRanks,
  leadingLeftVectors,
  leadingModeVectors,
  projectCore,
  type TuckerOptions,
} from './tucker_hosvd.js';
import { prod } from '../prod.js';

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
  const factors = ranks.map((r, k) => leadingModeVectors(t, k, r));
  let core = projectCore(t, factors);
  let error = errorOf(core);
  let iterations = 0;
  let converged = false;
  const flat = reshapeNd(t, [1, t.data.length]);
  const D = t.shape.length;
  // Order >= 4: by halves. The projection of X on one half's factors is formed once per half-sweep
  // and serves every mode of the other half, so a sweep makes two passes over X instead of one per
  // mode. The right half works on X transposed to (right modes, left modes), made once, so that its
  // first products (on the left modes, last there) shrink the tensor before the identities apply.
  const h = D >= 4 ? Math.floor(D / 2) : 0;
  const leftSize = prod(t.shape.slice(0, h));
  const flipped = h
    ? reshapeNd(transposeNd(reshapeNd(t, [leftSize, t.data.length / leftSize]), [1, 0]), [1, t.data.length])
    : undefined;
  const updateHalf = (z: NdArray, dims: number[], modes: number[], first: number): void => {
    // z: X projected on the other half, dims: its modes (this half's sizes, then the other's ranks).
    modes.forEach((k, i) => {
      const mats = dims.map((_, j) => (j < modes.length && j !== i ? factors[first + j]! : undefined));
      const y = reshapeNd(
        modeProducts(f64Ops, z, dims, mats),
        mats.map((m, j) => m?.shape[1] ?? dims[j]!),
      );
      factors[k] = leadingLeftVectors(unfold(y, i), ranks[k]!);
    });
  };
  let coreOfSweep: NdArray | undefined;
  while (iterations < maxIter && !converged) {
    iterations++;
    const previous = factors.slice();
    if (h) {
      const left = Array.from({ length: h }, (_, k) => k);
      const right = Array.from({ length: D - h }, (_, k) => h + k);
      const zl = modeProducts(
        f64Ops,
        flat,
        t.shape,
        t.shape.map((_, j) => (j < h ? undefined : factors[j]!)),
      );
      updateHalf(zl, [...t.shape.slice(0, h), ...ranks.slice(h)], left, 0);
      const flippedShape = [...t.shape.slice(h), ...t.shape.slice(0, h)];
      const zr = modeProducts(
        f64Ops,
        flipped!,
        flippedShape,
        flippedShape.map((_, j) => (j < D - h ? undefined : factors[j - (D - h)]!)),
      );
      const zrDims = [...t.shape.slice(h), ...ranks.slice(0, h)];
      updateHalf(zr, zrDims, right, h);
      // The core from zr (no third pass over X): project its right modes, then put the left ranks first.
      const flippedCore = modeProducts(
        f64Ops,
        zr,
        zrDims,
        zrDims.map((_, j) => (j < D - h ? factors[h + j]! : undefined)),
      );
      const rightRanks = prod(ranks.slice(h));
      coreOfSweep = reshapeNd(
        transposeNd(reshapeNd(flippedCore, [rightRanks, flippedCore.data.length / rightRanks]), [1, 0]),
        [...ranks],
      );
    } else {
      for (let k = 0; k < t.shape.length; k++) {
        const mats = factors.map((f, j) => (j === k ? undefined : f));
        const projShape = mats.map((m, j) => m?.shape[1] ?? t.shape[j]!);
        const y = reshapeNd(modeProducts(f64Ops, flat, t.shape, mats), projShape);
        factors[k] = leadingLeftVectors(unfold(y, k), ranks[k]!);
      }
    }
    const nextCore = coreOfSweep ?? projectCore(t, factors);
    coreOfSweep = undefined;
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
