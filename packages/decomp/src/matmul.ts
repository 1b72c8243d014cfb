import * as tf from '@tensorflow/tfjs-core';
import { applyStages, checkBatchInput, checkTtGroups, type StagedMatmul, withBatchOne } from './contract/tt.js';
import type { MatmulPath } from './cost.js';
import { check, fmt } from './errors.js';
import type { MatrixFormat } from './formats/matrix.js';
import { denseOf, stagedProduct } from './contract/staged.js';
import { definitionOf } from './formats/registry.js';
import { addBias, matMulBias, recordingGradients } from './bias.js';
import { tfOps } from './ops.js';
import { type Calibration, planMatmul } from './planner.js';

import { prod } from './prod.js';

/**
 * The kernel that a batch-1 product of two stages runs as, where the active backend has one
 * (@tensorized/backends registers it for cpu and wasm): for a TT-matrix in two merged cores
 * y = (G_1^T X viewed as (M_1 x r N_2)) G_2; for two plain factors (CP, Tucker; attribute `xLeft`)
 * y = (x M_1) M_2. Inputs `first`, `x`, `second` and an optional `bias` (added last), attribute
 * `outShape`; the same two products (and add) as applyStages and addBias, in one launch instead of
 * two to six. Used outside gradient tapes only (it has no gradient); under a tape, and on every
 * other backend, the products run op by op.
 */
export const MATMUL_PAIR_KERNEL = 'TensorizedMatMulPair';

/** The dense (N x M) matrix of any factorised matrix format. */
export function matrixToDense(w: MatrixFormat): tf.Tensor2D {
  return tf.tidy(() => denseOf(tfOps, w) as tf.Tensor2D);
}

/**
 * W made ready to multiply many inputs: the factors laid out for contraction ('factorised') or the
 * rebuilt dense matrix ('rebuild'). Create it once per batch of sequences (inside the function you
 * differentiate, so gradients reach the factors), apply it at every step, dispose it afterwards.
 * It is also the product as stages (StagedMatmul): a rebuilt W is one stage; CP and Tucker are their
 * two bottleneck factors without views; a TT-matrix is one stage per (merged) core. Callers can fuse
 * and differentiate steps with them (see @tensorized/cells' fused GRU).
 */
export interface PreparedMatmul extends StagedMatmul<tf.Tensor2D> {
  readonly path: MatmulPath;
  /** For a factorised TT-matrix: how many consecutive cores were merged into each contracted core. */
  readonly groups: readonly number[] | undefined;
  readonly inSize: number;
  readonly outSize: number;
  /** x (B x N) -> (B x M); with a bias (M), x W + bias (differentiable in both). */
  apply(x: tf.Tensor2D, bias?: tf.Tensor1D): tf.Tensor2D;
  /** Frees the prepared tensors (not the factors of W). */
  dispose(): void;
  /**
   * Marks the prepared tensors kept (tf.keep), so that they outlive the tf.tidy they were made in:
   * for a caller that holds them across calls (a cache). dispose() still frees them. Returns itself.
   */
  keep(): PreparedMatmul;
}

export interface PrepareOptions {
  /**
   * TT-matrix, factorised path: consecutive cores merged into each contracted core (sizes summing
   * to d). Default: one core per group; planMatmul returns the grouping it predicts fastest.
   */
  groups?: readonly number[];
}

