import * as tf from '@tensorflow/tfjs-core';
import { columnSums, matMulBias, recordingGradients } from '@tensorized/decomp/stages';

/** a w + b and LeakyReLU in the backend's _FusedMatMul where it takes matrices (wasm, cpu, webgl). */
function fusedLeaky(a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, alpha: number): tf.Tensor2D {
  if (['wasm', 'cpu', 'webgl'].includes(tf.getBackend()))
    return tf.engine().runKernel('_FusedMatMul', { a, b: w, bias: b }, {
      transposeA: false,
      transposeB: false,
      activation: 'leakyrelu',
      leakyreluAlpha: alpha,
    } as never) as tf.Tensor2D;
  return tf.fused.matMul({ a, b: w, bias: b, activation: 'leakyrelu', leakyreluAlpha: alpha }) as tf.Tensor2D;
}

const leakyWithGradient = (alpha: number) =>
  tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const y = fusedLeaky(a, w, b, alpha);
    // The slope at the pre-activation z: 1 where z > 0, alpha elsewhere, as y > 0 exactly where z > 0.
    save([a, w, tf.step(y, alpha)]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sa, sw, slope]: tf.Tensor[]) => {
        const dz = tf.mul(dy, slope!) as tf.Tensor2D;
        return [
          tf.matMul(dz, sw as tf.Tensor2D, false, true),
          tf.matMul(sa as tf.Tensor2D, dz, true, false),
          columnSums(dz),
        ];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]) as unknown as (
    a: tf.Tensor2D,
    w: tf.Tensor2D,
    b: tf.Tensor1D,
  ) => tf.Tensor2D;

/**
 * A dense layer, a w + b (a: N x K, w: K x M, b: M), followed by LeakyReLU with slope `alpha` below
 * zero when `alpha` is given: the bias and the activation in the product's own pass (one launch where
 * a product, an Add and the activation's two took four), the gradient from the activation's slope and
 * the bias's by columnSums. The same values as leakyRelu(addBias(tf.matMul(a, w), b), alpha) where
 * the backend adds the bias after the whole sum (wasm's WebAssembly products, cpu); XNNPACK starts
 * its sums from the bias (the last bit may differ).
 */
export function dense(a: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, alpha?: number): tf.Tensor2D {
  if (alpha === undefined) return matMulBias(a, w, b);
  if (!(alpha > 0))
    throw new RangeError(`dense: alpha (LeakyReLU's slope below zero) must be a positive number, got ${alpha}`);
  return recordingGradients() ? leakyWithGradient(alpha)(a, w, b) : fusedLeaky(a, w, b, alpha);
}
