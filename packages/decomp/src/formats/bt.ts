import type * as tf from '@tensorflow/tfjs-core';
import { khatriRaoAll } from '../contract/cp.js';
import { layoutView } from '../contract/layout.js';
import { applyStages, checkBatchInput, checkTtGroups, type StagedMatmul } from '../contract/tt.js';
import { check, fmt } from '../errors.js';
import { AUTHORS_STD, type InitOptions, normalFactor, targetStd } from '../init.js';
import type { NdArray } from '../ndarray.js';
import { type Computable, type Core, type Ops, opsFor, tidyFor } from '../ops.js';
import { checkModeSpec, type SizeCheck } from '../params.js';
import { prod } from '../prod.js';
import { checkFinite, checkPositiveInt, checkPositiveInts, checkRank } from '../validate.js';
import type { FormatDefinition, FormatSpec } from './registry.js';
import type { FormatOptions } from './tt.js';

/**
 * A matrix of shape (prod n_k, prod m_k) in Block-Term form (Block-Term LSTM, Ye et al. 2018): a sum
 * of N Tucker blocks whose factors carry one input and one output mode each,
 * W[(i_1..i_d), (j_1..j_d)] = sum_b sum_p C_b[p_1..p_d] prod_k A_{b,k}[i_k, j_k, p_k]. The blocks
 * are stacked on a leading axis: `core` (N, r_1..r_d), `factors[k]` (N, n_k, m_k, r_k).
 */
export interface BtMatrix<C extends Computable = tf.Tensor> {
  readonly kind: 'bt-matrix';
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  /** r_1..r_d, the same for every block. */
  readonly ranks: readonly number[];
  /** N, the number of blocks. */
  readonly blocks: number;
  readonly core: C;
  readonly factors: readonly C[];
}

/** The sizes of a Block-Term matrix, without its tensors. */
export interface BtMatrixSpec {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly ranks: readonly number[];
  readonly blocks: number;
}

/** Builds a Block-Term matrix from its stacked core (N, r_1..r_d) and factors (N, n_k, m_k, r_k). */
export function btMatrix<C extends Core>(core: C, factors: readonly C[], options: FormatOptions = {}): BtMatrix<C> {
  const fn = 'btMatrix';
  check(
    Array.isArray(factors) && factors.length >= 2,
    'INVALID_ARGUMENT',
    () =>
      `${fn}: factors must be an array of d >= 2 tensors (N, n_k, m_k, r_k), got ${Array.isArray(factors) ? factors.length : typeof factors}`,
  );
  const d = factors.length;
  check(
    core.shape.length === d + 1,
    'SHAPE_MISMATCH',
    () => `${fn}: core must have d + 1 = ${d + 1} dimensions (N, r_1..r_d), got shape ${fmt(core.shape)}`,
  );
  const blocks = core.shape[0]!;
  check(
    blocks >= 1,
    'INVALID_RANK',
    () => `${fn}: the block count N (core.shape[0]) must be at least 1, got ${blocks}`,
  );
  factors.forEach((f, k) => {
    checkRank(fn, `factors[${k}]`, f, 4);
    check(
      f.shape[0] === blocks && f.shape[3] === core.shape[k + 1] && f.shape[1]! > 0 && f.shape[2]! > 0,
      'INVALID_RANK',
      () =>
        `${fn}: factors[${k}] must have shape (N = ${blocks}, n_${k}, m_${k}, r_${k} = ${core.shape[k + 1]}), got ${fmt(f.shape)}`,
    );
    if (options.checkFinite ?? true) checkFinite(fn, `factors[${k}]`, f);
  });
  if (options.checkFinite ?? true) checkFinite(fn, 'core', core);
  return {
    kind: 'bt-matrix',
    inModes: factors.map((f) => f.shape[1]!),
    outModes: factors.map((f) => f.shape[2]!),
    ranks: core.shape.slice(1),
    blocks,
    core,
    factors: [...factors],
  };
}

