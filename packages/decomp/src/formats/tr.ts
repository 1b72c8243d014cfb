import type * as tf from '@tensorflow/tfjs-core';
import {
  applyStages,
  checkBatchInput,
  coreGroupings,
  groupTtCores,
  mergeTtCores,
  type StagedMatmul,
  type ViewOp,
} from '../contract/tt.js';
import { layoutView } from '../contract/layout.js';
import { check, fmt } from '../errors.js';
import { AUTHORS_STD, type InitOptions, normalFactor, targetStd } from '../init.js';
import type { NdArray } from '../ndarray.js';
import { type Computable, type Core, type Ops, opsFor, tidyFor } from '../ops.js';
import { checkModeSpec, type SizeCheck } from '../params.js';
import { prod } from '../prod.js';
import { checkPositiveInts } from '../validate.js';
import type { FormatDefinition, FormatSpec } from './registry.js';
import { checkCoreChain, type FormatOptions, type TtMatrix } from './tt.js';

/**
 * A matrix of shape (prod n_k, prod m_k) in Tensor-Ring form (Zhao et al. 2016; TR-LSTM, Pan et al.
 * 2019): cores G_k of shape (r_{k-1}, n_k, m_k, r_k) with r_0 = r_d >= 1, and
 * W[(i_1..i_d), (j_1..j_d)] = Trace(G_1[:, i_1, j_1, :] ... G_d[:, i_d, j_d, :]), row and column
 * indices flattened row-major. A TT-matrix is the ring with r_0 = r_d = 1.
 */
export interface TrMatrix<C extends Computable = tf.Tensor> {
  readonly kind: 'tr-matrix';
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  /** r_0..r_d, with r_0 = r_d. */
  readonly ranks: readonly number[];
  readonly cores: readonly C[];
}

/** The sizes of a TR-matrix, without its cores. */
export interface TrMatrixSpec {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  /** r_0..r_d with r_0 = r_d >= 1. */
  readonly ranks: readonly number[];
}

/** Builds a TR-matrix from its cores (r_{k-1}, n_k, m_k, r_k), checking every shape and that the ring closes. */
export function trMatrix<C extends Core>(cores: readonly C[], options: FormatOptions = {}): TrMatrix<C> {
  const fn = 'trMatrix';
  check(
    Array.isArray(cores) && cores.length >= 2,
    'INVALID_ARGUMENT',
    () =>
      `${fn}: cores must be an array of at least 2 cores (a ring of one core is its trace: use a dense matrix), got ${Array.isArray(cores) ? `${cores.length}` : typeof cores}`,
  );
  const ranks = checkCoreChain(fn, cores, 4, options);
  check(
    ranks[0] === ranks[ranks.length - 1],
    'INVALID_RANK',
    () =>
      `${fn}: the ring must close, r_0 = r_d: cores[0] starts with ${ranks[0]} but cores[${cores.length - 1}] ends with ${ranks[ranks.length - 1]} (ranks ${fmt(ranks)})`,
  );
  return {
    kind: 'tr-matrix',
    inModes: cores.map((c) => c.shape[1]!),
    outModes: cores.map((c) => c.shape[2]!),
    ranks,
    cores: [...cores],
  };
}

/** Checks a TR-matrix's sizes: modes of equal length d >= 2, d + 1 positive ranks with r_0 = r_d. */
export function checkTrMatrixSpec(fn: string, spec: TrMatrixSpec, sizes: SizeCheck = {}): void {
  const d = checkModeSpec(fn, spec, sizes);
  check(d >= 2, 'INVALID_MODES', () => `${fn}: a tensor ring needs d >= 2 modes, got ${fmt(spec.inModes)}`);
  checkPositiveInts(fn, 'ranks', spec.ranks);
  check(
    spec.ranks.length === d + 1,
    'INVALID_RANK',
    () => `${fn}: ranks must have d + 1 = ${d + 1} entries (r_0..r_d), got ${spec.ranks.length}: ${fmt(spec.ranks)}`,
  );
  check(
    spec.ranks[0] === spec.ranks[d],
    'INVALID_RANK',
    () =>
      `${fn}: ranks must close the ring, r_0 = r_d, got ${fmt(spec.ranks)} (r_0 = ${spec.ranks[0]}, r_d = ${spec.ranks[d]})`,
  );
}

/** sum_k r_{k-1} n_k m_k r_k (PAPER.md, "More formats"). */
export function trMatrixParamCount(spec: TrMatrixSpec): number {
  checkTrMatrixSpec('trMatrixParamCount', spec);
  return spec.inModes.reduce((n, nk, k) => n + spec.ranks[k]! * nk * spec.outModes[k]! * spec.ranks[k + 1]!, 0);
}

