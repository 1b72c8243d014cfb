import { type TtTensor, ttTensor } from '../formats/tt.js';
import { frobeniusNorm, type NdArray, reshapeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { gramSvd, scaleRows, svd, truncateSvd, truncationRank } from '../linalg/svd.js';
import { bondMaxRanks, checkEps, inputTensor } from './options.js';

export interface TtSvdOptions {
  /**
   * Relative accuracy: the result satisfies ||X - X_hat||_F <= eps ||X||_F unless `maxRank` cuts
   * deeper. Default 1e-12 (numerically exact).
   */
  eps?: number;
  /** Upper bound on the ranks r_1..r_{d-1}: one number, or one per bond. Default: none. */
  maxRank?: number | readonly number[];
}

/**
 * TT-SVD (Oseledets 2011, Alg. 1): sequential truncated SVDs of the unfoldings, each truncated at
 * delta = eps / sqrt(d - 1) * ||X||_F so that the errors add up to at most eps ||X||_F. Float64. With
 * a rank cap or eps >= 1e-6, each truncated SVD comes from the unfolding's Gram matrix (gramSvd).
 */
export function ttSvd(x: Core, options: TtSvdOptions = {}): TtTensor<NdArray> {
  const { eps = 1e-12, maxRank } = options;
  const t = inputTensor('ttSvd', x);
  checkEps('ttSvd', eps);
  const shape = t.shape;
  const d = shape.length;
  const caps = bondMaxRanks('ttSvd', maxRank, d - 1);
  const delta = d > 1 ? (eps / Math.sqrt(d - 1)) * frobeniusNorm(t) : 0;
  const cores: NdArray[] = [];
  let rest: NdArray = t;
  let rPrev = 1;
  for (let k = 0; k < d - 1; k++) {
    const rows = rPrev * shape[k]!;
    const unfolding = reshapeNd(rest, [rows, rest.data.length / rows]);
    // Where a rank cap or a loose eps truncates, the SVD's leading part comes from the unfolding's
    // small Gram matrix (far cheaper); the full SVD where every singular value counts or the kept
    // ones are too small for the Gram matrix to resolve.
    const cols = unfolding.data.length / rows;
    const truncates = caps[k]! < Math.min(rows, cols) || eps >= 1e-6;
    const fast = truncates ? gramSvd(unfolding, (sv) => truncationRank(sv, delta, caps[k])) : undefined;
    const full = fast ?? svd(unfolding);
    const r = fast ? fast.s.length : truncationRank(full.s, delta, caps[k]);
    const { u, s, vt } = fast ?? truncateSvd(full, r);
    cores.push(reshapeNd(u, [rPrev, shape[k]!, r]));
    rest = scaleRows(s, vt);
    rPrev = r;
  }
  cores.push(reshapeNd(rest, [rPrev, shape[d - 1]!, 1]));
  return ttTensor(cores, { checkFinite: false });
}