/** Checks a Block-Term matrix's sizes: modes of length d >= 2, d ranks r_k <= n_k m_k, N >= 1 blocks. */
export function checkBtMatrixSpec(fn: string, spec: BtMatrixSpec, sizes: SizeCheck = {}): void {
  const d = checkModeSpec(fn, spec, sizes);
  check(d >= 2, 'INVALID_MODES', () => `${fn}: a Block-Term matrix needs d >= 2 modes, got ${fmt(spec.inModes)}`);
  checkPositiveInt(fn, 'blocks', spec.blocks);
  checkPositiveInts(fn, 'ranks', spec.ranks);
  check(
    spec.ranks.length === d,
    'INVALID_RANK',
    () => `${fn}: ranks must have d = ${d} entries (r_1..r_d), got ${fmt(spec.ranks)}`,
  );
  const over = spec.ranks.findIndex((r, k) => r > spec.inModes[k]! * spec.outModes[k]!);
  check(
    over < 0,
    'INVALID_RANK',
    () =>
      `${fn}: ranks[${over}] = ${spec.ranks[over]} exceeds n_${over} m_${over} = ${spec.inModes[over]! * spec.outModes[over]!}, what its factor can carry`,
  );
}

/** N (prod_k r_k + sum_k n_k m_k r_k) (PAPER.md, "More formats"). */
export function btMatrixParamCount(spec: BtMatrixSpec): number {
  checkBtMatrixSpec('btMatrixParamCount', spec);
  return (
    spec.blocks * (prod(spec.ranks) + spec.inModes.reduce((s, n, k) => s + n * spec.outModes[k]! * spec.ranks[k]!, 0))
  );
}

/** Std of every core and factor entry for a rebuilt std `target`: (target^2 / (N prod r_k))^(1/(2(d+1))). */
export function btFactorStd(ranks: readonly number[], blocks: number, target = AUTHORS_STD): number {
  return (target ** 2 / (blocks * prod(ranks))) ** (1 / (2 * (ranks.length + 1)));
}

/** A Block-Term matrix with random core and factors whose rebuilt matrix has the target std. */
export function btMatrixInit(spec: BtMatrixSpec, options: InitOptions = {}): BtMatrix<tf.Tensor> {
  checkBtMatrixSpec('btMatrixInit', spec);
  const s = btFactorStd(spec.ranks, spec.blocks, targetStd(options.std, prod(spec.inModes), prod(spec.outModes)));
  const core = normalFactor([spec.blocks, ...spec.ranks], s, options.seed, 0);
  const factors = spec.inModes.map((n, k) =>
    normalFactor([spec.blocks, n, spec.outModes[k]!, spec.ranks[k]!], s, options.seed, 1 + k),
  );
  return btMatrix(core, factors, { checkFinite: false });
}

/**
 * The two matrices of x W for a split after mode s: L (N_<s x (N, M_<s, Q)) holds every block's
 * factors k < s with its core contracted over their ranks, Q = prod_{k>=s} r_k; R ((N, N_>=s, Q) x
 * M_>=s) is every block's factors k >= s, their Kronecker product. Per block b the product is
 * x W_b = sum_q (x L_b)[.., q] R_b[q, ..], and the sum over the blocks is the second product's
 * contraction over b. Built from Khatri-Rao products over the block index (reshape, transpose,
 * matMul, broadcast multiply only).
 */
function btHalves<C extends Computable>(ops: Ops<C>, w: BtMatrix<C>, s: number): [C, C] {
  const d = w.factors.length;
  const N = w.blocks;
  const { inModes: n, outModes: m, ranks: r } = w;
  // Factor k as ((n_k, m_k, r_k), N): its block's entries in one column.
  const columns = (k: number): C => ops.transpose(ops.reshape(w.factors[k]!, [N, n[k]! * m[k]! * r[k]!]), [1, 0]);
  const left = Array.from({ length: s }, (_, k) => k);
  const right = Array.from({ length: d - s }, (_, j) => s + j);
  const [nl, ml, pl] = [prod(left.map((k) => n[k]!)), prod(left.map((k) => m[k]!)), prod(left.map((k) => r[k]!))];
  const [nr, mr, q] = [prod(right.map((k) => n[k]!)), prod(right.map((k) => m[k]!)), prod(right.map((k) => r[k]!))];
  // Left: K[(n m r)_0 (n m r)_1 .., b] -> (n_<s, m_<s, p_<s, b) as ((n m), (p b)).
  const kl = khatriRaoAll(ops, left.map(columns));
  const klAxes = left.flatMap((k) => [n[k]!, m[k]!, r[k]!]);
  const klPerm = [
    ...left.map((_, i) => 3 * i),
    ...left.map((_, i) => 3 * i + 1),
    ...left.map((_, i) => 3 * i + 2),
    s * 3,
  ];
  const x = ops.reshape(ops.transpose(ops.reshape(kl, [...klAxes, N]), klPerm), [nl * ml, pl * N]);
  // The cores as one block-diagonal ((p, b), (q, b')) matrix, C[b, p_<s, q] where b = b' and 0
  // elsewhere: the Khatri-Rao product of C as (p, (q, b')) and [I_N ... I_N] (q copies) as
  // (b, (q, b')). Then one product sums over p within each block: (nm, (q, b)).
  const cm = ops.reshape(ops.transpose(ops.reshape(w.core, [N, pl, q]), [1, 2, 0]), [pl, q * N]);
  const blocks = ops.kron(ops.ones([1, q], cm), ops.eye(N, cm));
  const summed = ops.matMul(x, ops.khatriRao(cm, blocks));
  // (n_<s, m_<s, q, b) -> (n_<s, b, m_<s, q).
  const l = ops.reshape(ops.transpose(ops.reshape(summed, [nl, ml, q, N]), [0, 3, 1, 2]), [nl, N * ml * q]);
  // Right: K[(n m r)_s .., b] -> (b, n_>=s, p_>=s, m_>=s) as ((b, n, q), m).
  const kr2 = khatriRaoAll(ops, right.map(columns));
  const axes = right.flatMap((k) => [n[k]!, m[k]!, r[k]!]);
  const t = right.length;
  const perm = [
    3 * t,
    ...right.map((_, i) => 3 * i),
    ...right.map((_, i) => 3 * i + 2),
    ...right.map((_, i) => 3 * i + 1),
  ];
  const rm = ops.reshape(ops.transpose(ops.reshape(kr2, [...axes, N]), perm), [N * nr * q, mr]);
  return [l, rm];
}

