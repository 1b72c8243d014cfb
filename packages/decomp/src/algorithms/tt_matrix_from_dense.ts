import { check, fmt } from '../errors.js';
import { type TtMatrix, ttMatrix } from '../formats/tt.js';
import { type NdArray, reshapeNd, transposeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { checkModesMatch, checkPositiveInts } from '../validate.js';
import { inputTensor } from './options.js';
import { type TtSvdOptions, ttSvd } from './tt_svd.js';

export interface TtMatrixFromDenseOptions extends TtSvdOptions {
  inModes: readonly number[];
  outModes: readonly number[];
}

/**
 * A TT-matrix approximating the dense (N x M) matrix w: TT-SVD of w reshaped to
 * (n_1 m_1, ..., n_d m_d), then each core split into (r_{k-1}, n_k, m_k, r_k). Float64.
 */
export function ttMatrixFromDense(w: Core, options: TtMatrixFromDenseOptions): TtMatrix<NdArray> {
  const fn = 'ttMatrixFromDense';
  const { inModes, outModes, ...svdOptions } = options;
  const x = inputTensor(fn, w, 2);
  check(x.shape.length === 2, 'SHAPE_MISMATCH', () => `${fn}: w must be a matrix (N x M), got shape ${fmt(x.shape)}`);
  checkPositiveInts(fn, 'inModes', inModes);
  checkPositiveInts(fn, 'outModes', outModes);
  check(
    inModes.length === outModes.length,
    'INVALID_MODES',
    () => `${fn}: inModes and outModes must have the same length, got ${fmt(inModes)} and ${fmt(outModes)}`,
  );
  checkModesMatch(fn, 'inModes', inModes, x.shape[0]);
  checkModesMatch(fn, 'outModes', outModes, x.shape[1]);
  const d = inModes.length;
  const interleave = inModes.flatMap((_, k) => [k, d + k]);
  const t = transposeNd(reshapeNd(x, [...inModes, ...outModes]), interleave);
  const tt = ttSvd(
    reshapeNd(
      t,
      inModes.map((n, k) => n * outModes[k]!),
    ),
    svdOptions,
  );
  const cores = tt.cores.map((c, k) => reshapeNd(c, [c.shape[0]!, inModes[k]!, outModes[k]!, c.shape[2]!]));
  return ttMatrix(cores, { checkFinite: false });
}
