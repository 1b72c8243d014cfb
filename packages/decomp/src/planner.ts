import * as tf from '@tensorflow/tfjs-core';
import { type CostEstimate, type MatmulPath, matmulCost, totalCost, weightGradientCosts } from './cost.js';
import { check, fmt } from './errors.js';
import type { StagedMatmul } from './contract/tt.js';
import type { MatrixShape } from './formats/matrix.js';
import { definitionOf } from './formats/registry.js';
import type { Computable } from './ops.js';
import { tracePrepare } from './trace.js';
import { COST_PROFILES } from './profiles.js';

/** Measured speeds of the running backend, from which a cost becomes milliseconds. */
export interface Calibration {
  backend: string;
  /** Milliseconds of fixed cost per TF.js op (dispatch, allocation, bookkeeping). */
  overheadMs: number;
  /** Floating-point operations per millisecond in a large matMul. */
  flopsPerMs: number;
  /** Elements per millisecond moved by a transpose. */
  movedPerMs: number;
  /** Elements per millisecond of a matMul's right-hand side read when the left has one row. */
  readPerMs: number;
  /** Elements per millisecond of a fresh right-hand side prepared by the backend's matMul. */
  packPerMs: number;
  /**
   * Elements per millisecond of a full transpose of a large matrix (CostEstimate.wide). Absent in
   * calibrations saved by older versions: `movedPerMs` stands in.
   */
  widePerMs?: number;
}

const calibrations = new Map<string, Calibration>();

/**
 * Uses `c` for its backend from now on instead of measuring: plans, and so the numbers a model
 * computes (paths differ in rounding), then repeat exactly, e.g. when a training run resumes in
 * another process.
 */
export function setCalibration(c: Calibration): void {
  const fields = ['overheadMs', 'flopsPerMs', 'movedPerMs', 'readPerMs', 'packPerMs'] as const;
  check(
    typeof c.backend === 'string' &&
      fields.every((f) => typeof c[f] === 'number' && c[f] > 0) &&
      (c.widePerMs === undefined || (typeof c.widePerMs === 'number' && c.widePerMs > 0)),
    'INVALID_ARGUMENT',
    () =>
      `setCalibration: expected { backend, ${fields.join(', ')}, widePerMs (optional) } with positive numbers, got ${JSON.stringify(c)}`,
  );
  calibrations.set(c.backend, { ...c });
}

/**
 * Milliseconds per run of `run`: the fastest of 5 trials of `repeats` runs each, after a warm-up.
 * On a shared machine noise only ever adds time, and the medians of earlier versions still let a
 * busy neighbour make single-row products look 100x slower than they are (measured: 3e5 instead
 * of 2e7 elements per ms read), which flipped plans for a whole training run.
 */
function timeMs(repeats: number, run: () => tf.Tensor): number {
  run().dispose(); // warm-up: kernels compiled, memory pooled
  const trials: number[] = [];
  for (let trial = 0; trial < 5; trial++) {
    const t0 = performance.now();
    let last: tf.Tensor | undefined;
    for (let i = 0; i < repeats; i++) {
      last?.dispose();
      last = run();
    }
    last!.dataSync();
    last!.dispose();
    trials.push((performance.now() - t0) / repeats);
  }
  return Math.min(...trials);
}

/**
 * Runs `fn` with TF.js's gradient tape off. The first plan of a training step is made inside the
 * function being differentiated; measured there, every timed op was also recorded on the tape, which
 * made single-row products look 100x slower (2.8e5 instead of 2.7e7 elements per ms read) and
 * flipped plans (a TT-GRU with ranks 32 contracted its cores where rebuilding U is 25% faster).
 */
function withoutTape<T>(fn: () => T): T {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: number } }).state;
  const depth = state?.gradientDepth ?? 0;
  if (!state || depth === 0) return fn();
  state.gradientDepth = 0;
  try {
    return fn();
  } finally {
    state.gradientDepth = depth;
  }
}

/**
 * The speeds the planner plans with on the running backend, remembered per backend name. By
 * default the checked-in cost profile of the backend (COST_PROFILES), so that plans, and so the
 * numbers a model computes, are the same on every machine; a calibration set by setCalibration
 * wins. Measuring the running machine (about 0.5 s; each figure the fastest of five trials) is an
 * opt-in: `measure: true` or `force: true` (measure again); a backend without a profile is always
 * measured. The library reads no environment: an application decides (the bench app's
 * TENSORIZED_CALIBRATION).
 */
export function calibrate(options: { force?: boolean; measure?: boolean } = {}): Calibration {
  return withoutTape(() => measureCalibration(options));
}