/** The split point of a grouping (the first group's size); default the middle. */
function splitOf(d: number, groups: readonly number[] | undefined, fn: string): number {
  if (!groups) return Math.ceil(d / 2);
  checkTtGroups(fn, groups, d);
  check(
    groups[0]! < d,
    'INVALID_ARGUMENT',
    () => `${fn}: a Block-Term product splits the modes in two: the first group must leave a mode, got ${fmt(groups)}`,
  );
  return groups[0]!;
}

/**
 * x W as two matMuls, never forming W: x (rows of n_<s, the other modes with the batch) times L, then
 * the value laid out as ((M_<s), (N, N_>=s, Q)) times R, which sums the blocks. With `groups`, the
 * modes split after the first group (the planner tries every split).
 */
export function btStages<C extends Computable>(
  ops: Ops<C>,
  w: BtMatrix<C>,
  groups?: readonly number[],
): StagedMatmul<C> {
  const d = w.factors.length;
  const s = splitOf(d, groups, 'btStages');
  const [l, r] = btHalves(ops, w, s);
  const { inModes: n, outModes: m, ranks } = w;
  const nl = prod(n.slice(0, s));
  const ml = prod(m.slice(0, s));
  const q = prod(ranks.slice(s));
  const nr = prod(n.slice(s));
  // Stage 1: axes (n_0..n_{d-1}) -> (n_>=s | n_<s).
  const sizes1 = [nl, nr];
  const view1 = layoutView(sizes1, [1, 0], nl);
  // Stage 2: axes (n_>=s, b, m_<s, q) -> (m_<s | b, n_>=s, q).
  const sizes2 = [nr, w.blocks, ml, q];
  const view2 = layoutView(sizes2, [2, 1, 0, 3], w.blocks * nr * q);
  return {
    stages: [
      { view: view1, matrix: l },
      { view: view2, matrix: r },
    ],
    outView: [{ reshape: [-1, prod(m)] }],
    inSize: prod(n),
  };
}

/** The dense (N x M) matrix, on any Ops: the two halves' product over (blocks, q), modes reordered. */
export function btDense<C extends Computable>(ops: Ops<C>, w: BtMatrix<C>): C {
  const d = w.factors.length;
  const s = Math.ceil(d / 2);
  const [l, r] = btHalves(ops, w, s);
  const { inModes: n, outModes: m, ranks } = w;
  const [nl, ml, q, nr, mr, N] = [
    prod(n.slice(0, s)),
    prod(m.slice(0, s)),
    prod(ranks.slice(s)),
    prod(n.slice(s)),
    prod(m.slice(s)),
    w.blocks,
  ];
  const lm = ops.reshape(ops.transpose(ops.reshape(l, [nl, N, ml, q]), [0, 2, 1, 3]), [nl * ml, N * q]);
  const rm = ops.reshape(ops.transpose(ops.reshape(r, [N, nr, q, mr]), [0, 2, 1, 3]), [N * q, nr * mr]);
  const full = ops.reshape(ops.matMul(lm, rm), [nl, ml, nr, mr]);
  return ops.reshape(ops.transpose(full, [0, 2, 1, 3]), [nl * nr, ml * mr]);
}

