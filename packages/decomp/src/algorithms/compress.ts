import { cpMatrixToDense } from '../contract/cp.js';
import { ttMatrixToDense } from '../contract/tt.js';
import { tuckerMatrixToDense } from '../contract/tucker.js';
import { check, fmt } from '../errors.js';
import { type CpMatrix, cpMatrix } from '../formats/cp.js';
import { type BtMatrix, btMatrixParamCount, btMatrixToDense } from '../formats/bt.js';
import { type TrMatrix, trMatrixParamCount, trMatrixToDense } from '../formats/tr.js';
import type { TtMatrix } from '../formats/tt.js';
import { type TuckerMatrix, tuckerMatrix } from '../formats/tucker.js';
import { type NdArray, relativeError, reshapeNd } from '../ndarray.js';
import type { Core } from '../ops.js';
import { cpMatrixParamCount, ttMatrixParamCount, tuckerMatrixParamCount } from '../params.js';
import { checkModesMatch, checkPositiveInt, checkPositiveInts } from '../validate.js';
import { unfoldingSpectrum } from '../linalg/gram.js';
import { cpAls } from './cp_als.js';
import { checkEps, inputTensor } from './options.js';
import { btMatrixFromDense } from './bt_als.js';
import { trMatrixFromDense } from './tr_svd.js';
import { ttMatrixFromDense } from './tt_matrix_from_dense.js';
import { tuckerHooi } from './tucker_hooi.js';
import { prod } from '../prod.js';

export type CompressFormat = 'tt' | 'cp' | 'tucker' | 'tr' | 'bt';

export interface CompressMatrixOptions {
  format: CompressFormat;
  /** Factorisation of the row count N (prod = N) and of the column count M (prod = M), d modes each. */
  inModes: readonly number[];
  outModes: readonly number[];
  /**
   * The target, one of: `ranks` (TT: d + 1 ranks, r_0 = r_d = 1; TR: d + 1 ranks, r_0 = r_d; Tucker: d input ranks, or 2d as
   * input then output ranks), `rank` (CP), `eps` (TT, TR: relative Frobenius error bound of TT-SVD, TR-SVD) or
   * `budget` (a parameter count: the lowest error found whose count does not exceed it).
   */
  ranks?: readonly number[];
  rank?: number;
  eps?: number;
  budget?: number;
  /** BT: the number of blocks, with `ranks` (d ranks of every block). */
  blocks?: number;
  /** Sweeps of CP-ALS (default 100), HOOI (default 30) and TR-ALS after TR-SVD with ranks (default 30). */
  maxIter?: number;
  /** CP-ALS: stop when the error changes by less than this between sweeps (default 1e-8). */
  tol?: number;
  /** Seed of CP-ALS's initialisation where the SVD cannot fill it (default 0). */
  seed?: number;
}

/** One configuration the search evaluated. */
export interface CompressTrial {
  /** TT: the d + 1 ranks; CP: [R]; Tucker: input then output ranks (2d). */
  ranks: number[];
  params: number;
  relativeError: number;
  converged: boolean;
}

export interface CompressReport extends CompressTrial {
  format: CompressFormat;
  inModes: number[];
  outModes: number[];
  /** Wall time of the whole call, seconds. */
  seconds: number;
  /** Every configuration evaluated (one without `budget`), in the order tried. */
  tried: CompressTrial[];
}

export type CompressedMatrix =
  | TtMatrix<NdArray>
  | CpMatrix<NdArray>
  | TuckerMatrix<NdArray>
  | TrMatrix<NdArray>
  | BtMatrix<NdArray>;

