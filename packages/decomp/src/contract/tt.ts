import type * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from '../errors.js';
import type { TtMatrix, TtTensor } from '../formats/tt.js';
import type { NdArray } from '../ndarray.js';
import { type Computable, type Core, type Ops, opsFor, tidyFor } from '../ops.js';
import { prod } from '../prod.js';

/**
 * The dense (prod n_k, prod m_k) matrix of a TT-matrix. The cores are merged by halves (see
 * mergeTtCores), so that the last and largest transpose keeps whole rows of the right half's output
 * modes together: far cheaper than interleaving one mode at a time.
 */
export function ttMatrixToDense(w: TtMatrix<tf.Tensor>): tf.Tensor2D;
export function ttMatrixToDense(w: TtMatrix<NdArray>): NdArray;
export function ttMatrixToDense<C extends Core>(w: TtMatrix<C>): C {
  const first = w.cores[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    const merged = mergeTtCores(ops, w.cores);
    return ops.reshape(merged, [merged.shape[1]!, merged.shape[2]!]);
  });
}

/**
 * Merges consecutive TT-matrix cores (r_a, n, m, r_b) into one core (r_0, prod n, prod m, r_end):
 * the two halves are merged recursively, then joined by one matMul and one transpose that
 * interleaves their row and column indices.
 */
export function mergeTtCores<C extends Computable>(ops: Ops<C>, cores: readonly C[]): C {
  if (cores.length === 1) return cores[0]!;
  const half = Math.ceil(cores.length / 2);
  const a = mergeTtCores(ops, cores.slice(0, half));
  const b = mergeTtCores(ops, cores.slice(half));
  const [r0, na, ma, s] = a.shape as [number, number, number, number];
  const [, nb, mb, re] = b.shape as [number, number, number, number];
  const prod = ops.matMul(ops.reshape(a, [r0 * na * ma, s]), ops.reshape(b, [s, nb * mb * re]));
  const joined = ops.transpose(ops.reshape(prod, [r0 * na, ma, nb, mb * re]), [0, 2, 1, 3]);
  return ops.reshape(joined, [r0, na * nb, ma * mb, re]);
}

/** The dense tensor of shape (n_1..n_d) of a TT tensor. */
export function ttToDense(t: TtTensor<tf.Tensor>): tf.Tensor;
export function ttToDense(t: TtTensor<NdArray>): NdArray;
export function ttToDense<C extends Core>(t: TtTensor<C>): C {
  const first = t.cores[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    // A TT tensor is a TT-matrix whose output modes are all 1.
    const cores = t.cores.map((c) => ops.reshape(c, [c.shape[0]!, c.shape[1]!, 1, c.shape[2]!]));
    const asMatrix: TtMatrix<C> = {
      kind: 'tt-matrix',
      inModes: t.shape,
      outModes: t.shape.map(() => 1),
      ranks: t.ranks,
      cores,
    };
    return ops.reshape(ttMatrixToDense(asMatrix as never) as C, t.shape);
  });
}

/**
 * One reshape or transpose: a layout change without arithmetic. A leading -1 in a reshape stands for
 * the batch (whatever is left).
 */
export type ViewOp = { readonly reshape: readonly number[] } | { readonly transpose: readonly number[] };

/**
 * One matMul of a staged product: the running value is laid out by `view` (reshapes and transposes
 * only), then multiplied by `matrix`. Every contraction of this package is such a chain of stages,
 * so that a caller can differentiate it by hand (see @tensorized/cells' fused GRU).
 */
export interface MatmulStage<C extends Computable = tf.Tensor> {
  readonly view: readonly ViewOp[];
  readonly matrix: C;
}

/** A product x W = outView(view_k(... view_1(view_0(x) M_0) M_1 ...) M_k). */
export interface StagedMatmul<C extends Computable = tf.Tensor> {
  readonly stages: readonly MatmulStage<C>[];
  /** Lays the last matMul's output out as (B, M). */
  readonly outView: readonly ViewOp[];
  /**
   * The width N of the x it multiplies, where the first matrix's rows are not it (a view reshapes
   * x first: TT and TR stages). Read it with stagedInSize.
   */
  readonly inSize?: number;
  /**
   * Set by ttStages: the modes and ranks of the (merged) cores whose matrices the stages are, which
   * stageGradientsFromDense needs.
   */
  readonly tt?: {
    readonly inModes: readonly number[];
    readonly outModes: readonly number[];
    readonly ranks: readonly number[];
  };
  /**
   * Set by withBatchOne, for a product at batch 1: the first stage's matrix transposed and the
   * second core in its own row order.
   */
  readonly batchOne?: { readonly first: C; readonly second: C };
}

