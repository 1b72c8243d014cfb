import * as tf from '@tensorflow/tfjs-core';
import { cpMatmulPrepared, cpMatrixToDense, prepareCpFactors } from './contract/cp.js';
import { checkBatchInput, prepareTtCores, ttMatmulPrepared, ttMatrixToDense } from './contract/tt.js';
import { prepareTuckerFactors, tuckerMatmulPrepared, tuckerMatrixToDense } from './contract/tucker.js';
import type { MatmulPath } from './cost.js';
import { matMul2d } from './mat_mul.js';
import { check, fmt } from './errors.js';
import type { MatrixFormat } from './formats/matrix.js';
import { tfOps } from './ops.js';
import { type Calibration, planMatmul } from './planner.js';

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** The dense (N x M) matrix of any factorised matrix format. */
export function matrixToDense(w: MatrixFormat): tf.Tensor2D {
  switch (w.kind) {
    case 'tt-matrix':
      return ttMatrixToDense(w);
    case 'cp-matrix':
      return cpMatrixToDense(w);
    case 'tucker-matrix':
      return tuckerMatrixToDense(w);
  }
}

/**
 * W made ready to multiply many inputs: the factors laid out for contraction ('factorised') or the
 * rebuilt dense matrix ('rebuild'). Create it once per batch of sequences (inside the function you
 * differentiate, so gradients reach the factors), apply it at every step, dispose it afterwards.
 */
export interface PreparedMatmul {
  readonly path: MatmulPath;
  readonly inSize: number;
  readonly outSize: number;
  /** x (B x N) -> (B x M). */
  apply(x: tf.Tensor2D): tf.Tensor2D;
  /**
   * When the product is a chain of plain matrices, x W = x M_1 ... M_k, those matrices (the rebuilt
   * W; CP's and Tucker's two bottleneck factors), so that callers can fuse steps; undefined for a
   * TT contraction.
   */
  readonly chain: readonly tf.Tensor2D[] | undefined;
  /** Frees the prepared tensors (not the factors of W). */
  dispose(): void;
}

export function prepareMatmul(w: MatrixFormat, path: MatmulPath): PreparedMatmul {
  check(
    path === 'factorised' || path === 'rebuild',
    'INVALID_ARGUMENT',
    () => `prepareMatmul: path must be 'factorised' or 'rebuild', got ${fmt(path)}`,
  );
  const inSize = prod(w.inModes);
  const outSize = prod(w.outModes);
  let held: tf.Tensor[];
  let apply: (x: tf.Tensor2D) => tf.Tensor2D;
  let chain: tf.Tensor2D[] | undefined;
  if (path === 'rebuild') {
    const dense = matrixToDense(w);
    held = [dense];
    chain = [dense];
    apply = (x) => {
      checkBatchInput('PreparedMatmul.apply', x, inSize);
      return matMul2d(x, dense);
    };
  } else {
    switch (w.kind) {
      case 'tt-matrix': {
        const cores = tf.tidy(() => prepareTtCores(tfOps, w));
        held = cores;
        apply = (x) => tf.tidy(() => ttMatmulPrepared(tfOps, x, w, cores) as tf.Tensor2D);
        break;
      }
      case 'cp-matrix': {
        const factors = tf.tidy(() => prepareCpFactors(tfOps, w));
        held = factors;
        chain = factors as tf.Tensor2D[];
        apply = (x) => tf.tidy(() => cpMatmulPrepared(tfOps, x, w, factors) as tf.Tensor2D);
        break;
      }
      case 'tucker-matrix': {
        const factors = tf.tidy(() => prepareTuckerFactors(tfOps, w));
        held = factors;
        chain = factors as tf.Tensor2D[];
        apply = (x) => tf.tidy(() => tuckerMatmulPrepared(tfOps, x, w, factors) as tf.Tensor2D);
        break;
      }
    }
  }
  return { path, inSize, outSize, apply, chain, dispose: () => tf.dispose(held) };
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
  const prepared = prepareMatmul(w, plan.path);
  try {
    return prepared.apply(x);
  } finally {
    prepared.dispose();
  }
}
