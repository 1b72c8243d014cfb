import type * as tf from '@tensorflow/tfjs-core';
import { prepareCpFactors } from '../contract/cp.js';
import { modeProducts } from '../contract/mode_products.js';
import { coreGroupings, mergeTtCores, type StagedMatmul, ttStages } from '../contract/tt.js';
import { prepareTuckerFactors } from '../contract/tucker.js';
import { check, fmt } from '../errors.js';
import { cpMatrixInit, type InitOptions, ttMatrixInit, tuckerMatrixInit } from '../init.js';
import type { Computable, Core, Ops } from '../ops.js';
import {
  checkCpMatrixSpec,
  checkTtMatrixSpec,
  checkTuckerMatrixSpec,
  cpMatrixParamCount,
  type SizeCheck,
  ttMatrixParamCount,
  tuckerMatrixParamCount,
} from '../params.js';
import { prod } from '../prod.js';
import type { CpMatrix } from './cp.js';
import type { MatrixFormat, MatrixShape } from './matrix.js';
import { btFormat } from './bt.js';
import { trFormat } from './tr.js';
import type { TtMatrix } from './tt.js';
import type { TuckerMatrix } from './tucker.js';

/**
 * A format's ranks by its short name: what a user writes (the cells' weight specs, compressMatrix).
 * The one vocabulary of formats: every definition below reads and writes these.
 */
export type FormatSpec =
  | { readonly format: 'tt'; readonly ranks: readonly number[] }
  | { readonly format: 'cp'; readonly rank: number }
  | { readonly format: 'tucker'; readonly ranks: readonly number[]; readonly outRanks?: readonly number[] }
  | { readonly format: 'tr'; readonly ranks: readonly number[] }
  | { readonly format: 'bt'; readonly ranks: readonly number[]; readonly blocks: number };

/** The short names of the factorised matrix formats: 'tt', 'cp', 'tucker'. */
export type FormatName = FormatSpec['format'];

/** A matrix's modes: n_1..n_d (rows) and m_1..m_d (columns). */
export interface Modes {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
}

/** One stored tensor of a format: its name within the matrix (`core0`, `in1`, ...) and shape. */
export interface FormatPart {
  readonly name: string;
  readonly shape: number[];
}

/**
 * Everything the library knows about one factorised matrix format, in one place: the planner,
 * prepareMatmul, the cost trace, parameter counts, initialisation and the cells package read it
 * from here. A new format is a module with its type, contraction and rebuild, and one entry in
 * FORMATS.
 */
export interface FormatDefinition<F extends MatrixFormat<Computable> = MatrixFormat<Computable>> {
  /** The short name (a FormatSpec's `format`). */
  readonly name: FormatName;
  /** Its name in prose: 'TT', 'CP', 'Tucker'. */
  readonly title: string;
  /** The `kind` tag of its MatrixFormat and MatrixShape. */
  readonly kind: F['kind'];
  /** The FormatSpec fields beside `format`, e.g. ['ranks'] (for option lists and messages). */
  readonly specFields: readonly string[];
  /** What the spec's fields are, for messages: 'ranks (d + 1 numbers, r_0 = r_d = 1)'. */
  readonly specHelp: string;
  /** How many modes a spec implies when it says (TT: ranks.length - 1); undefined if any d fits. */
  modeCount(spec: FormatSpec): number | undefined;
  /**
   * The format's sizes from a spec and modes, validated: DecompError naming `fn` and the field. With
   * `sizes`, the modes must multiply to them.
   */
  shape(fn: string, spec: FormatSpec, modes: Modes, sizes?: SizeCheck): MatrixShape;
  /** The spec of a shape (the inverse of `shape`). */
  spec(shape: MatrixShape): FormatSpec;
  /** The stored tensors of a matrix of this shape, in a fixed order. */
  parts(shape: MatrixShape): FormatPart[];
  /** The format over tensors given in `parts` order (shapes not checked again). */
  assemble<C extends Computable>(shape: MatrixShape, tensors: readonly C[]): F;
  /** The format's tensors in `parts` order. */
  tensors<C extends Computable>(w: MatrixFormat<C>): C[];
  /** Random factors whose rebuilt matrix has the target std (see init.ts). */
  init(shape: MatrixShape, options?: InitOptions): MatrixFormat<tf.Tensor>;
  /** The dense (N x M) matrix, on any Ops. */
  dense<C extends Computable>(ops: Ops<C>, w: MatrixFormat<C>): C;
  /** The factorised product x W as matMul stages with layout views (see stagedProduct). */
  stages<C extends Computable>(ops: Ops<C>, w: MatrixFormat<C>, groups?: readonly number[]): StagedMatmul<C>;
  /**
   * The groupings of its factors the planner tries for the factorised path (consecutive TT cores
   * merged per group); absent when the format has none.
   */
  groupings?(shape: MatrixShape): number[][];
  /** Parameters of a matrix of this shape (the paper's formulas, params.ts). */
  paramCount(shape: MatrixShape): number;
  /**
   * The spec with the most parameters summed over `matrices` (all with the same spec) that is at
   * most `budget`, or undefined when even the smallest is over. Ranks above what the modes can use
   * are not tried.
   */
  largestWithin(matrices: readonly Modes[], budget: number): FormatSpec | undefined;
  /** The smallest spec for d modes (every rank 1). */
  smallest(d: number): FormatSpec;
}

