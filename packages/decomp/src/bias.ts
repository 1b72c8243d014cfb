import * as tf from '@tensorflow/tfjs-core';

/**
 * Sums of the columns of x (N x M), as (M). On wasm (M a multiple of 4) and cpu as one product,
 * ones (1 x N) times x: @tensorized/backends multiplies one row by a wide fresh matrix by streaming
 * through its rows (no XNNPACK packing), and cpu's product is one pass. Measured for 960 x 1536
 * (`node apps/bench/scripts/column-sums.mjs [backend]`, recorded 2026-12-05T2328): wasm 0.14 ms
 * against 1.0 by halving and 1.8 by tf.sum; cpu 3.1 ms against 6.4 and 40. Elsewhere (and for other widths on wasm, whose product
 * would go to XNNPACK and pack x first) by halving: the top half of the rows plus the bottom half,
 * until one row is left, elementwise adds only, which read x about twice; a Sum over the leading axis
 * transposes first.
 */
export function columnSums(x: tf.Tensor2D): tf.Tensor1D {
  const [n, m] = x.shape;
  const backend = tf.getBackend();
  if (n > 1 && ((backend === 'wasm' && m % 4 === 0) || backend === 'cpu')) {
    return tf.tidy(() => tf.reshape(tf.matMul(tf.ones([1, n]), x), [m]) as tf.Tensor1D);
  }
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

const addBiasWithGradient: (x: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(((
  ...args: Array<tf.Tensor | tf.GradSaveFunc>
) => {
  const [x, b] = args as [tf.Tensor2D, tf.Tensor1D];
  return {
    value: tf.add(x, b),
    gradFunc: (dy: tf.Tensor) => [dy, columnSums(dy as tf.Tensor2D)],
  };
}) as Parameters<typeof tf.customGrad>[0]) as never;

/**
 * x + b for x (N x M) and a bias b (M), whose gradient for b is columnSums(dy). Outside a gradient
 * tape it is a plain add: customGrad's wrapper costs about as much again as the Add itself at batch 1
 * (a generated frame adds three biases).
 */
export function addBias(x: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return recordingGradients() ? addBiasWithGradient(x, b) : tf.add(x, b);
}

/** a b + bias as one fused product where the backend's _FusedMatMul takes matrices (wasm, cpu, webgl). */
function fusedMatMulBias(a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  if (['wasm', 'cpu', 'webgl'].includes(tf.getBackend()))
    return tf.engine().runKernel('_FusedMatMul', { a, b, bias }, {
      transposeA: false,
      transposeB: false,
      activation: 'linear',
    } as never) as tf.Tensor2D;
  return tf.fused.matMul({ a, b, bias }) as tf.Tensor2D;
}

const matMulBiasWithGradient: (a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D = tf.customGrad(((
  ...args: Array<tf.Tensor | tf.GradSaveFunc>
) => {
  const [a, b, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: fusedMatMulBias(a, b, bias),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
      tf.matMul(dy as tf.Tensor2D, sb as tf.Tensor2D, false, true),
      tf.matMul(sa as tf.Tensor2D, dy as tf.Tensor2D, true, false),
      columnSums(dy as tf.Tensor2D),
    ],
  };
}) as Parameters<typeof tf.customGrad>[0]) as never;

/**
 * a b + bias for a (N x K), b (K x M) and a bias (M), the bias added in the product's own pass (the
 * backend's _FusedMatMul) instead of a separate Add over the N x M result; the bias's gradient is
 * columnSums(dy), a's and b's those of the product.
 */
export function matMulBias(a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return recordingGradients() ? matMulBiasWithGradient(a, b, bias) : fusedMatMulBias(a, b, bias);
}

/**
 * Whether TF.js is recording a gradient tape (inside tf.grad, variableGrads and the like). Uses the
 * engine's own test; if a TF.js version lacked it, the answer is 'yes', which is always safe.
 */
export function recordingGradients(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return engine.isTapeOn ? engine.isTapeOn() : true;
}