function measureCalibration(options: { force?: boolean; measure?: boolean }): Calibration {
  const backend = tf.getBackend();
  const known = calibrations.get(backend);
  if (known && !options.force && !(options.measure && known === COST_PROFILES[backend])) return known;
  const profile = COST_PROFILES[backend];
  if (profile && !options.force && !options.measure) {
    calibrations.set(backend, profile);
    return profile;
  }
  const tiny = tf.ones([1, 4]);
  const a = tf.randomNormal([256, 512], 0, 1, 'float32', 1);
  const b = tf.randomNormal([512, 512], 0, 1, 'float32', 2);
  const row = tf.randomNormal([1, 512], 0, 1, 'float32', 3);
  // The transposes of the contractions: a tall 2-D one and a 4-D one keeping inner rows together.
  const tall = tf.randomNormal([32768, 12], 0, 1, 'float32', 4);
  const blocks = tf.randomNormal([16, 32, 16, 48], 0, 1, 'float32', 5);
  const wide = tf.randomNormal([512, 1024], 0, 1, 'float32', 6);
  const chain = 50;
  // The ops of a contraction are kernels and reshapes, about half each: the chain alternates them.
  const overheadMs =
    timeMs(4, () =>
      tf.tidy(() => {
        let t = tiny;
        for (let i = 0; i < chain; i++) t = i % 2 ? tf.reshape(t, [1, 4]) : tf.neg(t);
        return t;
      }),
    ) / chain;
  const net = (msValue: number): number => Math.max(msValue - overheadMs, 1e-6);
  const matmulMs = net(timeMs(5, () => tf.matMul(a, b)));
  const rowMs = net(timeMs(20, () => tf.matMul(row, b)));
  const copyMs = net(timeMs(10, () => tf.neg(b)));
  const freshMs = net(timeMs(10, () => tf.tidy(() => tf.matMul(row, tf.neg(b)))));
  const transposeMs =
    net(timeMs(5, () => tf.transpose(tall))) + net(timeMs(5, () => tf.transpose(blocks, [0, 2, 1, 3])));
  const wideMs = net(timeMs(2, () => tf.transpose(wide)));
  tf.dispose([tiny, a, b, row, tall, blocks, wide]);
  const flopsPerMs = (2 * 256 * 512 * 512) / matmulMs;
  // A single-row product is bounded by reading the matrix; at least a quarter of its time is
  // taken as reading, so that a noisy measurement cannot make reads free.
  const readMs = Math.max(rowMs - (2 * 512 * 512) / flopsPerMs, rowMs / 4);
  const calibration: Calibration = {
    backend,
    overheadMs,
    flopsPerMs,
    movedPerMs: (tall.size + blocks.size) / transposeMs,
    readPerMs: (512 * 512) / readMs,
    packPerMs: (512 * 512) / Math.max(freshMs - copyMs - rowMs - overheadMs, rowMs),
    widePerMs: (512 * 1024) / wideMs,
  };
  calibrations.set(backend, calibration);
  return calibration;
}

/** Predicted milliseconds of a cost under a calibration. */
export function estimateMs(cost: CostEstimate, c: Calibration): number {
  return (
    cost.ops * c.overheadMs +
    cost.flops / c.flopsPerMs +
    cost.moved / c.movedPerMs +
    cost.read / c.readPerMs +
    cost.packed / c.packPerMs +
    (cost.wide ?? 0) / (c.widePerMs ?? c.movedPerMs)
  );
}

export interface PlanOptions {
  /** Rows of the input x (B). */
  batch: number;
  /** How many products with the same W follow one preparation (e.g. time steps). Default 1. */
  uses?: number;
  /** Plan for a training step: the backward pass's cost counts too (default false). */
  backward?: boolean;
  /**
   * With `backward`: the caller forms the weight gradients itself over all uses and can take them
   * from a dense dW (like @tensorized/cells' fused GRU, see planWeightGradient), so the factorised
   * path is costed with the cheaper of per-stage and dense-dW gradients. Default false (autodiff).
   */
  fusedGradient?: boolean;
  /** Speeds to plan with; default: calibrate() on the running backend. */
  calibration?: Calibration;
}

export interface MatmulPlan {
  path: MatmulPath;
  /**
   * For a TT-matrix: the grouping of its cores that the factorised path uses (the fastest predicted
   * of all ways to merge consecutive cores; see prepareMatmul's `groups`).
   */
  groups?: number[];
  batch: number;
  uses: number;
  cost: Record<MatmulPath, CostEstimate>;
  ms: Record<MatmulPath, number>;
  /**
   * With `backward` and `fusedGradient`: how the caller forms the weight gradients of the chosen path
   * ('dense': from dW summed over the uses, then stageGradientsFromDense; 'stages': per stage), the
   * faster predicted by planWeightGradient.
   */
  gradient?: WeightGradientRoute;
  /** With `backward` and `fusedGradient`: the route of each path (`cost` includes it). */
  gradients?: Record<MatmulPath, WeightGradientRoute>;
}

/**
 * Chooses between contracting the factors at every use and rebuilding the dense matrix once, by
 * predicted time on the running backend. For a TT-matrix the factorised path is planned with the
 * fastest grouping of its cores (consecutive cores merged once per preparation).
 */
