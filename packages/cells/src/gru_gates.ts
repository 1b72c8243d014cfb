import * as tf from '@tensorflow/tfjs-core';

/** One GRU step's gates and new state; the fused recurrence keeps r, z, n and un for its backward pass. */
export interface GruGates {
  r: tf.Tensor2D;
  z: tf.Tensor2D;
  n: tf.Tensor2D;
  /** (U h + b_U)_n, with the reset gate after U (undefined with it before). */
  un: tf.Tensor2D | undefined;
  next: tf.Tensor2D;
}

/**
 * The gate arithmetic of one GRU step (PAPER.md), the one place it is written: RecurrentCell's step
 * and run (differentiated by autodiff) and the fused recurrence (gru_sequence.ts, whose hand-written
 * backward pass is the chain rule of exactly these lines) call it.
 *   r, z = gate(preRZ), the two halves (preRZ = the r and z parts of x W + b_W + U h + b_U);
 *   n = tanh(aN + r * un) with un = (U h + b_U)_n (the reset gate after U: the paper, PyTorch, cuDNN),
 *       or tanh(aN + resetBefore(r)) with resetBefore(r) = ((r * h) U + b_U)_n (TF.js, Keras 1);
 *   h' = (1 - z) n + z h = n + z (h - n).
 */
export function gruGates(
  preRZ: tf.Tensor2D,
  aN: tf.Tensor2D,
  h: tf.Tensor2D,
  recurrentN: tf.Tensor2D | ((r: tf.Tensor2D) => tf.Tensor2D),
  gate: (x: tf.Tensor) => tf.Tensor = tf.sigmoid,
): GruGates {
  const H = h.shape[1];
  const rz = gate(preRZ);
  const r = tf.slice(rz, [0, 0], [-1, H]) as tf.Tensor2D;
  const z = tf.slice(rz, [0, H], [-1, H]) as tf.Tensor2D;
  const un = typeof recurrentN === 'function' ? undefined : recurrentN;
  const n = tf.tanh(tf.add(aN, un ? tf.mul(r, un) : (recurrentN as (r: tf.Tensor2D) => tf.Tensor2D)(r))) as tf.Tensor2D;
  const next = tf.add(n, tf.mul(z, tf.sub(h, n))) as tf.Tensor2D;
  return { r, z, n, un, next };
}