/**
 * A dense (N x M) matrix in TT, CP, Tucker or TR matrix form (float64, on the CPU), with a report of its
 * parameters, relative Frobenius error and time. TT: TT-SVD of the matrix as a TT-matrix (ranks as
 * caps, or `eps`); CP: CP-ALS of the 2d-way tensor (n_1..n_d, m_1..m_d), whose factors are the
 * CP-matrix's input and output factors; Tucker: HOOI of the same tensor with the input ranks then the
 * output ranks; TR: TR-SVD (trMatrixFromDense). With `budget`, the ranks are searched: TR over the three largest uniform rings, TT over uniform inner ranks (1, r, .., r, 1),
 * CP takes the largest R that fits, Tucker over the 2d ranks (every tuple within the budget ranked by the HOSVD's truncation
 * bound, the four best fitted by HOOI); the result is the lowest error
 * among those tried whose count is at most `budget`. Non-convergence of ALS/HOOI is a flag, not an
 * error. Memory: the float64 copy of W and of its 2d-way tensor, plus per CP-ALS sweep a Khatri-Rao
 * product of (N M / min mode) x R values, about 8 (2 + R / min mode) N M bytes.
 */
export function compressMatrix(
  w: Core,
  options: CompressMatrixOptions,
): { matrix: CompressedMatrix; report: CompressReport } {
  const fn = 'compressMatrix';
  const t0 = performance.now();
  const o = options ?? ({} as CompressMatrixOptions);
  check(
    ['tt', 'cp', 'tucker', 'tr', 'bt'].includes(o.format),
    'INVALID_ARGUMENT',
    () => `${fn}: format must be 'tt', 'cp', 'tucker', 'tr' or 'bt', got ${fmt(o.format)}`,
  );
  const x = inputTensor(fn, w, 2);
  check(x.shape.length === 2, 'SHAPE_MISMATCH', () => `${fn}: w must be a matrix (N x M), got shape ${fmt(x.shape)}`);
  checkPositiveInts(fn, 'inModes', o.inModes);
  checkPositiveInts(fn, 'outModes', o.outModes);
  check(
    o.inModes.length === o.outModes.length,
    'INVALID_MODES',
    () => `${fn}: inModes and outModes must have the same length d, got ${fmt(o.inModes)} and ${fmt(o.outModes)}`,
  );
  checkModesMatch(fn, 'inModes', o.inModes, x.shape[0]);
  checkModesMatch(fn, 'outModes', o.outModes, x.shape[1]);
  const targets = (['ranks', 'rank', 'eps', 'budget'] as const).filter((k) => o[k] !== undefined);
  check(
    targets.length === 1,
    'INVALID_ARGUMENT',
    () => `${fn}: give exactly one of ranks, rank, eps or budget, got ${targets.length ? targets.join(', ') : 'none'}`,
  );
  const allowed: Record<CompressFormat, string[]> = {
    tt: ['ranks', 'eps', 'budget'],
    cp: ['rank', 'budget'],
    tucker: ['ranks', 'budget'],
    tr: ['ranks', 'eps', 'budget'],
    bt: ['ranks', 'budget'],
  };
  check(
    allowed[o.format].includes(targets[0]!),
    'INVALID_ARGUMENT',
    () => `${fn}: ${targets[0]} does not apply to format '${o.format}' (it takes ${allowed[o.format].join(', ')})`,
  );
  check(
    o.blocks === undefined || (o.format === 'bt' && o.ranks !== undefined),
    'INVALID_ARGUMENT',
    () => `${fn}: blocks applies to format 'bt' with ranks only, got format '${o.format}' with ${targets[0]}`,
  );
  if (o.eps !== undefined) checkEps(fn, o.eps);
  if (o.rank !== undefined) checkPositiveInt(fn, 'rank', o.rank);
  if (o.budget !== undefined) checkPositiveInt(fn, 'budget', o.budget);
  const inModes = [...o.inModes];
  const outModes = [...o.outModes];
  const d = inModes.length;
  const spec = { inModes, outModes };

  const fitRanks = (ranks: number[]): { matrix: CompressedMatrix; trial: CompressTrial } => {
    let matrix: CompressedMatrix;
    let converged = true;
    if (o.format === 'bt') {
      const r = btMatrixFromDense(x, {
        inModes,
        outModes,
        ranks: ranks.slice(0, d),
        blocks: ranks[d]!,
        ...(o.maxIter !== undefined ? { maxIter: o.maxIter } : {}),
        ...(o.tol !== undefined ? { tol: o.tol } : {}),
      });
      converged = r.converged;
      matrix = r.matrix;
    } else if (o.format === 'tr') {
      // With ranks, TR-SVD then TR-ALS sweeps (TR-SVD alone can miss a ring of exactly those ranks).
      matrix = trMatrixFromDense(x, {
        inModes,
        outModes,
        ...(ranks.length ? { ranks, maxIter: o.maxIter ?? 30 } : { eps: o.eps! }),
        ...(o.tol !== undefined ? { tol: o.tol } : {}),
      });
    } else if (o.format === 'tt') {
      matrix = ttMatrixFromDense(x, {
        inModes,
        outModes,
        ...(ranks.length ? { maxRank: ranks.slice(1, -1) } : { eps: o.eps! }),
      });
    } else if (o.format === 'cp') {
      const r = cpAls(reshapeNd(x, [...inModes, ...outModes]), {
        rank: ranks[0]!,
        maxIter: o.maxIter ?? 100,
        tol: o.tol ?? 1e-8,
        seed: o.seed ?? 0,
      });
      converged = r.converged;
      const f = r.cp.factors;
      matrix = cpMatrix(f.slice(0, d), f.slice(d), r.cp.weights, { checkFinite: false });
    } else {
      const r = tuckerHooi(reshapeNd(x, [...inModes, ...outModes]), { ranks, maxIter: o.maxIter ?? 30 });
      converged = r.converged;
      const f = r.tucker.factors;
      matrix = tuckerMatrix(r.tucker.core, f.slice(0, d), f.slice(d), { checkFinite: false });
    }
    const rebuilt =
      matrix.kind === 'tt-matrix'
        ? ttMatrixToDense(matrix)
        : matrix.kind === 'cp-matrix'
          ? cpMatrixToDense(matrix)
          : matrix.kind === 'tr-matrix'
            ? trMatrixToDense(matrix)
            : matrix.kind === 'bt-matrix'
              ? btMatrixToDense(matrix)
              : tuckerMatrixToDense(matrix);
    const actual =
      matrix.kind === 'tt-matrix' || matrix.kind === 'tr-matrix'
        ? matrix.ranks.slice()
        : matrix.kind === 'bt-matrix'
          ? [...matrix.ranks, matrix.blocks]
          : matrix.kind === 'cp-matrix'
            ? [matrix.rank]
            : [...matrix.inRanks, ...matrix.outRanks];
    return {
      matrix,
      trial: {
        ranks: actual,
        params: paramsOf(o.format, spec, actual),
        relativeError: relativeError(rebuilt, x),
        converged,
      },
    };
  };

  const tried: CompressTrial[] = [];
  let best: { matrix: CompressedMatrix; trial: CompressTrial } | undefined;
  const tryRanks = (ranks: number[]): void => {
    const r = fitRanks(ranks);
    tried.push(r.trial);
    if (o.budget !== undefined && r.trial.params > o.budget) return;
    if (!best || r.trial.relativeError < best.trial.relativeError) best = r;
  };

  if (o.budget === undefined) {
    if (o.format === 'tt') {
      if (o.ranks) {
        checkPositiveInts(fn, 'ranks', o.ranks);
        check(
          o.ranks.length === d + 1 && o.ranks[0] === 1 && o.ranks[d] === 1,
          'INVALID_RANK',
          () => `${fn}: TT ranks must be d + 1 = ${d + 1} numbers starting and ending with 1, got ${fmt(o.ranks)}`,
        );
      }
      tryRanks(o.ranks ? [...o.ranks] : []);
    } else if (o.format === 'bt') {
      checkPositiveInts(fn, 'ranks', o.ranks);
      check(
        o.ranks!.length === d,
        'INVALID_RANK',
        () => `${fn}: BT ranks must be d = ${d} numbers (r_1..r_d of every block), got ${fmt(o.ranks)}`,
      );
      checkPositiveInt(fn, 'blocks', o.blocks);
      tryRanks([...o.ranks!, o.blocks!]);
    } else if (o.format === 'tr') {
      if (o.ranks) {
        checkPositiveInts(fn, 'ranks', o.ranks);
        check(
          o.ranks.length === d + 1 && o.ranks[0] === o.ranks[d],
          'INVALID_RANK',
          () =>
            `${fn}: TR ranks must be d + 1 = ${d + 1} numbers with r_0 = r_d (the ring closes), got ${fmt(o.ranks)}`,
        );
      }
      tryRanks(o.ranks ? [...o.ranks] : []);
    } else if (o.format === 'cp') {
      tryRanks([o.rank!]);
    } else {
      checkPositiveInts(fn, 'ranks', o.ranks);
      check(
        o.ranks!.length === d || o.ranks!.length === 2 * d,
        'INVALID_RANK',
        () =>
          `${fn}: Tucker ranks must be d = ${d} numbers (input ranks, the output ranks the same) or 2d = ${2 * d} (input then output), got ${fmt(o.ranks)}`,
      );
      const ranks = o.ranks!.length === d ? [...o.ranks!, ...o.ranks!] : [...o.ranks!];
      const modes = [...inModes, ...outModes];
      const over = ranks.findIndex((r, k) => r > modes[k]!);
      check(
        over < 0,
        'INVALID_RANK',
        () => `${fn}: Tucker rank ${ranks[over]} (position ${over}) exceeds its mode size ${modes[over]}`,
      );
      const unreachable = ranks.findIndex((r, k) => !multilinear(ranks, k, r));
      check(
        unreachable < 0,
        'INVALID_RANK',
        () =>
          `${fn}: Tucker rank ${ranks[unreachable]} (position ${unreachable}) exceeds the product of the other ranks ${fmt(ranks.filter((_, j) => j !== unreachable))}: no tensor has those multilinear ranks`,
      );
      tryRanks(ranks);
    }
  } else {
    const budget = o.budget;
    const candidates = searchCandidates(o.format, spec, budget, x);
    check(
      candidates.length > 0,
      'INVALID_RANK',
      () =>
        `${fn}: budget ${budget} is below the smallest ${o.format} configuration for modes ${fmt(inModes)} x ${fmt(outModes)} (${paramsOf(o.format, spec, smallest(o.format, d))} parameters)`,
    );
    for (const ranks of candidates) tryRanks(ranks);
  }
  const chosen = best!;
  return {
    matrix: chosen.matrix,
    report: { format: o.format, inModes, outModes, ...chosen.trial, seconds: (performance.now() - t0) / 1000, tried },
  };
}

