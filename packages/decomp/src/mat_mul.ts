import * as tf from '@tensorflow/tfjs-core';

/**
 * A x B for 2-D tensors whose backward pass uses no transposed-operand kernels:
 * dA = (B dY^T)^T and dB = A^T dY with A^T made explicitly. On the wasm backend the matMul kernels
 * with transposeA / transposeB set are 10x slower than plain ones (measured: the recurrent
 * dU = h^T dY took 15 ms per step against 1.4 ms), and a large operand kept on the left is not
 * repacked by XNNPACK at every step.
 */
const plainMatMul = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D;
      return [tf.transpose(tf.matMul(sb, tf.transpose(d))), tf.matMul(tf.transpose(sa), d)];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]);

/** Whether the running backend's transposed matMul kernels are slow enough to avoid. */
function avoidsTransposedKernels(): boolean {
  return tf.getBackend() === 'wasm';
}

/**
 * matMul of two 2-D tensors, optionally transposed. Same result as tf.matMul; on wasm the
 * transposes are made explicit and the gradient avoids the slow transposed kernels (see above).
 */
export function matMul2d(a: tf.Tensor2D, b: tf.Tensor2D, transposeA = false, transposeB = false): tf.Tensor2D {
  if (!avoidsTransposedKernels()) return tf.matMul(a, b, transposeA, transposeB);
  return tf.tidy(() => plainMatMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b) as tf.Tensor2D);
}