type Narrow<F extends MatrixFormat<Computable>, S extends FormatSpec['format']> = {
  w: F;
  spec: Extract<FormatSpec, { format: S }>;
  shape: Extract<MatrixShape, { kind: F['kind'] }>;
};

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** The largest `count` at most `budget` over rank vectors searched depth first, pruned by the budget. */
function searchRanks(
  positions: number,
  caps: readonly number[],
  count: (ranks: number[]) => number,
  budget: number,
): number[] | undefined {
  const ranks = new Array<number>(positions).fill(1);
  let best: number[] | undefined;
  let bestCount = -1;
  let visited = 0;
  const search = (k: number): void => {
    if (k === positions || visited > 2_000_000) return;
    for (let r = 1; r <= caps[k]!; r++) {
      ranks[k] = r;
      visited++;
      const c = count(ranks);
      // Counts grow with every rank: once over budget with the later ranks at 1, stop.
      if (c > budget) break;
      if (c > bestCount) {
        best = [...ranks];
        bestCount = c;
      }
      search(k + 1);
    }
    ranks[k] = 1;
  };
  search(0);
  return best;
}

type TtNarrow = Narrow<TtMatrix<Computable>, 'tt'>;
const tt: FormatDefinition<TtMatrix<Computable>> = {
  name: 'tt',
  title: 'TT',
  kind: 'tt-matrix',
  specFields: ['ranks'],
  specHelp: 'ranks (d + 1 numbers, e.g. [1, 4, 4, 1])',
  modeCount: (spec) => (spec as TtNarrow['spec']).ranks?.length - 1,
  shape(fn, spec, modes, sizes) {
    const shape = { kind: 'tt-matrix' as const, ...modes, ranks: (spec as TtNarrow['spec']).ranks };
    checkTtMatrixSpec(fn, shape, sizes);
    return shape;
  },
  spec: (shape) => ({ format: 'tt', ranks: (shape as TtNarrow['shape']).ranks }),
  parts: (shape) => {
    const { ranks, inModes, outModes } = shape as TtNarrow['shape'];
    return inModes.map((n, k) => ({ name: `core${k}`, shape: [ranks[k]!, n, outModes[k]!, ranks[k + 1]!] }));
  },
  assemble: (shape, cores) => {
    const s = shape as TtNarrow['shape'];
    return { kind: 'tt-matrix', inModes: s.inModes, outModes: s.outModes, ranks: s.ranks, cores: [...cores] };
  },
  tensors: (w) => [...(w as TtMatrix<never>).cores],
  init: (shape, options) => ttMatrixInit(shape as TtNarrow['shape'], options),
  dense: (ops, w) => {
    const m = w as TtMatrix<never>;
    return ops.reshape(mergeTtCores(ops, m.cores), [prod(m.inModes), prod(m.outModes)]);
  },
  stages: (ops, w, groups) => ttStages(ops, w as TtMatrix<never>, groups),
  groupings: (shape) => coreGroupings(shape.inModes.length),
  paramCount: (shape) => ttMatrixParamCount(shape as TtNarrow['shape']),
  largestWithin(matrices, budget) {
    const d = matrices[0]!.inModes.length;
    // A bond rank above the size of either side adds nothing: cap it there.
    const caps = Array.from({ length: d - 1 }, (_, k) =>
      Math.min(
        ...matrices.flatMap(({ inModes, outModes }) => [
          prod(inModes.slice(0, k + 1)) * prod(outModes.slice(0, k + 1)),
          prod(inModes.slice(k + 1)) * prod(outModes.slice(k + 1)),
        ]),
      ),
    );
    const count = (inner: number[]): number =>
      sum(matrices.map((m) => ttMatrixParamCount({ ...m, ranks: [1, ...inner, 1] })));
    if (d === 1) return count([]) <= budget ? { format: 'tt', ranks: [1, 1] } : undefined;
    const inner = searchRanks(d - 1, caps, count, budget);
    return inner ? { format: 'tt', ranks: [1, ...inner, 1] } : undefined;
  },
  smallest: (d) => ({ format: 'tt', ranks: new Array<number>(d + 1).fill(1) }),
};

