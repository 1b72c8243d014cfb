import { check, fmt } from '../errors.js';
import type { Computable, Ops } from '../ops.js';
import { type StagedMatmul, stagedInSize } from './tt.js';

import { prod } from '../prod.js';

/**
 * Whether stageGradientsFromDense can handle `staged`: TT stages (from ttStages) or a chain of
 * plain matrices (no views: a dense or rebuilt matrix, CP's and Tucker's two factors).
 */
export function hasDenseGradient<C extends Computable>(staged: StagedMatmul<C>): boolean {
  return staged.tt !== undefined || (staged.outView.length === 0 && staged.stages.every((s) => s.view.length === 0));
}

/**
 * The gradients of a staged product's matrices from the gradient dW (N x M) of the matrix W they
 * stand for: what a caller needs who sums dW over many uses first (one matMul, H^T dY over all the
 * steps of a recurrence) instead of summing each stage's gradient over the uses.
 *
 * - A chain W = M_1 ... M_k (no views): dM_i = (M_1 .. M_{i-1})^T dW (M_{i+1} .. M_k)^T.
 * - TT stages (ttStages) of cores G_k (r_k, n_k, m_k, r_{k+1}): with dW's indices interleaved as
 *   (n_1 m_1, ..., n_d m_d), dG_k = L_k^T dW R_k^T, where L_k (prod_{j<k} n_j m_j, r_k) and R_k
 *   (r_{k+1}, prod_{j>k} n_j m_j) are the products of the cores left and right of k. One transpose
 *   of dW and two small matMuls per core.
 *
 * `matrices` defaults to the stages' own; a custom gradient passes the copies it saved.
 */
export function stageGradientsFromDense<C extends Computable>(
  ops: Ops<C>,
  staged: StagedMatmul<C>,
  dW: C,
  matrices: readonly C[] = staged.stages.map((s) => s.matrix),
): C[] {
  check(
    hasDenseGradient(staged),
    'INVALID_ARGUMENT',
    () => 'stageGradientsFromDense: the stages must come from ttStages or be plain matrices without views',
  );
  check(
    matrices.length === staged.stages.length,
    'INVALID_ARGUMENT',
    () => `stageGradientsFromDense: expected ${staged.stages.length} matrices, got ${matrices.length}`,
  );
  const tt = staged.tt;
  const [n, m] = tt
    ? [prod(tt.inModes), prod(tt.outModes)]
    : [matrices[0]!.shape[0]!, matrices[matrices.length - 1]!.shape[1]!];
  check(
    dW.shape.length === 2 && dW.shape[0] === n && dW.shape[1] === m,
    'SHAPE_MISMATCH',
    () =>
      `stageGradientsFromDense: dW must have shape [${n}, ${m}] (the matrix the stages stand for), got ${fmt(dW.shape)}`,
  );
  return tt ? ttCoreGradients(ops, tt, matrices, dW) : chainGradients(ops, matrices, dW);
}

function chainGradients<C extends Computable>(ops: Ops<C>, mats: readonly C[], dW: C): C[] {
  const k = mats.length;
  // before[i] = M_1 .. M_i (undefined for the empty product), after[i] = M_i .. M_k.
  const before: Array<C | undefined> = [undefined];
  for (let i = 0; i < k - 1; i++) before.push(before[i] ? ops.matMul(before[i]!, mats[i]!) : mats[i]!);
  const after: Array<C | undefined> = new Array(k + 1).fill(undefined);
  for (let i = k - 1; i > 0; i--) after[i] = after[i + 1] ? ops.matMul(mats[i]!, after[i + 1]!) : mats[i]!;
  return mats.map((_, i) => {
    let g = dW;
    if (before[i]) g = ops.matMul(before[i]!, g, true, false);
    if (after[i + 1]) g = ops.matMul(g, after[i + 1]!, false, true);
    return g;
  });
}

function ttCoreGradients<C extends Computable>(
  ops: Ops<C>,
  tt: NonNullable<StagedMatmul<C>['tt']>,
  mats: readonly C[],
  dW: C,
): C[] {
  const { inModes: nn, outModes: mm, ranks: r } = tt;
  const d = nn.length;
  // Core k back from its stage matrix (n_k r_k, m_k r_{k+1}): (r_k, n_k, m_k, r_{k+1}).
  const cores = mats.map((M, k) => ops.transpose(ops.reshape(M, [nn[k]!, r[k]!, mm[k]!, r[k + 1]!]), [1, 0, 2, 3]));
  const blocks = nn.map((x, k) => x * mm[k]!);
  // dW (n_1..n_d, m_1..m_d) -> (n_1 m_1, ..., n_d m_d).
  const perm: number[] = [];
  for (let k = 0; k < d; k++) perm.push(k, d + k);
  const interleaved = d === 1 ? dW : ops.transpose(ops.reshape(dW, [...nn, ...mm]), perm);
  // left[k]: (prod_{j<k} blocks_j, r_k); right[k]: (r_{k+1}, prod_{j>k} blocks_j); trivial at the ends.
  const left: Array<C | undefined> = [undefined];
  for (let k = 0; k < d - 1; k++) {
    const core = ops.reshape(cores[k]!, [r[k]!, blocks[k]! * r[k + 1]!]);
    const p = left[k] ? ops.matMul(left[k]!, core) : core;
    left.push(ops.reshape(p, [prod(blocks.slice(0, k + 1)), r[k + 1]!]));
  }
  const right: Array<C | undefined> = new Array(d).fill(undefined);
  for (let k = d - 1; k > 0; k--) {
    const core = ops.reshape(cores[k]!, [r[k]! * blocks[k]!, r[k + 1]!]);
    const p = right[k] ? ops.matMul(core, right[k]!) : core;
    right[k - 1] = ops.reshape(p, [r[k]!, prod(blocks.slice(k))]);
  }
  return cores.map((_, k) => {
    const q = prod(blocks.slice(k + 1));
    let g = ops.reshape(interleaved, [prod(blocks.slice(0, k)), blocks[k]! * q]);
    if (left[k]) g = ops.matMul(left[k]!, g, true, false);
    g = ops.reshape(g, [r[k]! * blocks[k]!, q]);
    if (right[k]) g = ops.matMul(g, right[k]!, false, true);
    // (r_k, n_k, m_k, r_{k+1}) -> the stage matrix's layout (n_k r_k, m_k r_{k+1}).
    const core = ops.transpose(ops.reshape(g, [r[k]!, nn[k]!, mm[k]!, r[k + 1]!]), [1, 0, 2, 3]);
    return ops.reshape(core, [nn[k]! * r[k]!, mm[k]! * r[k + 1]!]);
  });
}

/** Per stage of `staged` applied to `batch` rows: the rows and columns of its laid-out input, and its output columns. */
export function stageShapes<C extends Computable>(
  staged: StagedMatmul<C>,
  batch: number,
): Array<{ rows: number; inner: number; outer: number; viewed: boolean }> {
  let size = batch * stagedInSize(staged);
  return staged.stages.map((s) => {
    const [inner, outer] = s.matrix.shape as [number, number];
    const rows = size / inner;
    size = rows * outer;
    return { rows, inner, outer, viewed: s.view.length > 0 };
  });
}