/**
 * Std of every TR core so that the rebuilt matrix has std `target`: s = (target^2 / prod_{k=1..d} r_k)^(1/(2d))
 * (PAPER.md; each entry is a sum of prod_k r_k products of d core entries).
 */
export function trCoreStd(ranks: readonly number[], target = AUTHORS_STD): number {
  const d = ranks.length - 1;
  return (target ** 2 / prod(ranks.slice(1))) ** (1 / (2 * d));
}

/** A TR-matrix with random cores whose rebuilt matrix has the target std. */
export function trMatrixInit(spec: TrMatrixSpec, options: InitOptions = {}): TrMatrix<tf.Tensor> {
  checkTrMatrixSpec('trMatrixInit', spec);
  const s = trCoreStd(spec.ranks, targetStd(options.std, prod(spec.inModes), prod(spec.outModes)));
  const cores = spec.inModes.map((n, k) =>
    normalFactor([spec.ranks[k]!, n, spec.outModes[k]!, spec.ranks[k + 1]!], s, options.seed, k),
  );
  return trMatrix(cores, { checkFinite: false });
}

/**
 * The dense (N x M) matrix, on any Ops: cores 2..d merged as TT cores into R (r_1, N', M', r_0),
 * then the ring closed by one matMul with G_1 over both r_1 and r_0 (no trace op needed).
 */
export function trDense<C extends Computable>(ops: Ops<C>, w: TrMatrix<C>): C {
  const [r0, n1, m1, r1] = w.cores[0]!.shape as [number, number, number, number];
  const rest = mergeTtCores(ops, w.cores.slice(1));
  const [, nr, mr] = rest.shape as [number, number, number, number];
  const left = ops.reshape(ops.transpose(w.cores[0]!, [1, 2, 3, 0]), [n1 * m1, r1 * r0]);
  const right = ops.reshape(ops.transpose(rest, [0, 3, 1, 2]), [r1 * r0, nr * mr]);
  const joined = ops.reshape(ops.matMul(left, right), [n1, m1, nr, mr]);
  return ops.reshape(ops.transpose(joined, [0, 2, 1, 3]), [n1 * nr, m1 * mr]);
}

/** The dense matrix of a TR-matrix of TF.js tensors or float64 arrays. */
export function trMatrixToDense(w: TrMatrix<tf.Tensor>): tf.Tensor2D;
export function trMatrixToDense(w: TrMatrix<NdArray>): NdArray;
export function trMatrixToDense<C extends Core>(w: TrMatrix<C>): C {
  const first = w.cores[0]!;
  return tidyFor(first, () => trDense(opsFor(first), w));
}

/**
 * x W as one matMul per core, never forming W: the ring's closing rank r_0 rides along with the rows
 * from the first core to the last, which contracts it with r_{d-1}. With the running value's axes
 * (after the batch) named, stage k lays out (rest | n_k, r_{k-1}) and multiplies by G_k as an
 * (n_k r_{k-1}) x (m_k r_k) matrix; the first stage takes (rest | n_1) to (r_0, m_1, r_1), the last
 * (m_1..m_{d-1} | n_d, r_{d-1}, r_0) to m_d. The FLOPs are about r_0 times a TT-matrix's of the
 * same ranks. With `groups`, consecutive cores are merged first (the planner picks the grouping).
 */
export function trStages<C extends Computable>(
  ops: Ops<C>,
  ring: TrMatrix<C>,
  groups?: readonly number[],
): StagedMatmul<C> {
  if (groups) {
    check(
      groups.length >= 2,
      'INVALID_ARGUMENT',
      () => `trStages: a tensor ring needs at least 2 groups of cores (one group is its trace), got ${fmt(groups)}`,
    );
  }
  // Consecutive cores merged per group (as TT cores merge): fewer, larger stages.
  const w = groups
    ? ({ ...groupTtCores(ops, ring as unknown as TtMatrix<C>, groups), kind: 'tr-matrix' } as TrMatrix<C>)
    : ring;
  const d = w.cores.length;
  const { inModes: n, outModes: m, ranks: r } = w;
  // The running value's axes after the batch axis: [name, size].
  let axes: Array<[string, number]> = n.map((nk, k) => [`n${k}`, nk]);
  const stages: Array<{ view: ViewOp[]; matrix: C }> = [];
  for (let k = 0; k < d; k++) {
    const inner: string[] = k === 0 ? ['n0'] : k < d - 1 ? [`n${k}`, `r${k}`] : [`n${k}`, `r${k}`, 'r0'];
    const rest = axes.filter(([a]) => !inner.includes(a));
    const order = [...rest.map(([a]) => a), ...inner];
    const perm = order.map((a) => axes.findIndex(([b]) => b === a));
    const innerSize = prod(inner.map((a) => axes.find(([b]) => b === a)![1]));
    const view = layoutView(
      axes.map(([, s]) => s),
      perm,
      innerSize,
    );
    const core = w.cores[k]!;
    let matrix: C;
    let produced: Array<[string, number]>;
    if (k === 0) {
      // (r_0, n_1, m_1, r_1) -> rows n_1, columns (r_0, m_1, r_1).
      matrix = ops.reshape(ops.transpose(core, [1, 0, 2, 3]), [n[0]!, r[0]! * m[0]! * r[1]!]);
      produced = [
        ['r0', r[0]!],
        ['m0', m[0]!],
        ['r1', r[1]!],
      ];
    } else if (k < d - 1) {
      matrix = ops.reshape(ops.transpose(core, [1, 0, 2, 3]), [n[k]! * r[k]!, m[k]! * r[k + 1]!]);
      produced = [
        [`m${k}`, m[k]!],
        [`r${k + 1}`, r[k + 1]!],
      ];
    } else {
      // (r_{d-1}, n_d, m_d, r_0) -> rows (n_d, r_{d-1}, r_0), columns m_d.
      matrix = ops.reshape(ops.transpose(core, [1, 0, 3, 2]), [n[k]! * r[k]! * r[0]!, m[k]!]);
      produced = [[`m${k}`, m[k]!]];
    }
    stages.push({ view, matrix });
    axes = [...rest, ...produced];
  }
  return { stages, outView: [{ reshape: [-1, prod(m)] }], inSize: prod(n) };
}