export function applyView<C extends Computable>(ops: Ops<C>, x: C, view: readonly ViewOp[]): C {
  const shapes = viewShapes(x.shape, view);
  let y = x;
  view.forEach((op, i) => {
    y = 'reshape' in op ? ops.reshape(y, shapes[i + 1]!) : ops.transpose(y, op.transpose);
  });
  return y;
}

/** The shapes a view passes through, from its input's shape (the -1 resolved). */
function viewShapes(shape: readonly number[], view: readonly ViewOp[]): number[][] {
  const shapes = [[...shape]];
  let cur = [...shape];
  const size = prod(cur);
  for (const op of view) {
    if ('reshape' in op) {
      const known = op.reshape.reduce((a, b) => (b === -1 ? a : a * b), 1);
      cur = op.reshape.map((d) => (d === -1 ? size / known : d));
    } else {
      cur = op.transpose.map((a) => cur[a]!);
    }
    shapes.push(cur);
  }
  return shapes;
}

/**
 * The inverse of applyView: `g`, shaped like the view's output, back to `inputShape` (what a
 * gradient does through a view).
 */
export function unapplyView<C extends Computable>(
  ops: Ops<C>,
  g: C,
  view: readonly ViewOp[],
  inputShape: readonly number[],
): C {
  let y = g;
  for (const op of inverseView(view, inputShape)) {
    y = 'reshape' in op ? ops.reshape(y, op.reshape) : ops.transpose(y, op.transpose);
  }
  return y;
}

/**
 * The view that undoes `view` for an input of `inputShape`: its steps backwards, each reshape to
 * the shape before it, each transpose by the inverse permutation (unapplyView applies it).
 */
export function inverseView(view: readonly ViewOp[], inputShape: readonly number[]): ViewOp[] {
  const shapes = viewShapes(inputShape, view);
  const out: ViewOp[] = [];
  for (let i = view.length - 1; i >= 0; i--) {
    const op = view[i]!;
    if ('reshape' in op) {
      out.push({ reshape: shapes[i]! });
    } else {
      const inverse = new Array<number>(op.transpose.length);
      op.transpose.forEach((a, j) => {
        inverse[a] = j;
      });
      out.push({ transpose: inverse });
    }
  }
  return out;
}

/** x (B, N) times a staged product. */
export function applyStages<C extends Computable>(ops: Ops<C>, x: C, staged: StagedMatmul<C>): C {
  if (staged.batchOne && staged.tt && x.shape[0] === 1) {
    const [N1, N2] = staged.tt.inModes as [number, number];
    const [M1, M2] = staged.tt.outModes as [number, number];
    const r = staged.tt.ranks[1]!;
    const t = ops.matMul(staged.batchOne.first, ops.reshape(x, [N1, N2]));
    return ops.reshape(ops.matMul(ops.reshape(t, [M1, r * N2]), staged.batchOne.second), [1, M1 * M2]);
  }
  let y = x;
  for (const stage of staged.stages) y = viewThenMatMul(ops, y, stage.view, stage.matrix);
  return applyView(ops, y, staged.outView);
}

/**
 * A TT-matrix contracted in two (merged) cores G_1 (1, N_1, M_1, r) and G_2 (r, N_2, M_2, 1) gains a
 * batch-1 product without a transpose: with X = x as (N_1 x N_2), T = G_1^T X is (M_1 r x N_2),
 * already laid out as (M_1) x (r N_2), and y = T G_2 with G_2's rows in its own (r, N_2) order,
 * where the stages at any batch need a transpose between the two products. Both matrices are copies
 * made here, once: G_1^T as a plain (M_1 r x N_1) matrix, because a matMul with transposeA is about
 * 1.5x slower on wasm (its blocked fallback instead of XNNPACK). Other staged products are returned
 * as they are.
 */
export function withBatchOne<C extends Computable>(ops: Ops<C>, staged: StagedMatmul<C>): StagedMatmul<C> {
  const tt = staged.tt;
  if (!tt || staged.stages.length !== 2 || tt.inModes.length !== 2) return staged;
  const N2 = tt.inModes[1]!;
  const M2 = tt.outModes[1]!;
  const r = tt.ranks[1]!;
  // Stage 2's matrix has rows (N_2, r).
  const second = ops.reshape(ops.transpose(ops.reshape(staged.stages[1]!.matrix, [N2, r, M2]), [1, 0, 2]), [
    r * N2,
    M2,
  ]);
  const first = ops.transpose(staged.stages[0]!.matrix, [1, 0]);
  return { ...staged, batchOne: { first, second } };
}

