import * as tf from '@tensorflow/tfjs-core';
import {
  definitionOf,
  type InitStd,
  type MatmulPath,
  type MatmulPlan,
  type MatrixFormat,
  type MatrixShape,
  matrixToDense,
  planMatmul,
  prepareMatmul,
  targetStd,
} from '@tensorized/decomp';
import {
  matMulBias,
  planWeightGradient,
  recordingGradients,
  type StagedMatmul,
  Trace,
  type Traced,
  type WeightGradientRoute,
} from '@tensorized/decomp/stages';
import type { ResolvedMatrix } from './config.js';

/**
 * Makes the variable that holds a weight, from its initial value (which the caller disposes). The
 * default is a trainable tf.variable; the tfjs-layers adapter makes layer weights instead.
 */
export type VariableFactory = (name: string, initial: tf.Tensor) => tf.Variable;

export const defaultVariable: VariableFactory = (_name, initial) => tf.variable(initial, true);

/** Whether TF.js is recording a gradient tape (see @tensorized/decomp/stages). */
export { recordingGradients };

/** What WeightMatrix.plan decides, and the planner's predicted costs it decided by. */
export interface WeightPlan {
  readonly path: MatmulPath | 'dense';
  /** For a contracted TT-matrix: its cores merged per group. */
  readonly groups?: number[];
  /** For a fused recurrence's training step: how it forms the weight gradients. */
  readonly gradient?: WeightGradientRoute;
  /** The planner's plan, with the predicted costs of both paths (absent for a dense matrix). */
  readonly predicted?: MatmulPlan;
}

export interface WeightPlanOptions {
  /** 'auto' (default): the planner's path; or one forced. */
  path?: 'auto' | MatmulPath;
  /** Plan for a training step (the backward pass counts). Default false. */
  backward?: boolean;
  /** The caller forms the weight gradients itself over all uses (the fused GRU). Default false. */
  fusedGradient?: boolean;
}

/**
 * A weight matrix applied to a batch: `apply` per use, `dispose` afterwards; also the product as
 * matMul stages with layout views (see PreparedMatmul.stages in @tensorized/decomp).
 */