export function prepareMatmul(w: MatrixFormat, path: MatmulPath, options: PrepareOptions = {}): PreparedMatmul {
  check(
    path === 'factorised' || path === 'rebuild',
    'INVALID_ARGUMENT',
    () => `prepareMatmul: path must be 'factorised' or 'rebuild', got ${fmt(path)}`,
  );
  const inSize = prod(w.inModes);
  const outSize = prod(w.outModes);
  let groups: number[] | undefined;
  if (path === 'factorised' && definitionOf(w).groupings) {
    groups = options.groups ? [...options.groups] : w.inModes.map(() => 1);
    checkTtGroups('prepareMatmul', groups, w.inModes.length);
  }
  const make = (): StagedMatmul<tf.Tensor2D> =>
    withBatchOne(tfOps, stagedProduct(tfOps, w, path, groups)) as StagedMatmul<tf.Tensor2D>;
  // tidy keeps the matrices (tensors anywhere in the returned object) and frees the intermediates.
  const staged = tf.tidy(() => make() as unknown as tf.TensorContainer) as unknown as StagedMatmul<tf.Tensor2D>;
  const plainPair =
    !staged.tt &&
    staged.stages.length === 2 &&
    staged.stages.every((st) => st.view.length === 0) &&
    staged.outView.length === 0;
  const held = [
    ...staged.stages.map((s) => s.matrix),
    ...(staged.batchOne ? [staged.batchOne.first, staged.batchOne.second] : []),
  ];
  const prepared: PreparedMatmul = {
    path,
    groups,
    inSize,
    outSize,
    stages: staged.stages,
    outView: staged.outView,
    ...(staged.tt ? { tt: staged.tt } : {}),
    ...(staged.batchOne ? { batchOne: staged.batchOne } : {}),
    apply: (x, bias) => {
      checkBatchInput('PreparedMatmul.apply', x, inSize);
      if (bias !== undefined) {
        check(!bias.isDisposed, 'INVALID_ARGUMENT', () => 'PreparedMatmul.apply: bias has been disposed');
        check(
          bias.shape.length === 1 && bias.shape[0] === outSize,
          'SHAPE_MISMATCH',
          () => `PreparedMatmul.apply: bias must have shape [${outSize}] (the output width), got ${fmt(bias.shape)}`,
        );
      }
      // At batch 1 outside a tape, both products in one kernel where the backend has it: a TT-matrix
      // in two merged cores by its batch-1 form, two plain factors (CP, Tucker) as x M_1 then M_2.
      const pair =
        staged.batchOne ??
        (plainPair ? { first: staged.stages[0]!.matrix, second: staged.stages[1]!.matrix } : undefined);
      if (pair && x.shape[0] === 1 && !recordingGradients() && tf.getKernel(MATMUL_PAIR_KERNEL, tf.getBackend())) {
        const inputs = { first: pair.first, x, second: pair.second };
        return tf.engine().runKernel(MATMUL_PAIR_KERNEL, bias ? { ...inputs, bias } : inputs, {
          outShape: [1, outSize],
          ...(staged.batchOne ? {} : { xLeft: true }),
        } as never) as tf.Tensor2D;
      }
      return tf.tidy(() => {
        // Where the last stage is a plain product (no view before it or after), the bias goes into
        // that product (a dense W, a CP or Tucker matrix's second factor).
        const last = staged.stages[staged.stages.length - 1]!;
        if (bias && last.view.length === 0 && staged.outView.length === 0 && !(staged.batchOne && x.shape[0] === 1)) {
          const before = applyStages(tfOps, x, { stages: staged.stages.slice(0, -1), outView: [] }) as tf.Tensor2D;
          return matMulBias(before, last.matrix as tf.Tensor2D, bias);
        }
        const y = applyStages(tfOps, x, staged) as tf.Tensor2D;
        return bias ? addBias(y, bias) : y;
      });
    },
    dispose: () => tf.dispose(held),
    keep: () => {
      for (const t of held) tf.keep(t);
      return prepared;
    },
  };
  return prepared;
}

/** x W by contracting the factors (ttMatmul, cpMatmul or tuckerMatmul). */
export function factorisedMatmul(x: tf.Tensor2D, w: MatrixFormat): tf.Tensor2D {
  const prepared = prepareMatmul(w, 'factorised');
  try {
    return prepared.apply(x);
  } finally {
    prepared.dispose();
  }
}

/** x W by the path the planner predicts to be faster on the running backend. */
export function plannedMatmul(
  x: tf.Tensor2D,
  w: MatrixFormat,
  options: { calibration?: Calibration } = {},
): tf.Tensor2D {
  checkBatchInput('plannedMatmul', x, prod(w.inModes));
  const plan = planMatmul(w, { batch: x.shape[0], ...options });
  const prepared = prepareMatmul(w, plan.path, plan.groups ? { groups: plan.groups } : {});
  try {
    return prepared.apply(x);
  } finally {
    prepared.dispose();
  }
}