/**
 * matMul(applyView(x, view), matrix), with the view's transpose left to the matMul where it is the
 * transpose of a matrix: when the view's one transpose only swaps two blocks of axes (size-1 axes
 * aside; at batch 1 the batch axis is such an axis) and the laid-out (m x n) matrix is the transpose
 * of x seen as (n x m), it is matMul(x as (n x m), matrix, transposeA): one kernel and no copy
 * instead of a transpose and a product.
 */
export function viewThenMatMul<C extends Computable>(ops: Ops<C>, x: C, view: readonly ViewOp[], matrix: C): C {
  const folded = foldedTranspose(x.shape, view);
  if (folded) return ops.matMul(ops.reshape(x, folded), matrix, true, false);
  return ops.matMul(applyView(ops, x, view), matrix);
}

/**
 * The (n x m) shape of x whose transpose the view lays out, where it is one (viewThenMatMul then
 * multiplies x seen as (n x m) with transposeA); else undefined.
 */
export function foldedTranspose(shape: readonly number[], view: readonly ViewOp[]): [number, number] | undefined {
  const at = view.findIndex((op) => 'transpose' in op);
  if (at < 0 || view.slice(at + 1).some((op) => 'transpose' in op)) return undefined;
  const shapes = viewShapes(shape, view);
  const out = shapes[shapes.length - 1]!;
  if (out.length !== 2) return undefined;
  const before = shapes[at]!;
  const perm = (view[at] as { transpose: readonly number[] }).transpose;
  // The permutation of the axes larger than 1, in their order: a rotation [j..k-1, 0..j-1] swaps two blocks.
  const kept = before.map((_, a) => a).filter((a) => before[a]! > 1);
  const rank = new Map(kept.map((a, i) => [a, i]));
  const p = perm.filter((a) => before[a]! > 1).map((a) => rank.get(a)!);
  const k = p.length;
  if (k < 2) return undefined;
  const j = p[0]!;
  if (j === 0 || !p.every((q, i) => q === (j + i) % k)) return undefined;
  const n = kept.slice(0, j).reduce((s, a) => s * before[a]!, 1);
  const m = kept.slice(j).reduce((s, a) => s * before[a]!, 1);
  return out[0] === m && out[1] === n ? [n, m] : undefined;
}

/** The width N of the x a staged product multiplies. */
export function stagedInSize<C extends Computable>(staged: StagedMatmul<C>): number {
  return staged.inSize ?? (staged.tt ? prod(staged.tt.inModes) : staged.stages[0]!.matrix.shape[0]!);
}

/** Checks a grouping of d cores into consecutive groups (positive sizes that sum to d). */
export function checkTtGroups(fn: string, groups: readonly number[], d: number): void {
  check(
    groups.length > 0 && groups.every((g) => Number.isInteger(g) && g > 0) && groups.reduce((a, b) => a + b, 0) === d,
    'INVALID_ARGUMENT',
    () => `${fn}: groups must be positive integers that sum to the number of cores (${d}), got ${fmt(groups)}`,
  );
}

/** Every way to split d consecutive cores into groups (compositions of d), more than one group each. */
export function coreGroupings(d: number): number[][] {
  if (d === 1) return [[1]];
  const out: number[][] = [];
  for (let mask = 0; mask < 2 ** (d - 1); mask++) {
    const groups: number[] = [];
    let size = 1;
    for (let i = 0; i < d - 1; i++) {
      if (mask & (1 << i)) {
        size++;
      } else {
        groups.push(size);
        size = 1;
      }
    }
    groups.push(size);
    // One group is the whole matrix rebuilt: the 'rebuild' path.
    if (groups.length > 1) out.push(groups);
  }
  return out;
}

/** The TT-matrix whose cores are consecutive groups of w's cores, each merged (mergeTtCores). */
export function groupTtCores<C extends Computable>(
  ops: Ops<C>,
  w: TtMatrix<C>,
  groups: readonly number[],
): TtMatrix<C> {
  checkTtGroups('groupTtCores', groups, w.cores.length);
  const cores: C[] = [];
  const inModes: number[] = [];
  const outModes: number[] = [];
  const ranks: number[] = [w.ranks[0]!];
  let k = 0;
  for (const g of groups) {
    cores.push(mergeTtCores(ops, w.cores.slice(k, k + g)));
    inModes.push(prod(w.inModes.slice(k, k + g)));
    outModes.push(prod(w.outModes.slice(k, k + g)));
    k += g;
    ranks.push(w.ranks[k]!);
  }
  return { kind: 'tt-matrix', inModes, outModes, ranks, cores };
}