/** y = x W for x of shape (B, prod n_k), without forming W (see trStages). Returns (B, prod m_k). */
export function trMatmul(x: tf.Tensor2D, w: TrMatrix<tf.Tensor>): tf.Tensor2D;
export function trMatmul(x: NdArray, w: TrMatrix<NdArray>): NdArray;
export function trMatmul<C extends Core>(x: C, w: TrMatrix<C>): C {
  const ops = opsFor(x);
  checkBatchInput('trMatmul', x, prod(w.inModes));
  return tidyFor(x, () => applyStages(ops, x, trStages(ops, w)));
}

/** The 'tr' format's definition (see FormatDefinition). */
export const trFormat: FormatDefinition<TrMatrix<Computable>> = {
  name: 'tr',
  title: 'TR',
  kind: 'tr-matrix',
  specFields: ['ranks'],
  specHelp: 'ranks (d + 1 numbers with r_0 = r_d, e.g. [2, 4, 4, 2])',
  modeCount: (spec) => {
    const ranks = (spec as { ranks?: readonly number[] }).ranks;
    return Array.isArray(ranks) ? ranks.length - 1 : undefined;
  },
  shape(fn, spec, modes, sizes) {
    const shape = { kind: 'tr-matrix' as const, ...modes, ranks: (spec as { ranks: readonly number[] }).ranks };
    checkTrMatrixSpec(fn, shape, sizes);
    return shape;
  },
  spec: (shape) => ({ format: 'tr', ranks: (shape as TrMatrixSpec).ranks }) as FormatSpec,
  parts: (shape) => {
    const { ranks, inModes, outModes } = shape as TrMatrixSpec;
    return inModes.map((nk, k) => ({ name: `core${k}`, shape: [ranks[k]!, nk, outModes[k]!, ranks[k + 1]!] }));
  },
  assemble: (shape, cores) => {
    const s = shape as TrMatrixSpec;
    return { kind: 'tr-matrix', inModes: s.inModes, outModes: s.outModes, ranks: s.ranks, cores: [...cores] };
  },
  tensors: (w) => [...(w as TrMatrix<never>).cores],
  init: (shape, options) => trMatrixInit(shape as TrMatrixSpec, options),
  dense: (ops, w) => trDense(ops, w as TrMatrix<never>),
  stages: (ops, w, groups) => trStages(ops, w as TrMatrix<never>, groups),
  groupings: (shape) => coreGroupings(shape.inModes.length),
  paramCount: (shape) => trMatrixParamCount(shape as TrMatrixSpec),
  largestWithin(matrices, budget) {
    // Uniform ranks r_0 = .. = r_d = r, the form TR-LSTM uses: the largest r within the budget.
    const d = matrices[0]!.inModes.length;
    const count = (r: number): number =>
      matrices.reduce((s, mm) => s + trMatrixParamCount({ ...mm, ranks: new Array<number>(d + 1).fill(r) }), 0);
    let r = 0;
    while (count(r + 1) <= budget) r++;
    return r >= 1 ? ({ format: 'tr', ranks: new Array<number>(d + 1).fill(r) } as FormatSpec) : undefined;
  },
  smallest: (d) => ({ format: 'tr', ranks: new Array<number>(d + 1).fill(1) }) as FormatSpec,
};
