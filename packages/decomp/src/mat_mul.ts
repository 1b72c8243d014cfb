import * as tf from '@tensorflow/tfjs-core';

/**
 * A^T B for 2-D tensors (the weight gradient of a product) with plain matMul kernels, in the
 * orientation that makes XNNPACK repack the smaller operand: its matMul repacks a fresh right-hand
 * side at about 6.5 ns per element, four times the cost of moving it in a transpose. A^T B when B
 * is the smaller (A made explicitly transposed), else (B^T A)^T.
 */
export function matMulTransposeA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => (b.size <= a.size ? tf.matMul(tf.transpose(a), b) : tf.transpose(tf.matMul(tf.transpose(b), a)))) as tf.Tensor2D;
}

/**
 * A B^T with plain kernels (the input gradient of a product): (B A^T)^T when A (say a few rows of
 * a recurrent state) is the smaller, so that the fixed B stays on the left; else A (B^T) with B
 * transposed explicitly.
 */
export function matMulTransposeB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => (a.size <= b.size ? tf.transpose(tf.matMul(b, tf.transpose(a))) : tf.matMul(a, tf.transpose(b)))) as tf.Tensor2D;
}

/**
 * A x B for 2-D tensors whose backward pass uses no transposed-operand kernels. On the wasm backend
 * the matMul kernels with transposeA / transposeB set are 10x slower than plain ones (measured: the
 * recurrent dU = h^T dY took 15 ms per step against 1.4 ms); see matMulTransposeA / B for the
 * orientation chosen.
 */
const plainMatMul = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      const d = dy as tf.Tensor2D;
      return [matMulTransposeB(d, sb), matMulTransposeA(sa, d)];
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

/**
 * Sums of the columns of x (N x M), as (M): x^T times a column of ones. Both obvious ways are slow
 * on wasm for a fresh x: a Sum over the leading axis (11 ms for 1024 x 1536) and ones (1 x N) times
 * x (XNNPACK repacks x: 10 ms); transposing x and multiplying by ones takes about 3 ms.
 */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.reshape(tf.matMul(tf.transpose(x), tf.ones([x.shape[0], 1])), [-1]) as tf.Tensor1D);
}

/** x + b for x (N x M) and a bias b (M), whose gradient for b is columnSums(dy). */
export const addBias: (x: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, b] = args as [tf.Tensor2D, tf.Tensor1D];
  return {
    value: tf.add(x, b),
    gradFunc: (dy: tf.Tensor) => [dy, columnSums(dy as tf.Tensor2D)],
  };
}) as Parameters<typeof tf.customGrad>[0]) as never;