/** The dense matrix of a Block-Term matrix of TF.js tensors or float64 arrays. */
export function btMatrixToDense(w: BtMatrix<tf.Tensor>): tf.Tensor2D;
export function btMatrixToDense(w: BtMatrix<NdArray>): NdArray;
export function btMatrixToDense<C extends Core>(w: BtMatrix<C>): C {
  return tidyFor(w.core, () => btDense(opsFor(w.core), w));
}

/** y = x W for x of shape (B, prod n_k), without forming W (see btStages). Returns (B, prod m_k). */
export function btMatmul(x: tf.Tensor2D, w: BtMatrix<tf.Tensor>): tf.Tensor2D;
export function btMatmul(x: NdArray, w: BtMatrix<NdArray>): NdArray;
export function btMatmul<C extends Core>(x: C, w: BtMatrix<C>): C {
  const ops = opsFor(x);
  checkBatchInput('btMatmul', x, prod(w.inModes));
  return tidyFor(x, () => applyStages(ops, x, btStages(ops, w)));
}

type BtSpec = { readonly format: 'bt'; readonly ranks: readonly number[]; readonly blocks: number };

/** The 'bt' format's definition (see FormatDefinition). */
export const btFormat: FormatDefinition<BtMatrix<Computable>> = {
  name: 'bt',
  title: 'BT',
  kind: 'bt-matrix',
  specFields: ['ranks', 'blocks'],
  specHelp: 'ranks (d numbers) and blocks (the number of Tucker blocks, e.g. 2)',
  modeCount: (spec) => {
    const ranks = (spec as Partial<BtSpec>).ranks;
    return Array.isArray(ranks) ? ranks.length : undefined;
  },
  shape(fn, spec, modes, sizes) {
    const s = spec as BtSpec;
    const shape = { kind: 'bt-matrix' as const, ...modes, ranks: s.ranks, blocks: s.blocks };
    checkBtMatrixSpec(fn, shape, sizes);
    return shape;
  },
  spec: (shape) => {
    const s = shape as BtMatrixSpec;
    return { format: 'bt', ranks: s.ranks, blocks: s.blocks } as FormatSpec;
  },
  parts: (shape) => {
    const { ranks, inModes, outModes, blocks } = shape as BtMatrixSpec;
    return [
      { name: 'core', shape: [blocks, ...ranks] },
      ...inModes.map((nk, k) => ({ name: `factor${k}`, shape: [blocks, nk, outModes[k]!, ranks[k]!] })),
    ];
  },
  assemble: (shape, tensors) => {
    const s = shape as BtMatrixSpec;
    return {
      kind: 'bt-matrix',
      inModes: s.inModes,
      outModes: s.outModes,
      ranks: s.ranks,
      blocks: s.blocks,
      core: tensors[0]!,
      factors: tensors.slice(1),
    };
  },
  tensors: (w) => {
    const b = w as BtMatrix<never>;
    return [b.core, ...b.factors];
  },
  init: (shape, options) => btMatrixInit(shape as BtMatrixSpec, options),
  dense: (ops, w) => btDense(ops, w as BtMatrix<never>),
  stages: (ops, w, groups) => btStages(ops, w as BtMatrix<never>, groups),
  groupings: (shape) =>
    Array.from({ length: shape.inModes.length - 1 }, (_, i) => [i + 1, shape.inModes.length - 1 - i]),
  paramCount: (shape) => btMatrixParamCount(shape as BtMatrixSpec),
  largestWithin(matrices, budget) {
    // Uniform ranks r and 1 to 8 blocks: the largest count within the budget (fewer blocks on a tie).
    const d = matrices[0]!.inModes.length;
    let best: { spec: BtSpec; count: number } | undefined;
    for (let blocks = 1; blocks <= 8; blocks++) {
      for (let r = 1; ; r++) {
        const ranks = new Array<number>(d).fill(r);
        if (matrices.some((mm) => ranks.some((rk, k) => rk > mm.inModes[k]! * mm.outModes[k]!))) break;
        const count = matrices.reduce((sum, mm) => sum + btMatrixParamCount({ ...mm, ranks, blocks }), 0);
        if (count > budget) break;
        if (!best || count > best.count) best = { spec: { format: 'bt', ranks, blocks }, count };
      }
    }
    return best?.spec as FormatSpec | undefined;
  },
  smallest: (d) => ({ format: 'bt', ranks: new Array<number>(d).fill(1), blocks: 1 }) as FormatSpec,
};
