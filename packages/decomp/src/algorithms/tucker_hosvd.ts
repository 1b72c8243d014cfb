import { modeProducts } from '../contract/mode_products.js';
import { check, fmt } from '../errors.js';
import { type TuckerTensor, tuckerTensor } from '../formats/tucker.js';
import { unfoldingSpectrum } from '../linalg/gram.js';
import { gramSvd, svd, truncateSvd } from '../linalg/svd.js';
import { type NdArray, reshapeNd, unfold } from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { checkPositiveInts } from '../validate.js';
import { inputTensor } from './options.js';

export interface TuckerOptions {
  /** Multilinear ranks r_1..r_d with 1 <= r_k <= n_k. */
  ranks: readonly number[];
}

/** Checks ranks against the tensor's shape. */
export function checkTuckerRanks(fn: string, ranks: readonly number[], shape: readonly number[]): void {
  checkPositiveInts(fn, 'ranks', ranks);
  check(
    ranks.length === shape.length,
    'INVALID_RANK',
    () => `${fn}: ranks must have one entry per mode (${shape.length}), got ${fmt(ranks)}`,
  );
  const others = (k: number): number => shape.reduce((a, b, i) => (i === k ? a : a * b), 1);
  const bad = ranks.findIndex((r, k) => r > shape[k]! || r > others(k));
  check(
    bad < 0,
    'INVALID_RANK',
    () =>
      `${fn}: ranks[${bad}] = ${ranks[bad]} is impossible for mode size ${shape[bad]} of shape ${fmt(shape)} (need r_k <= n_k and r_k <= product of the other modes)`,
  );
}

/** The core X x_1 U_1^T ... x_d U_d^T. */
export function projectCore(t: NdArray, factors: readonly NdArray[]): NdArray {
  const ranks = factors.map((f) => f.shape[1]!);
  return reshapeNd(modeProducts(f64Ops, reshapeNd(t, [1, t.data.length]), t.shape, factors), ranks);
}

/**
 * Leading r left singular vectors of a matrix: from its Gram matrix (gramSvd) where the r-th
 * singular value is resolved there, else from the full SVD. Where r is the number of rows, every
 * left singular vector is kept and any orthonormal basis spans the same space: the Gram matrix's
 * eigenvectors, whatever their accuracy.
 */
export function leadingLeftVectors(a: NdArray, r: number): NdArray {
  const [m, n] = a.shape as [number, number];
  if (r === m) return unfoldingSpectrum(a, 0).vectors;
  if (r < Math.min(m, n)) {
    const fast = gramSvd(a, () => r);
    if (fast) return fast.u;
  }
  return truncateSvd(svd(a), r).u;
}

/**
 * Leading r left singular vectors of the mode-k unfolding of t, from its Gram matrix accumulated in
 * place (no unfolding is formed), or from the SVD of the unfolding where the r-th singular value is
 * below the Gram matrix's resolution (1e-7 of the largest). With r = n_k all of them are kept, and
 * the Gram matrix's orthonormal eigenvectors serve whatever the spectrum.
 */
export function leadingModeVectors(t: NdArray, k: number, r: number): NdArray {
  const n = t.shape[k]!;
  const { energies, vectors } = unfoldingSpectrum(t, k);
  if (r === n) return vectors;
  if (energies[r - 1]! > 1e-14 * energies[0]!) {
    const out = new Float64Array(n * r);
    for (let i = 0; i < n; i++) for (let j = 0; j < r; j++) out[i * r + j] = vectors.data[i * n + j]!;
    return { shape: [n, r], data: out };
  }
  return leadingLeftVectors(unfold(t, k), r);
}

/**
 * Truncated higher-order SVD (De Lathauwer et al. 2000): U_k = leading r_k left singular vectors of
 * the mode-k unfolding, core = X x_k U_k^T. Float64.
 */
export function tuckerHosvd(x: Core, options: TuckerOptions): TuckerTensor<NdArray> {
  const t = inputTensor('tuckerHosvd', x);
  checkTuckerRanks('tuckerHosvd', options?.ranks, t.shape);
  const factors = options.ranks.map((r, k) => leadingModeVectors(t, k, r));
  return tuckerTensor(projectCore(t, factors), factors, { checkFinite: false });
}