/**
 * Plans already made, per calibration: a plan is a pure function of the matrix's sizes, the options
 * and the speeds, and cells plan at every prepare (a step() plans W and U each call).
 */
const plans = new WeakMap<Calibration, Map<string, MatmulPlan>>();

export function planMatmul(w: MatrixShape, options: PlanOptions): MatmulPlan {
  const calibration = options.calibration ?? calibrate();
  // The sizes only: a MatrixFormat (tensors and all) plans like its shape (its parts' shapes).
  const key = JSON.stringify([
    w.kind,
    definitionOf(w)
      .parts(w)
      .map((p) => p.shape),
    options.batch,
    options.uses ?? 1,
    options.backward ?? false,
    options.fusedGradient ?? false,
  ]);
  let known = plans.get(calibration);
  if (!known) plans.set(calibration, (known = new Map()));
  const cached = known.get(key);
  if (cached) return cached;
  const plan = makePlan(w, { ...options, calibration });
  known.set(key, plan);
  return plan;
}

function makePlan(w: MatrixShape, options: PlanOptions): MatmulPlan {
  const { batch, uses = 1 } = options;
  check(
    Number.isInteger(batch) && batch > 0,
    'INVALID_ARGUMENT',
    () => `planMatmul: batch must be a positive integer, got ${fmt(batch)}`,
  );
  check(
    Number.isInteger(uses) && uses > 0,
    'INVALID_ARGUMENT',
    () => `planMatmul: uses must be a positive integer, got ${fmt(uses)}`,
  );
  const c = options.calibration ?? calibrate();
  let groups: number[] | undefined;
  const backward = options.backward ?? false;
  const fused = backward && (options.fusedGradient ?? false);
  // A path's cost (for a TT grouping): autodiff's weight gradients per use, or, for a fused
  // recurrence, its own forming of them over all uses by the cheaper route (weightGradientCosts):
  // one model of the backward pass, whose route the plan then carries.
  const pathCost = (path: MatmulPath, g?: number[]): { cost: CostEstimate; route?: WeightGradientRoute } => {
    const grouping = g ? { groups: g } : {};
    const cost = totalCost(matmulCost(w, path, batch, { ...grouping, backward, weightGradients: !fused }), uses);
    if (!fused) return { cost };
    const routes = weightGradientCosts(tracePrepare(w, path, grouping).staged, batch, uses);
    const options = [['stages', routes.stages] as const, ...(routes.dense ? [['dense', routes.dense] as const] : [])];
    const [route, extra] = options.reduce((a, b) => (estimateMs(b[1], c) < estimateMs(a[1], c) ? b : a));
    return { cost: sumCosts(cost, extra), route };
  };
  let factorised = pathCost('factorised');
  const groupings = definitionOf(w).groupings?.(w);
  if (groupings) {
    let best = Number.POSITIVE_INFINITY;
    for (const g of groupings) {
      const candidate = pathCost('factorised', g);
      const msValue = estimateMs(candidate.cost, c);
      if (msValue < best) {
        best = msValue;
        groups = g;
        factorised = candidate;
      }
    }
  }
  const rebuild = pathCost('rebuild');
  const cost = { factorised: factorised.cost, rebuild: rebuild.cost };
  const ms = { factorised: estimateMs(cost.factorised, c), rebuild: estimateMs(cost.rebuild, c) };
  const path: MatmulPath = ms.factorised <= ms.rebuild ? 'factorised' : 'rebuild';
  const gradients = fused ? { factorised: factorised.route!, rebuild: rebuild.route! } : undefined;
  return {
    path,
    ...(groups ? { groups } : {}),
    batch,
    uses,
    cost,
    ms,
    ...(gradients ? { gradient: gradients[path], gradients } : {}),
  };
}

function sumCosts(a: CostEstimate, b: CostEstimate): CostEstimate {
  return {
    flops: a.flops + b.flops,
    ops: a.ops + b.ops,
    moved: a.moved + b.moved,
    read: a.read + b.read,
    packed: a.packed + b.packed,
    wide: (a.wide ?? 0) + (b.wide ?? 0),
  };
}

/** How a fused recurrence forms the weight gradients of a staged product (see weightGradientCosts). */
export type WeightGradientRoute = 'stages' | 'dense';

/**
 * The faster predicted route to the weight gradients of `staged` used `uses` times on `batch` rows:
 * per-stage products over all uses, or one dense dW over all uses and stageGradientsFromDense.
 */
export function planWeightGradient<C extends Computable>(
  staged: StagedMatmul<C>,
  batch: number,
  uses: number,
  options: { calibration?: Calibration } = {},
): { route: WeightGradientRoute; ms: { stages: number; dense: number | undefined } } {
  const c = options.calibration ?? calibrate();
  const costs = weightGradientCosts(staged, batch, uses);
  const ms = { stages: estimateMs(costs.stages, c), dense: costs.dense ? estimateMs(costs.dense, c) : undefined };
  return { route: ms.dense !== undefined && ms.dense <= ms.stages ? 'dense' : 'stages', ms };
}
