import { type TtTensor, ttTensor } from '../formats/tt.js';
import { frobeniusNorm, type NdArray, reshapeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { scaleRows, svd, truncateSvd, truncationRank } from '../linalg/svd.js';
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
 * delta = eps / sqrt(d - 1) * ||X||_F so that the errors add up to at most eps ||X||_F. Float64.
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
    const full = svd(unfolding);
    const r = truncationRank(full.s, delta, caps[k]);
    const { u, s, vt } = truncateSvd(full, r);
    cores.push(reshapeNd(u, [rPrev, shape[k]!, r]));
    rest = scaleRows(s, vt);
    rPrev = r;
  }
  cores.push(reshapeNd(rest, [rPrev, shape[d - 1]!, 1]));
  return ttTensor(cores, { checkFinite: false });
}