/** Multilinear ranks are reachable only when each is at most the product of the others. */
const multilinear = (ranks: readonly number[], k: number, r: number): boolean =>
  r <= ranks.reduce((p, x, j) => (j === k ? p : p * x), 1);

function smallest(format: CompressFormat, d: number): number[] {
  if (format === 'bt') return new Array<number>(d + 1).fill(1);
  return format === 'tt' || format === 'tr'
    ? [1, ...new Array<number>(d - 1).fill(1), 1]
    : format === 'cp'
      ? [1]
      : new Array<number>(2 * d).fill(1);
}

/** The parameter count of a configuration (PAPER.md's formulas). */
function paramsOf(format: CompressFormat, spec: { inModes: number[]; outModes: number[] }, ranks: number[]): number {
  const d = spec.inModes.length;
  if (format === 'tt') return ttMatrixParamCount({ ...spec, ranks });
  if (format === 'tr') return trMatrixParamCount({ ...spec, ranks });
  if (format === 'bt') return btMatrixParamCount({ ...spec, ranks: ranks.slice(0, d), blocks: ranks[d]! });
  if (format === 'cp') return cpMatrixParamCount({ ...spec, rank: ranks[0]! });
  return tuckerMatrixParamCount({ ...spec, inRanks: ranks.slice(0, d), outRanks: ranks.slice(d) });
}