export interface AppliedWeight extends StagedMatmul<tf.Tensor2D> {
  readonly path: MatmulPath | 'dense';
  /** The plan it was prepared by (WeightMatrix.plan). */
  readonly plan?: WeightPlan;
  /** x W, or x W + bias with a bias (M) (one fused kernel where the backend has one, outside gradient tapes). */
  apply(x: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D;
  dispose(): void;
}

/** Backends whose _FusedMatMul kernel takes matrices (rank 2): wasm with @tensorized/backends' fix. */
const FUSED_MATRIX_BACKENDS = new Set(['cpu', 'wasm', 'webgl']);

/** x w + bias: outside a gradient tape one _FusedMatMul kernel where the backend takes matrices. */
function denseApply(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (!recordingGradients() && FUSED_MATRIX_BACKENDS.has(tf.getBackend()))
    return tf
      .engine()
      .runKernel(
        '_FusedMatMul',
        { a: x, b: w, bias },
        { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
      ) as tf.Tensor2D;
  // In a tape: the bias in the product's own pass too, its gradient by column sums.
  return matMulBias(x, w, bias);
}

/**
 * One of the cell's two weight matrices, dense or factorised, owning its variables. Variables are
 * named after the factor they hold: `W` (dense), `W.core0..` (TT), `W.in0.., W.out0..` (CP),
 * `W.core, W.in0.., W.out0..` (Tucker); likewise for U.
 */
export class WeightMatrix {
  readonly name: 'W' | 'U';
  readonly inSize: number;
  readonly outSize: number;
  /** Named variables in a fixed order. */
  readonly variables: ReadonlyArray<readonly [string, tf.Variable]>;
  /** The factorised format over the variables (absent for a dense weight). */
  get format(): MatrixFormat | undefined {
    return this.formatOf?.();
  }
  private readonly formatOf: (() => MatrixFormat) | undefined;
  /** Kind and sizes of the factorised format, for planning. */
  readonly shape: MatrixShape | undefined;

  constructor(
    resolved: ResolvedMatrix,
    init: InitStd | undefined,
    seed: number | undefined,
    makeVariable: VariableFactory = defaultVariable,
  ) {
    this.name = resolved.name;
    this.inSize = resolved.inSize;
    this.outSize = resolved.outSize;
    const n = resolved.name;
    const options = { ...(init !== undefined ? { std: init } : {}), ...(seed !== undefined ? { seed } : {}) };
    const named: Array<[string, tf.Tensor]> = [];
    const shape = resolved.shape;
    const def = shape ? definitionOf(shape) : undefined;
    if (!shape || !def) {
      const std = targetStd(init, resolved.inSize, resolved.outSize);
      named.push([n, tf.randomNormal([resolved.inSize, resolved.outSize], 0, std, 'float32', seed)]);
    } else {
      const w = def.init(shape, options);
      const parts = def.parts(shape);
      def.tensors(w).forEach((t, k) => {
        named.push([`${n}.${parts[k]!.name}`, t]);
      });
    }
    this.variables = named.map(([name, t]) => {
      const v = makeVariable(name, t);
      t.dispose();
      return [name, v] as const;
    });
    this.shape = shape;
    if (shape && def) {
      const f = def.assemble(
        shape,
        this.variables.map(([, v]) => v),
      ) as MatrixFormat;
      this.formatOf = () => f;
    }
  }

  /** Stored values of this matrix. */
  paramCount(): number {
    return this.variables.reduce((n, [, v]) => n + v.size, 0);
  }

  /** The dense (inSize x outSize) matrix. */
  toDense(): tf.Tensor2D {
    return tf.tidy(() => {
      const format = this.format;
      return format ? matrixToDense(format) : (tf.clone(this.variables[0]![1]) as tf.Tensor2D);
    });
  }

  /**
   * How this matrix is applied `uses` times to `batch` rows, decided once from the sizes alone (no
   * tensor is made): the path (the planner's, or `path` if forced), the TT cores' grouping, and, for
   * a training step whose caller forms the weight gradients itself (`fusedGradient`, the fused
   * GRU), their route. prepare() follows it; the app prints it.
   */
  plan(batch: number, uses: number, options: WeightPlanOptions = {}): WeightPlan {
    const { path = 'auto', backward = false, fusedGradient = false } = options;
    const fused = backward && fusedGradient;
    if (!this.shape) {
      const one: StagedMatmul<Traced> = {
        stages: [{ view: [], matrix: { shape: [this.inSize, this.outSize], trace: new Trace() } }],
        outView: [],
      };
      return { path: 'dense', ...(fused ? { gradient: planWeightGradient(one, batch, uses).route } : {}) };
    }
    const planned = planMatmul(this.shape, { batch, uses, backward, fusedGradient });
    const chosen = path === 'auto' ? planned.path : path;
    // A forced factorised path merges the TT cores as the planner would.
    const groups = chosen === 'factorised' ? planned.groups : undefined;
    // The route of the path taken, by the planner's one backward model (forced paths too).
    const gradient = planned.gradients?.[chosen];
    return { path: chosen, ...(groups ? { groups } : {}), ...(gradient ? { gradient } : {}), predicted: planned };
  }

  /**
   * Makes the matrix ready for `uses` products with `batch` rows each, as plan() decides (the
   * planner's path, or the one forced). Call inside the function being differentiated, so gradients
   * reach the factors. `fusedGradient`: the caller forms the weight gradients itself over all uses
   * (the fused GRU), which the planner counts when a gradient is being recorded (see planMatmul).
   */
  prepare(
    batch: number,
    uses: number,
    path: 'auto' | MatmulPath = 'auto',
    options: { fusedGradient?: boolean } = {},
  ): AppliedWeight {
    // Under a gradient tape the planner counts the backward pass too.
    // What is kept is reused: it is planned as for many uses (a TT-matrix's cores merged, a U
    // rebuilt where that pays over many steps), as a stepper is.
    const kept = this.keeping && !recordingGradients();
    const plan = this.plan(batch, kept ? Math.max(uses, KEPT_USES) : uses, {
      path,
      backward: recordingGradients(),
      fusedGradient: options.fusedGradient ?? false,
    });
    const format = this.format;
    if (!format) {
      const w = this.variables[0]![1] as tf.Tensor2D;
      return {
        path: 'dense',
        plan,
        apply: (x, bias) => (bias ? denseApply(x, w, bias) : tf.matMul(x, w)),
        stages: [{ view: [], matrix: w }],
        outView: [],
        dispose: () => {},
      };
    }
    const make = () => prepareMatmul(format, plan.path as MatmulPath, plan.groups ? { groups: plan.groups } : {});
    if (!kept) return Object.assign(make(), { plan });
    // Kept (see keepPrepared), outside gradient tapes: the prepared product is reused by the next call
    // with the same plan. The factors' variables are immutable between assigns, and an assign (an
    // optimiser step, loaded weights) gives a variable a new dataId, which drops the kept product.
    const key = `${plan.path}|${plan.groups?.join(',') ?? ''}`;
    const ids = this.variables.map(([, v]) => v.dataId as object);
    const backend = tf.getBackend();
    const live = this.variables.every(([, v]) => !v.isDisposed);
    const fresh = (e: KeptProduct) => live && e.backend === backend && e.ids.every((id, i) => id === ids[i]);
    for (const [k, e] of this.kept) {
      if (fresh(e)) continue;
      e.prepared.dispose();
      this.kept.delete(k);
    }
    let entry = this.kept.get(key);
    if (!entry) {
      const prepared = Object.assign(make().keep(), { plan });
      // Callers dispose what prepare() returns: for a kept product that is a no-op.
      entry = { ids, backend, prepared, shared: { ...prepared, dispose: () => {} } };
      this.kept.set(key, entry);
    }
    return entry.shared;
  }

  /**
   * Whether prepare() keeps what it prepares outside gradient tapes for the next call with the same
   * plan (one product per plan used, made again when a variable is assigned or the backend changes),
   * instead of making it anew for every call; kept products are planned as for many uses (at least
   * 1000), since they are reused. Off by default; turning it off frees what is kept.
   */
  keepPrepared(on: boolean): void {
    this.keeping = on;
    if (!on) this.releasePrepared();
  }

  /** Whether prepare() keeps what it prepares (see keepPrepared). */
  get keepsPrepared(): boolean {
    return this.keeping;
  }

  /** Frees the prepared products kept so far (see keepPrepared); dispose() frees them too. */
  releasePrepared(): void {
    for (const e of this.kept.values()) e.prepared.dispose();
    this.kept.clear();
  }

  private keeping = false;
  private readonly kept = new Map<string, KeptProduct>();

  /** The path prepare() takes for these sizes (see plan()). */
  plannedPath(
    batch: number,
    uses: number,
    path: 'auto' | MatmulPath = 'auto',
    backward = false,
    fusedGradient = false,
  ): MatmulPath | 'dense' {
    return this.plan(batch, uses, { path, backward, fusedGradient }).path;
  }

  /** The TT cores merged per group when prepare() contracts this matrix (undefined otherwise; see plan()). */
  plannedGroups(
    batch: number,
    uses: number,
    path: 'auto' | MatmulPath = 'auto',
    backward = false,
    fusedGradient = false,
  ): number[] | undefined {
    return this.plan(batch, uses, { path, backward, fusedGradient }).groups;
  }

  /**
   * How the fused GRU forms this matrix's gradient when trained over `uses` steps of `batch` rows
   * (see plan() and planWeightGradient in @tensorized/decomp): 'dense' sums dU over the steps and
   * derives the factors' gradients from it, 'stages' sums each factor's gradient over the steps.
   */
  plannedWeightGradient(batch: number, uses: number, path: 'auto' | MatmulPath = 'auto'): WeightGradientRoute {
    return this.plan(batch, uses, { path, backward: true, fusedGradient: true }).gradient ?? 'stages';
  }

  dispose(): void {
    this.releasePrepared();
    for (const [, v] of this.variables) v.dispose();
  }
}

/** The uses a kept product is planned for (see WeightMatrix.keepPrepared; a stepper's default too). */
const KEPT_USES = 1000;

/** A prepared product that WeightMatrix.prepare keeps: the variables' dataIds and the backend it was made from. */
interface KeptProduct {
  readonly ids: readonly object[];
  readonly backend: string;
  readonly prepared: AppliedWeight;
  /** What prepare() returns: the same product, with a dispose() that leaves it to the cache. */
  readonly shared: AppliedWeight;
}