/**
 * The transpose before core k of ttStages: the value (B prod m_<k-1, dims...) is permuted by `perm`.
 * At core 0 (r_0 = 1) the input is (B, n_0, rest); later, (.., n_k, rest, m_{k-1}, r_k). `needed`
 * is false when the transpose moves only axes of size 1 (it would copy the data unchanged).
 */
export function ttStageLayout(
  k: number,
  inModes: readonly number[],
  outModes: readonly number[],
  ranks: readonly number[],
): { dims: number[]; perm: number[]; needed: boolean } {
  const nk = inModes[k]!;
  const rest = prod(inModes.slice(k + 1));
  const dims = k === 0 ? [nk, rest] : [nk, rest, outModes[k - 1]!, ranks[k]!];
  const perm = k === 0 ? [0, 2, 1] : [0, 3, 2, 1, 4];
  const moved = perm.slice(1).filter((a) => dims[a - 1]! > 1);
  return { dims, perm, needed: moved.some((a, i) => i > 0 && a < moved[i - 1]!) };
}

/**
 * The stages of y = x W for a TT-matrix, its cores contracted first to last with the batch axis
 * kept in front: at core k the value is (B prod m_<k, n_k, prod n_>k, r_k) laid out as rows of
 * (n_k r_k), times core k as an (n_k r_k) x (m_k r_{k+1}) matrix. One transpose and one matMul per
 * core; the output's rows are already (B, m_1 .. m_d). With `groups`, consecutive cores are merged
 * first (groupTtCores): fewer, larger matMuls and fewer transposes.
 */
export function ttStages<C extends Computable>(
  ops: Ops<C>,
  w: TtMatrix<C>,
  groups?: readonly number[],
): StagedMatmul<C> {
  const g = groups ? groupTtCores(ops, w, groups) : w;
  const d = g.cores.length;
  const stages: MatmulStage<C>[] = [];
  for (let k = 0; k < d; k++) {
    const [rk, nk, mk, rk1] = [g.ranks[k]!, g.inModes[k]!, g.outModes[k]!, g.ranks[k + 1]!];
    // Core (r_k, n_k, m_k, r_{k+1}) -> rows (n_k, r_k), columns (m_k, r_{k+1}).
    const matrix = ops.reshape(ops.transpose(g.cores[k]!, [1, 0, 2, 3]), [nk * rk, mk * rk1]);
    // The previous output is (B prod m_<k-1, n_k, rest, m_{k-1}, r_k): m_{k-1} moves to the front.
    const { dims, perm, needed } = ttStageLayout(k, g.inModes, g.outModes, g.ranks);
    const view: ViewOp[] = needed
      ? [{ reshape: [-1, ...dims] }, { transpose: perm }, { reshape: [-1, nk * rk] }]
      : [{ reshape: [-1, nk * rk] }];
    stages.push({ view, matrix });
  }
  const m = prod(g.outModes);
  return {
    stages,
    outView: [{ reshape: [-1, m] }],
    tt: { inModes: [...g.inModes], outModes: [...g.outModes], ranks: [...g.ranks] },
  };
}

/**
 * y = x W for x of shape (B, prod n_k), without forming W (see ttStages). Returns (B, prod m_k).
 */
export function ttMatmul(x: tf.Tensor2D, w: TtMatrix<tf.Tensor>, groups?: readonly number[]): tf.Tensor2D;
export function ttMatmul(x: NdArray, w: TtMatrix<NdArray>, groups?: readonly number[]): NdArray;
export function ttMatmul<C extends Core>(x: C, w: TtMatrix<C>, groups?: readonly number[]): C {
  const ops = opsFor(x);
  checkBatchInput('ttMatmul', x, prod(w.inModes));
  return tidyFor(x, () => applyStages(ops, x, ttStages(ops, w, groups)));
}

export function checkBatchInput(fn: string, x: Computable, n: number): void {
  check(!(x as { isDisposed?: boolean }).isDisposed, 'INVALID_ARGUMENT', () => `${fn}: x has been disposed`);
  check(
    x.shape.length === 2 && x.shape[1] === n && x.shape[0]! > 0,
    'SHAPE_MISMATCH',
    () => `${fn}: x must have shape [B, ${n}] (B >= 1; ${n} = product of the input modes), got ${fmt(x.shape)}`,
  );
}
