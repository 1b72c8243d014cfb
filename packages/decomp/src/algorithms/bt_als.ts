import { tuckerToDense } from '../contract/tucker.js';
import { check, fmt } from '../errors.js';
import { type BtMatrix, btMatrix } from '../formats/bt.js';
import { frobeniusNorm, type NdArray, reshapeNd, transposeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { checkModesMatch, checkPositiveInt, checkPositiveInts } from '../validate.js';
import { inputTensor } from './options.js';
import { tuckerHooi } from './tucker_hooi.js';

export interface BtMatrixFromDenseOptions {
  inModes: readonly number[];
  outModes: readonly number[];
  /** r_1..r_d of every block. */
  ranks: readonly number[];
  /** N, the number of blocks. */
  blocks: number;
  /** Sweeps over the blocks (default 10). */
  maxIter?: number;
  /** Stop when the relative error improves by less than this between sweeps (default 1e-10). */
  tol?: number;
  /** HOOI iterations per block update (default 5). */
  innerIter?: number;
}

export interface BtMatrixFromDenseResult {
  matrix: BtMatrix<NdArray>;
  relativeError: number;
  sweeps: number;
  converged: boolean;
}

/**
 * A Block-Term matrix approximating the dense (N x M) matrix w, on w seen as the d-way tensor T of
 * merged (n_k m_k) pairs (where a BT matrix is a sum of N Tucker tensors): alternating least squares
 * over the blocks. The blocks start greedily (each the HOOI of what the previous ones leave), then
 * every sweep refits each block, by HOOI, to T minus the other blocks, which never raises the error
 * by more than HOOI's own inexactness. The sweeps converge linearly and can crawl through swamps
 * (a known trait of block ALS): an exact BT matrix of small sizes takes about a thousand cheap sweeps
 * (`innerIter: 2`) to be recovered to 1e-8. Float64. Ranks above what a mode can carry
 * (r_k > n_k m_k) are refused.
 */
export function btMatrixFromDense(w: Core, options: BtMatrixFromDenseOptions): BtMatrixFromDenseResult {
  const fn = 'btMatrixFromDense';
  const { inModes, outModes, ranks, blocks, maxIter = 10, tol = 1e-10, innerIter = 5 } = options;
  const x = inputTensor(fn, w, 2);
  check(x.shape.length === 2, 'SHAPE_MISMATCH', () => `${fn}: w must be a matrix (N x M), got shape ${fmt(x.shape)}`);
  checkPositiveInts(fn, 'inModes', inModes);
  checkPositiveInts(fn, 'outModes', outModes);
  const d = inModes.length;
  check(
    outModes.length === d && d >= 2,
    'INVALID_MODES',
    () => `${fn}: inModes and outModes must have the same length d >= 2, got ${fmt(inModes)} and ${fmt(outModes)}`,
  );
  checkModesMatch(fn, 'inModes', inModes, x.shape[0]);
  checkModesMatch(fn, 'outModes', outModes, x.shape[1]);
  checkPositiveInt(fn, 'blocks', blocks);
  checkPositiveInts(fn, 'ranks', ranks);
  const sizes = inModes.map((n, k) => n * outModes[k]!);
  check(
    ranks.length === d && ranks.every((r, k) => r <= sizes[k]!),
    'INVALID_RANK',
    () => `${fn}: ranks must be d = ${d} numbers, each at most n_k m_k (${fmt(sizes)}), got ${fmt(ranks)}`,
  );
  checkPositiveInt(fn, 'maxIter', maxIter);
  const interleave = inModes.flatMap((_, k) => [k, d + k]);
  const t = reshapeNd(transposeNd(reshapeNd(x, [...inModes, ...outModes]), interleave), sizes);
  const norm = frobeniusNorm(t);

  type Block = { core: NdArray; factors: NdArray[]; dense: Float64Array };
  const fitBlock = (target: Float64Array): Block => {
    const r = tuckerHooi({ shape: sizes, data: target }, { ranks: [...ranks], maxIter: innerIter });
    return { core: r.tucker.core, factors: [...r.tucker.factors], dense: tuckerToDense(r.tucker).data };
  };
  const sum = new Float64Array(t.data.length);
  const fitted: Block[] = [];
  for (let b = 0; b < blocks; b++) {
    const block = fitBlock(t.data.map((v, i) => v - sum[i]!));
    for (let i = 0; i < sum.length; i++) sum[i]! += block.dense[i]!;
    fitted.push(block);
  }
  const errorOf = (): number => {
    let e = 0;
    for (let i = 0; i < sum.length; i++) e += (t.data[i]! - sum[i]!) ** 2;
    return norm > 0 ? Math.sqrt(e) / norm : 0;
  };
  let error = errorOf();
  let sweeps = 0;
  let converged = blocks === 1;
  while (!converged && sweeps < maxIter) {
    sweeps++;
    for (let b = 0; b < blocks; b++) {
      const old = fitted[b]!;
      // The target of block b: T minus the other blocks.
      const target = t.data.map((v, i) => v - sum[i]! + old.dense[i]!);
      const block = fitBlock(target);
      for (let i = 0; i < sum.length; i++) sum[i]! += block.dense[i]! - old.dense[i]!;
      fitted[b] = block;
    }
    const next = errorOf();
    converged = Math.abs(error - next) < tol;
    error = next;
  }
  // Stacked: core (N, r_1..r_d), factor k (N, n_k, m_k, r_k) from the blocks' (n_k m_k, r_k).
  const coreSize = fitted[0]!.core.data.length;
  const core = new Float64Array(blocks * coreSize);
  for (const [b, f] of fitted.entries()) core.set(f.core.data, b * coreSize);
  const factors = sizes.map((size, k) => {
    const data = new Float64Array(blocks * size * ranks[k]!);
    for (const [b, f] of fitted.entries()) data.set(f.factors[k]!.data, b * size * ranks[k]!);
    return { shape: [blocks, inModes[k]!, outModes[k]!, ranks[k]!], data };
  });
  return {
    matrix: btMatrix({ shape: [blocks, ...ranks], data: core }, factors, { checkFinite: false }),
    relativeError: error,
    sweeps,
    converged,
  };
}
