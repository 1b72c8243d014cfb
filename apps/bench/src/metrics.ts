import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from '@tensorized/backends';

/** Sums over the valid frames of a batch, from which the paper's metrics follow. */
export interface FrameSums {
  /** Binary cross-entropy (natural log) summed over the 88 keys and the valid frames. */
  nll: number;
  frames: number;
  tp: number;
  fp: number;
  fn: number;
}

export const emptySums = (): FrameSums => ({ nll: 0, frames: 0, tp: 0, fp: 0, fn: 0 });

export function addSums(a: FrameSums, b: FrameSums): FrameSums {
  return { nll: a.nll + b.nll, frames: a.frames + b.frames, tp: a.tp + b.tp, fp: a.fp + b.fp, fn: a.fn + b.fn };
}

/** NLL per frame (the paper's metric) and accuracy TP / (TP + FP + FN) (Bay et al. 2009). */
export function summarise(s: FrameSums): { nll: number; accuracy: number } {
  const denominator = s.tp + s.fp + s.fn;
  return { nll: s.frames ? s.nll / s.frames : Number.NaN, accuracy: denominator ? s.tp / denominator : 0 };
}

/**
 * Per-frame binary cross-entropy of logits z against targets y, summed over keys: the numerically
 * stable max(z, 0) - z y + log(1 + exp(-|z|)). Shapes: logits and targets (N, 88), mask (N).
 * Returns (N) values, zero on masked frames. Where the backend has @tensorized/backends'
 * TensorizedSigmoidCrossEntropy (cpu, wasm), one kernel forward and one back (the gradient
 * mask (sigmoid(z) - y) with respect to the logits only); elsewhere TF.js ops.
 */
export function frameNll(logits: tf.Tensor2D, targets: tf.Tensor2D, mask: tf.Tensor1D): tf.Tensor1D {
  const backend = tf.getBackend();
  if (
    tf.getKernel(FUSED_KERNELS.sigmoidCrossEntropy, backend) &&
    tf.getKernel(FUSED_KERNELS.sigmoidCrossEntropyGrad, backend)
  ) {
    const run = (name: string, inputs: tf.NamedTensorMap): tf.Tensor =>
      (tf.engine().runKernel(name, inputs, {}) as unknown as tf.Tensor[])[0]!;
    const op = tf.customGrad(((z: tf.Tensor2D, save: tf.GradSaveFunc) => {
      save([z]);
      return {
        value: run(FUSED_KERNELS.sigmoidCrossEntropy, { z, y: targets, mask }),
        gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) =>
          run(FUSED_KERNELS.sigmoidCrossEntropyGrad, { dy, z: saved!, y: targets, mask }),
      };
    }) as never);
    return op(logits) as tf.Tensor1D;
  }
  return tf.tidy(() => {
    const bce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
    return tf.mul(tf.sum(bce, 1), mask) as tf.Tensor1D;
  });
}

/** The sums of one batch (read back to the host: one small transfer per batch). */
export function batchSums(logits: tf.Tensor2D, targets: tf.Tensor2D, mask: tf.Tensor1D): FrameSums {
  const values = tf.tidy(() => {
    const m = tf.reshape(mask, [-1, 1]);
    const predicted = tf.mul(tf.cast(tf.greater(logits, 0), 'float32'), m); // sigmoid(z) > 0.5
    const truth = tf.mul(targets, m);
    const tp = tf.sum(tf.mul(predicted, truth));
    return tf.stack([
      tf.sum(frameNll(logits, targets, mask)),
      tf.sum(mask),
      tp,
      tf.sub(tf.sum(predicted), tp),
      tf.sub(tf.sum(truth), tp),
    ]);
  });
  const [nll, frames, tp, fp, fn] = values.dataSync();
  values.dispose();
  return { nll: nll!, frames: frames!, tp: tp!, fp: fp!, fn: fn! };
}
