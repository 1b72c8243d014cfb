import * as tf from '@tensorflow/tfjs-core';

/**
 * LeakyReLU, x for x > 0 and alpha x otherwise, as x times its slope step(x, alpha) (1 or alpha),
 * the slope kept for the gradient dy step(x, alpha). On wasm these are tf.leakyRelu's values to the
 * bit (its kernel multiplies by alpha in float32 too; on cpu it rounds alpha x from float64, one unit
 * in the last place away at most), and its gradient for every x but NaN (where this one is NaN).
 * tf.leakyRelu's gradient is a Greater, a Multiply and a Select over the whole input, and its wasm
 * kernel is slow: forward and backward over the 960 x 256 input-layer values of a JSB batch, with a
 * loss's product and sum, took 2.8 ms against 0.8 ms here (`node apps/bench/scripts/leaky-relu-speed.mjs`,
 * recorded 2026-12-06T0119).
 */
export function leakyRelu<T extends tf.Tensor>(x: T, alpha: number): T {
  const op = tf.customGrad(((input: tf.Tensor, save: tf.GradSaveFunc) => {
    const slope = tf.step(input, alpha);
    save([slope]);
    return { value: tf.mul(input, slope), gradFunc: (dy: tf.Tensor, [s]: tf.Tensor[]) => tf.mul(dy, s!) };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(x) as T;
}