type CpNarrow = Narrow<CpMatrix<Computable>, 'cp'>;
const cp: FormatDefinition<CpMatrix<Computable>> = {
  name: 'cp',
  title: 'CP',
  kind: 'cp-matrix',
  specFields: ['rank'],
  specHelp: 'rank (a positive integer)',
  modeCount: () => undefined,
  shape(fn, spec, modes, sizes) {
    const shape = { kind: 'cp-matrix' as const, ...modes, rank: (spec as CpNarrow['spec']).rank };
    checkCpMatrixSpec(fn, shape, sizes);
    return shape;
  },
  spec: (shape) => ({ format: 'cp', rank: (shape as CpNarrow['shape']).rank }),
  parts: (shape) => {
    const { rank, inModes, outModes, weights } = shape as CpNarrow['shape'];
    return [
      ...inModes.map((n, k) => ({ name: `in${k}`, shape: [n, rank] })),
      ...outModes.map((m, k) => ({ name: `out${k}`, shape: [m, rank] })),
      ...(weights !== undefined ? [{ name: 'weights', shape: [rank] }] : []),
    ];
  },
  assemble: (shape, tensors) => {
    const s = shape as CpNarrow['shape'];
    const d = s.inModes.length;
    return {
      kind: 'cp-matrix',
      inModes: s.inModes,
      outModes: s.outModes,
      rank: s.rank,
      inFactors: tensors.slice(0, d),
      outFactors: tensors.slice(d, 2 * d),
      weights: tensors[2 * d],
    };
  },
  tensors: (w) => {
    const m = w as CpMatrix<never>;
    return [...m.inFactors, ...m.outFactors, ...(m.weights !== undefined ? [m.weights] : [])];
  },
  init: (shape, options) => cpMatrixInit(shape as CpNarrow['shape'], options),
  dense: (ops, w) => {
    const [a, bt] = prepareCpFactors(ops, w as CpMatrix<never>);
    return ops.matMul(a, bt);
  },
  stages: (ops, w) => ({
    stages: prepareCpFactors(ops, w as CpMatrix<never>).map((matrix) => ({ view: [], matrix })),
    outView: [],
  }),
  paramCount: (shape) =>
    cpMatrixParamCount(shape as CpNarrow['shape'], { weights: (shape as CpNarrow['shape']).weights !== undefined }),
  largestWithin(matrices, budget) {
    const perRank = sum(matrices.map((m) => cpMatrixParamCount({ ...m, rank: 1 })));
    const rank = Math.floor(budget / perRank);
    return rank >= 1 ? { format: 'cp', rank } : undefined;
  },
  smallest: () => ({ format: 'cp', rank: 1 }),
};

