import { type TtTensor, ttTensor } from '../formats/tt.js';
import { frobeniusNorm, type NdArray, reshapeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { gramSvd, noSingularValueWithin, scaleRows, svd, truncateSvd, truncationRank } from '../linalg/svd.js';
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
 * a rank cap or eps >= 1e-6, each truncated SVD comes from the unfolding's Gram matrix (gramSvd);
 * where no singular value of an unfolding is within the truncation, no SVD is needed (see
 * `untruncated`): the result is then exact in a mixed-canonical gauge instead of the SVD's.
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
    // small Gram matrix (far cheaper). Where nothing is truncated (certified on the Gram matrix), the
    // SVD is not needed (untruncated). The full SVD where the kept singular values are too small for
    // the Gram matrix to resolve, or where a small eps truncates.
    const cols = unfolding.data.length / rows;
    const truncates = caps[k]! < Math.min(rows, cols) || eps >= 1e-6;
    if (!truncates) {
      const exact = untruncated(rest, shape, k, rPrev, caps, delta);
      if (exact === 'tail') {
        cores.push(...tailCores(rest, shape, k, rPrev));
        return ttTensor(cores, { checkFinite: false });
      }
      if (exact === 'identity') {
        cores.push(reshapeNd(identity(rows), [rPrev, shape[k]!, rows]));
        rPrev = rows;
        continue;
      }
    }
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

/**
 * Where TT-SVD would truncate nothing from bond k on, the SVDs are not needed: with
 * rest (r_{k-1} n_k x the remaining modes) and the unfolding at bond k
 * - wide (rows <= cols) with every singular value above delta: the bond keeps all rows, and
 *   U = I is as orthonormal a basis as the SVD's ('identity'; rest carries on unchanged);
 * - tall, and so is every later bond: each keeps all its columns when none of their singular values
 *   is within delta and no cap cuts them ('tail'); rest itself is then core k and the cores after it
 *   are identities (right-orthonormal), the mixed-canonical form of the same tensor, exact, with
 *   TT-SVD's ranks.
 * Certified on each unfolding's Gram matrix (noSingularValueWithin); undefined where it is not.
 */
function untruncated(
  rest: NdArray,
  shape: readonly number[],
  k: number,
  rPrev: number,
  caps: readonly number[],
  delta: number,
): 'identity' | 'tail' | undefined {
  let rows = rPrev * shape[k]!;
  const size = rest.data.length;
  if (rows <= size / rows)
    return noSingularValueWithin(reshapeNd(rest, [rows, size / rows]), delta) ? 'identity' : undefined;
  for (let j = k; j < shape.length - 1; j++) {
    if (j > k) rows *= shape[j]!;
    const cols = size / rows;
    if (caps[j]! < cols || !noSingularValueWithin(reshapeNd(rest, [rows, cols]), delta)) return undefined;
  }
  return 'tail';
}

/** Core k = rest (r_{k-1}, n_k, n_{k+1} ... n_d), then identity cores (r_{j-1}, n_j, r_{j-1} / n_j). */
function tailCores(rest: NdArray, shape: readonly number[], k: number, rPrev: number): NdArray[] {
  let r = rest.data.length / (rPrev * shape[k]!);
  const cores = [reshapeNd(rest, [rPrev, shape[k]!, r])];
  for (let j = k + 1; j < shape.length; j++) {
    cores.push(reshapeNd(identity(r), [r, shape[j]!, r / shape[j]!]));
    r /= shape[j]!;
  }
  return cores;
}

function identity(n: number): NdArray {
  const data = new Float64Array(n * n);
  for (let i = 0; i < n; i++) data[i * n + i] = 1;
  return { shape: [n, n], data };
}