/**
 * The configurations a budget search fits, all within the budget. TT: every uniform inner rank r
 * (capped where a bond cannot hold more), largest first; CP: the largest R (the CP-matrix count is
 * linear in R); Tucker: the four tuples of lowest truncation bound.
 */
function searchCandidates(
  format: CompressFormat,
  spec: { inModes: number[]; outModes: number[] },
  budget: number,
  x: NdArray,
): number[][] {
  const { inModes, outModes } = spec;
  const d = inModes.length;
  const within = (ranks: number[]) => paramsOf(format, spec, ranks) <= budget;
  if (format === 'tt') {
    const sizes = inModes.map((n, k) => n * outModes[k]!);
    // Bond k can carry at most min(prod of the sizes left of it, prod right of it).
    const caps = Array.from({ length: d - 1 }, (_, k) =>
      Math.min(prod(sizes.slice(0, k + 1)), prod(sizes.slice(k + 1))),
    );
    const out: number[][] = [];
    for (let r = 1; r <= Math.max(...caps); r++) {
      const ranks = [1, ...caps.map((c) => Math.min(c, r)), 1];
      if (!within(ranks)) break;
      if (out.length && JSON.stringify(out[0]) === JSON.stringify(ranks)) continue;
      out.unshift(ranks);
    }
    return out;
  }
  if (format === 'bt') {
    // For 1 to 4 blocks, the largest uniform ranks within the budget (ranks at most n_k m_k).
    const out: number[][] = [];
    for (let blocks = 1; blocks <= 4; blocks++) {
      let best: number[] | undefined;
      for (let r = 1; inModes.every((n, k) => r <= n * outModes[k]!); r++) {
        const ranks = [...new Array<number>(d).fill(r), blocks];
        if (!within(ranks)) break;
        best = ranks;
      }
      if (best) out.push(best);
    }
    return out;
  }
  if (format === 'tr') {
    // Uniform rings (r, .., r), largest first; TR-SVD may find a bond needs less.
    const out: number[][] = [];
    for (let r = 1; within(new Array<number>(d + 1).fill(r)); r++) out.unshift(new Array<number>(d + 1).fill(r));
    return out.slice(0, 3);
  }
  if (format === 'cp') {
    const per = inModes.reduce((a, b) => a + b, 0) + outModes.reduce((a, b) => a + b, 0);
    const rMax = Math.floor(budget / per);
    return rMax >= 1 ? [[rMax]] : [];
  }
  // Tucker: rank tuples ranked by the HOSVD's truncation bound. The squared singular values of
  // each unfolding say how much energy a rank keeps, and the sum over the modes of the discarded
  // energy bounds the squared error of the truncated HOSVD (De Lathauwer et al. 2000). Every tuple
  // within the budget is enumerated (depth first, pruned by the count, which grows with every rank)
  // up to a cap; the few with the lowest bound are fitted by HOOI.
  const modes = [...inModes, ...outModes];
  const t = reshapeNd(x, modes);
  const spectra = modes.map((_, k) => unfoldingSpectrum(t, k).energies);
  const tails = spectra.map((e) => e.map((_, r) => e.slice(r).reduce((a, b) => a + b, 0)));
  const ranks = new Array<number>(2 * d).fill(1);
  if (!within(ranks)) return [];
  const best: Array<{ ranks: number[]; bound: number }> = [];
  let visited = 0;
  const keep = 4;
  const visit = (k: number): void => {
    if (visited > 200_000) return;
    if (k === 2 * d) {
      visited++;
      if (!ranks.every((r, j) => multilinear(ranks, j, r))) return;
      const bound = ranks.reduce((s, r, j) => s + (tails[j]![r] ?? 0), 0);
      if (best.length < keep || bound < best[best.length - 1]!.bound) {
        best.push({ ranks: [...ranks], bound });
        best.sort((a, b) => a.bound - b.bound);
        if (best.length > keep) best.pop();
      }
      return;
    }
    for (let r = 1; r <= modes[k]!; r++) {
      ranks[k] = r;
      if (!within(ranks)) break; // larger ranks here only add parameters
      visit(k + 1);
    }
    ranks[k] = 1;
  };
  visit(0);
  return best.map((b) => b.ranks);
}
