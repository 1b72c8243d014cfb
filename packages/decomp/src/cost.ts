import { hasDenseGradient, stageGradientsFromDense, stageShapes } from './contract/stage_gradients.js';
import { applyView, type StagedMatmul } from './contract/tt.js';
import type { MatrixShape } from './formats/matrix.js';
import type { Computable } from './ops.js';
import { Trace, type Traced, traceApply, traceOps, tracePrepare } from './trace.js';

import { prod } from './prod.js';

/**
 * What a computation costs: floating-point operations, TF.js ops launched, elements moved by
 * transposes, elements of matMul right-hand sides read (what bounds a matMul of a single row), and
 * elements of freshly computed right-hand sides that a backend repacks before its first matMul
 * (XNNPACK under wasm does; a rebuilt matrix pays it once).
 */
export interface CostEstimate {
  flops: number;
  ops: number;
  moved: number;
  read: number;
  packed: number;
  /**
   * Elements moved by full transposes of large matrices (the operand of a weight gradient x^T g,
   * which @tensorized/backends' wasm matMul transposes explicitly), which on wasm run about four times slower per element than the layout
   * transposes counted in `moved` (measured: 4 to 7 ns against 0.4 to 1.8). Absent means none.
   */
  wide?: number;
}

/** The two ways to apply a factorised matrix W to a batch: contract the factors, or rebuild W. */
export type MatmulPath = 'factorised' | 'rebuild';

/** A path's cost split into the part done once (per batch of uses) and the part done per use. */
export interface PathCost {
  prepare: CostEstimate;
  apply: CostEstimate;
}

const zero = (): CostEstimate => ({ flops: 0, ops: 0, moved: 0, read: 0, packed: 0 });

function add(acc: CostEstimate, flops: number, ops: number, moved: number, read = 0, packed = 0): CostEstimate {
  acc.flops += flops;
  acc.ops += ops;
  acc.moved += moved;
  acc.read += read;
  acc.packed += packed;
  return acc;
}

/** Total cost of `uses` applications after one preparation. */
export function totalCost(cost: PathCost, uses = 1): CostEstimate {
  return {
    flops: cost.prepare.flops + uses * cost.apply.flops,
    ops: cost.prepare.ops + uses * cost.apply.ops,
    moved: cost.prepare.moved + uses * cost.apply.moved,
    read: cost.prepare.read + uses * cost.apply.read,
    packed: cost.prepare.packed + uses * cost.apply.packed,
    wide: (cost.prepare.wide ?? 0) + uses * (cost.apply.wide ?? 0),
  };
}

/** Cost of x (B x N) times a dense (N x M) matrix. */
export function denseMatmulCost(batch: number, n: number, m: number): CostEstimate {
  return { flops: 2 * batch * n * m, ops: 1, moved: 0, read: n * m, packed: 0 };
}

/**
 * The cost of applying W (B x N -> B x M) by `path`, read from a trace of the code that computes it
 * (trace.ts: prepareMatmul's stagedProduct and PreparedMatmul.apply run on shapes, the kernels they
 * launch counted; tested against tf.profile on real backends). Factorised is the contraction (a
 * TT-matrix with its cores merged by `groups`, default one core per group), rebuild the dense W
 * followed by one dense matMul. A right-hand side computed by the preparation is counted as packed
 * once (XNNPACK repacks a fresh one before its first product).
 *
 * With `backward`, the cost of the backward pass of a training step is added: per use, each
 * product's input gradient g M^T and its view's inverse; once, M^T made and the preparation's own
 * backward (about twice its forward); and, unless `weightGradients` is false, each use's weight
 * gradients x^T g as autodiff forms them (transposeAProduct per product, the kernel
 * @tensorized/backends' wasm matMul runs). A fused recurrence that forms the weight gradients itself
 * over all uses passes `weightGradients: false` and adds weightGradientCosts for its route (the
 * planner does; see planMatmul's fusedGradient).
 */
export function matmulCost(
  w: MatrixShape,
  path: MatmulPath,
  batch: number,
  options: { groups?: readonly number[]; backward?: boolean; weightGradients?: boolean } = {},
): PathCost {
  const { trace, staged } = tracePrepare(w, path, options.groups ? { groups: options.groups } : {});
  const prepare = trace.cost();
  // The stage matrices the preparation computed are packed before their first product.
  prepare.packed += staged.stages.reduce((s, st) => s + (st.matrix.fresh ? prod(st.matrix.shape) : 0), 0);
  const apply = traceApply(staged, batch).cost();
  if (options.backward) {
    const [pf, po, pm] = [prepare.flops, prepare.ops, prepare.moved];
    add(prepare, 2 * pf, 2 * po, 2 * pm);
    stageShapes(staged, batch).forEach(({ rows, inner, outer }, i) => {
      const view = staged.stages[i]!.view;
      const viewMoved = view.length ? traceView(rows * inner, view) : 0;
      // M^T made and packed once; per use g M^T and the view's inverse transpose.
      add(prepare, 0, 1, inner * outer, 0, inner * outer);
      add(apply, 2 * rows * inner * outer, viewMoved > 0 ? 4 : 2, viewMoved, inner * outer);
      if (options.weightGradients ?? true) transposeAProduct(apply, rows, inner, outer);
    });
  }
  return { prepare, apply };
}

/** Elements a view moves for an input of `size` elements (its transposes; views start with a reshape). */
function traceView(size: number, view: StagedMatmul<Traced>['stages'][number]['view']): number {
  const t = new Trace();
  applyView(traceOps, { shape: [size], trace: t }, view);
  return t.cost().moved;
}

