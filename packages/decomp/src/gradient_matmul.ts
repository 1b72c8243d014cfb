import * as tf from '@tensorflow/tfjs-core';

/**
 * A^T B for 2-D tensors A (N x k), B (N x m) (the weight gradient of a product) with plain matMul
 * kernels. Usually A is transposed and B is the right-hand side, which XNNPACK repacks (about 6.5 ns
 * per element). When B is much wider than A, (B^T A)^T is cheaper: it repacks the narrow A and
 * transposes B, at the price of transposing the (k x m) result, which is slow on wasm for wide
 * results (measured, wasm: TT stage gradients 16384 x 32 by 16384 x 352 take 50 ms against 60;
 * the dense dU = H^T G, 1024 x 512 by 1024 x 1536, takes 74 ms the usual way against 81).
 */
export function matMulTransposeA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const [n, k] = a.shape;
  const m = b.shape[1];
  const flip = n * (m - k) > 5 * k * m;
  return tf.tidy(() => (flip ? tf.transpose(tf.matMul(tf.transpose(b), a)) : tf.matMul(tf.transpose(a), b))) as tf.Tensor2D;
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
 * Sums of the columns of x (N x M), as (M), by halving: the top half of the rows plus the bottom
 * half, until one row is left. On wasm the obvious ways are slow for a fresh 1024 x 1536 x: a Sum
 * over the leading axis (8 ms; it transposes), ones (1 x N) times x (5 ms; XNNPACK repacks x), x^T
 * times ones (10 ms; a wide 2-D transpose). Halving reads x about twice: under 1 ms.
 */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    let y: tf.Tensor2D = x;
    let odd: tf.Tensor2D | undefined;
    while (y.shape[0] > 1) {
      const n = y.shape[0];
      const h = Math.floor(n / 2);
      if (n % 2) {
        const last = tf.slice(y, [n - 1, 0], [1, -1]);
        odd = odd ? (tf.add(odd, last) as tf.Tensor2D) : last;
      }
      y = tf.add(tf.slice(y, [0, 0], [h, -1]), tf.slice(y, [h, 0], [h, -1])) as tf.Tensor2D;
    }
    return tf.reshape(odd ? tf.add(y, odd) : y, [-1]) as tf.Tensor1D;
  });
}

/** x + b for x (N x M) and a bias b (M), whose gradient for b is columnSums(dy). */
export const addBias: (x: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, b] = args as [tf.Tensor2D, tf.Tensor1D];
  return {
    value: tf.add(x, b),
    gradFunc: (dy: tf.Tensor) => [dy, columnSums(dy as tf.Tensor2D)],
  };
}) as Parameters<typeof tf.customGrad>[0]) as never;
