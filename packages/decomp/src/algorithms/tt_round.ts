import { check } from '../errors.js';
import { type TtTensor, ttTensor } from '../formats/tt.js';
import { frobeniusNorm, matMulNd, type NdArray, reshapeNd } from '../ndarray.js';
import { type Core, toNdArray } from '../ops.js';
import { scaleCols, scaleRows, svd, truncateSvd, truncationRank } from '../linalg/svd.js';
import { bondMaxRanks, checkEps } from './options.js';
import type { TtSvdOptions } from './tt_svd.js';

/**
 * TT rounding (Oseledets 2011, Alg. 2): right-to-left orthogonalisation, then left-to-right
 * truncated SVDs at delta = eps / sqrt(d - 1) * ||X||_F, so that ||X - X_hat||_F <= eps ||X||_F
 * unless `maxRank` cuts deeper. Float64.
 */
export function ttRound(tt: TtTensor<Core>, options: TtSvdOptions = {}): TtTensor<NdArray> {
  const { eps = 1e-12, maxRank } = options;
  check(
    tt?.kind === 'tt',
    'INVALID_ARGUMENT',
    () => `ttRound: tt must be a TT tensor (ttTensor or ttSvd), got ${tt?.kind}`,
  );
  checkEps('ttRound', eps);
  const d = tt.cores.length;
  const caps = bondMaxRanks('ttRound', maxRank, d - 1);
  const cores = tt.cores.map(toNdArray);
  // Right-to-left: core k = L Q with Q's rows orthonormal; L moves into core k - 1.
  for (let k = d - 1; k > 0; k--) {
    const [r0, n, r1] = cores[k]!.shape as [number, number, number];
    const { u, s, vt } = svd(reshapeNd(cores[k]!, [r0, n * r1]));
    const p = s.length;
    cores[k] = reshapeNd(vt, [p, n, r1]);
    const [q0, m] = cores[k - 1]!.shape as [number, number];
    cores[k - 1] = reshapeNd(matMulNd(reshapeNd(cores[k - 1]!, [q0 * m, r0]), scaleCols(u, s)), [q0, m, p]);
  }
  const delta = d > 1 ? (eps / Math.sqrt(d - 1)) * frobeniusNorm(cores[0]!) : 0;
  for (let k = 0; k < d - 1; k++) {
    const [r0, n, r1] = cores[k]!.shape as [number, number, number];
    const full = svd(reshapeNd(cores[k]!, [r0 * n, r1]));
    const r = truncationRank(full.s, delta, caps[k]);
    const { u, s, vt } = truncateSvd(full, r);
    cores[k] = reshapeNd(u, [r0, n, r]);
    const [, n2, r2] = cores[k + 1]!.shape as [number, number, number];
    cores[k + 1] = reshapeNd(matMulNd(scaleRows(s, vt), reshapeNd(cores[k + 1]!, [r1, n2 * r2])), [r, n2, r2]);
  }
  return ttTensor(cores, { checkFinite: false });
}