type TuckerNarrow = Narrow<TuckerMatrix<Computable>, 'tucker'>;
const tucker: FormatDefinition<TuckerMatrix<Computable>> = {
  name: 'tucker',
  title: 'Tucker',
  kind: 'tucker-matrix',
  specFields: ['ranks', 'outRanks'],
  specHelp: 'ranks (d numbers; outRanks too when the output ranks differ)',
  modeCount: (spec) => (spec as TuckerNarrow['spec']).ranks?.length,
  shape(fn, spec, modes, sizes) {
    const s = spec as TuckerNarrow['spec'];
    const [inRanks, outRanks] = checkTuckerMatrixSpec(
      fn,
      { ...modes, inRanks: s.ranks, ...(s.outRanks ? { outRanks: s.outRanks } : {}) },
      sizes,
    );
    return { kind: 'tucker-matrix', ...modes, inRanks, outRanks };
  },
  spec: (shape) => {
    const { inRanks, outRanks = inRanks } = shape as TuckerNarrow['shape'];
    const same = fmt(inRanks) === fmt(outRanks);
    return { format: 'tucker', ranks: inRanks, ...(same ? {} : { outRanks }) };
  },
  parts: (shape) => {
    const { inRanks, outRanks = inRanks, inModes, outModes } = shape as TuckerNarrow['shape'];
    return [
      { name: 'core', shape: [...inRanks, ...outRanks] },
      ...inModes.map((n, k) => ({ name: `in${k}`, shape: [n, inRanks[k]!] })),
      ...outModes.map((m, k) => ({ name: `out${k}`, shape: [m, outRanks[k]!] })),
    ];
  },
  assemble: (shape, tensors) => {
    const s = shape as TuckerNarrow['shape'];
    const d = s.inModes.length;
    return {
      kind: 'tucker-matrix',
      inModes: s.inModes,
      outModes: s.outModes,
      inRanks: s.inRanks,
      outRanks: s.outRanks ?? s.inRanks,
      core: tensors[0]!,
      inFactors: tensors.slice(1, 1 + d),
      outFactors: tensors.slice(1 + d, 1 + 2 * d),
    };
  },
  tensors: (w) => {
    const m = w as TuckerMatrix<never>;
    return [m.core, ...m.inFactors, ...m.outFactors];
  },
  init: (shape, options) => tuckerMatrixInit(shape as TuckerNarrow['shape'], options),
  dense: (ops, w) => {
    const m = w as TuckerMatrix<never>;
    const ranks = [...m.inRanks, ...m.outRanks];
    const flat = ops.reshape(m.core, [1, prod(ranks)]);
    const dense = modeProducts(ops, flat, ranks, [...m.inFactors, ...m.outFactors], true);
    return ops.reshape(dense, [prod(m.inModes), prod(m.outModes)]);
  },
  stages: (ops, w) => ({
    stages: prepareTuckerFactors(ops, w as TuckerMatrix<never>).map((matrix) => ({ view: [], matrix })),
    outView: [],
  }),
  paramCount: (shape) => tuckerMatrixParamCount(shape as TuckerNarrow['shape']),
  largestWithin(matrices, budget) {
    const d = matrices[0]!.inModes.length;
    const caps = Array.from({ length: d }, (_, k) =>
      Math.min(...matrices.flatMap((m) => [m.inModes[k]!, m.outModes[k]!])),
    );
    const count = (ranks: number[]): number =>
      sum(matrices.map((m) => tuckerMatrixParamCount({ ...m, inRanks: ranks })));
    const ranks = searchRanks(d, caps, count, budget);
    return ranks ? { format: 'tucker', ranks } : undefined;
  },
  smallest: (d) => ({ format: 'tucker', ranks: new Array<number>(d).fill(1) }),
};

/** The factorised matrix formats, by short name. */
export const FORMATS: Readonly<Record<FormatName, FormatDefinition>> = {
  tt: tt as unknown as FormatDefinition,
  cp: cp as unknown as FormatDefinition,
  tucker: tucker as unknown as FormatDefinition,
  tr: trFormat as unknown as FormatDefinition,
  bt: btFormat as unknown as FormatDefinition,
};

/** The short names, in a fixed order. */
export const FORMAT_NAMES = Object.keys(FORMATS) as FormatName[];

const byKind = new Map<string, FormatDefinition>(Object.values(FORMATS).map((f) => [f.kind, f]));

/** The definition of a format, by its short name ('tt') or a matrix/shape's kind ('tt-matrix'). */
export function formatDefinition(nameOrKind: string, fn = 'formatDefinition'): FormatDefinition {
  const def = (FORMATS as Record<string, FormatDefinition>)[nameOrKind] ?? byKind.get(nameOrKind);
  check(
    def !== undefined,
    'INVALID_ARGUMENT',
    () => `${fn}: format must be one of ${FORMAT_NAMES.map((n) => `'${n}'`).join(', ')}, got ${fmt(nameOrKind)}`,
  );
  return def;
}

/** The definition of a matrix's or shape's format. */
export function definitionOf(w: { readonly kind: string }): FormatDefinition {
  return formatDefinition(w.kind);
}

/** The number of stored values of a format (cores, factors, weights). */
export function paramCount(w: MatrixFormat<Core>): number {
  return sum(
    definitionOf(w)
      .tensors(w)
      .map((c) => prod(c.shape)),
  );
}