/** What stageGradientsFromDense launches for a traced staged product (n x m matrix). */
export function denseGradientTrace(staged: StagedMatmul<Traced>, n: number, m: number): Trace {
  const t = new Trace();
  const own: StagedMatmul<Traced> = {
    ...staged,
    stages: staged.stages.map((s) => ({ view: s.view, matrix: { shape: s.matrix.shape, trace: t } })),
  };
  // dW is computed (x^T g summed over the uses): fresh.
  stageGradientsFromDense(traceOps, own, { shape: [n, m], trace: t, fresh: true });
  return t;
}

/**
 * The largest A^T B result @tensorized/backends' wasm kernel forms directly: its TN_DIRECT_MAX, which
 * this package cannot import (it depends on tfjs-core only); a test of @tensorized/cells checks they agree.
 */
export const TN_DIRECT_MAX = 2 ** 18;
/** The largest A^T B result it forms through panels of B: its TN_PACKED_MAX (checked the same way). */
export const TN_PACKED_MAX = 2 ** 21;
/** A B at least this wide goes through panels at any size (its TN_PANELS_MIN_COLS, checked the same way)... */
export const TN_PANELS_MIN_COLS = 8;
/** ... by at least this many columns of A (its TN_PANELS_MIN_ROWS). */
export const TN_PANELS_MIN_ROWS = 8;

/**
 * The cost of A^T B for A (rows x k), B (rows x m) as @tensorized/backends' wasm matMul computes it
 * (its transposedMatMulKernel, with the same rules): where the (k x m) result has at most
 * TN_DIRECT_MAX values (m a multiple of 4) its WebAssembly kernel reads A and B as they are, the
 * products alone; up to TN_PACKED_MAX (m at least 8), or where B and A are wide enough for panels
 * (TN_PANELS_MIN_COLS, TN_PANELS_MIN_ROWS), the same with B copied into panels on the way through it
 * (no pass of its own, nothing counted as moved); for a B whose columns are not a multiple
 * of 4, up to TN_DIRECT_MAX, C^T = B^T A or B padded (the result's or B's elements moved); otherwise the transposed operand's
 * elements moved, the right-hand side's repacked, and a transpose of the result when flipped.
 */
function transposeAProduct(acc: CostEstimate, rows: number, k: number, m: number): void {
  acc.flops += 2 * rows * k * m;
  if (m % 4 !== 0 && k * m <= TN_DIRECT_MAX) {
    // A narrow B: C^T = B^T A directly where k is a multiple of 4 (C^T then transposed), else B
    // padded with zeros to a multiple of 4 columns.
    acc.ops += 1;
    acc.moved += k % 4 === 0 ? k * m : rows * m;
    return;
  }
  const panels = m >= TN_PANELS_MIN_COLS && k >= TN_PANELS_MIN_ROWS;
  if (k * m <= TN_DIRECT_MAX && m % 4 === 0 && !panels) {
    acc.ops += 1;
    return;
  }
  if (k * m <= TN_PACKED_MAX && m % 4 === 0 && m >= 8) {
    // B copied into panels on the way through it (by the first four columns of A): no pass of its own.
    acc.ops += 1;
    return;
  }
  const flip = rows * (m - k) > 5 * k * m;
  acc.ops += 3;
  acc.wide = (acc.wide ?? 0) + (flip ? rows * m + k * m : rows * k);
  acc.packed += flip ? rows * k : rows * m;
}

/**
 * What the weight gradients of a staged product cost over `uses` products of `batch` rows each, by
 * the two routes of a fused recurrence (see @tensorized/cells' gruSequence): 'stages' keeps every
 * stage's laid-out input and output gradient and forms x_i^T g_i over all uses; 'dense' forms
 * dW = X^T G over all uses (one product of the full size) and then stageGradientsFromDense (traced).
 * The second is undefined when the stages do not allow it (hasDenseGradient).
 */
export function weightGradientCosts<C extends Computable>(
  staged: StagedMatmul<C>,
  batch: number,
  uses: number,
): { stages: CostEstimate; dense: CostEstimate | undefined } {
  const shapes = stageShapes(staged, batch);
  const stages = zero();
  shapes.forEach(({ rows, inner, outer, viewed }, i) => {
    const all = uses * rows;
    // Kept in the forward pass (unless it is the state itself) and gathered in the backward pass:
    // copies into fresh tensors of millions of values, counted as `moved` (measured on wasm for a
    // TT-GRU of ranks 11, B = 16, T = 64: 13.6M values kept and gathered in about 10 ms, 0.7 ns per
    // value, where `packed`, 3.2 ns, had the planner prefer dU when the stages were 0.88x its time).
    if (i > 0 || viewed) stages.moved += all * inner;
    stages.moved += all * outer;
    stages.ops += 2;
    transposeAProduct(stages, all, inner, outer);
  });
  if (!hasDenseGradient(staged)) return { stages, dense: undefined };
  const n = (shapes[0]!.rows * shapes[0]!.inner) / batch;
  const last = shapes[shapes.length - 1]!;
  const m = (last.rows * last.outer) / batch;
  const dense = zero();
  transposeAProduct(dense, uses * batch, n, m);
  if (shapes.length > 1) {
    const { batchOne: _, ...rest } = staged;
    const traced: StagedMatmul<Traced> = {
      ...rest,
      stages: staged.stages.map((s) => ({ view: s.view, matrix: { shape: s.matrix.shape, trace: new Trace() } })),
    };
    const closed = denseGradientTrace(traced, n, m).cost();
    add(dense, closed.flops, closed.ops, closed.moved, 0, closed.packed);
  }
  return { stages, dense };
}
