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

/**
 * a b + bias as one fused product where the backend's _FusedMatMul takes matrices (wasm, cpu, webgl),
 * then LeakyReLU with slope `leakyAlpha` below zero if given.
 */
function fusedMatMulBias(a: tf.Tensor2D, b: tf.Tensor2D, bias: tf.Tensor1D, leakyAlpha?: number): tf.Tensor2D {
  const activation =
    leakyAlpha === undefined ? { activation: 'linear' } : { activation: 'leakyrelu', leakyreluAlpha: leakyAlpha };
  if (['wasm', 'cpu', 'webgl'].includes(tf.getBackend()))
    return tf.engine().runKernel('_FusedMatMul', { a, b, bias }, {
      transposeA: false,
      transposeB: false,
      ...activation,
    } as never) as tf.Tensor2D;
  return tf.fused.matMul({ a, b, bias, ...activation } as Parameters<typeof tf.fused.matMul>[0]) as tf.Tensor2D;
}

/** matMulBias with its gradient: the activation's slope (1, or leakyAlpha where y <= 0), then the product's. */
const matMulBiasWithGradient = (leakyAlpha?: number) =>
  tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [a, b, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const y = fusedMatMulBias(a, b, bias, leakyAlpha);
    // The slope at the pre-activation z: 1 where z > 0, alpha elsewhere, as y > 0 exactly where z > 0.
    save(leakyAlpha === undefined ? [a, b] : [a, b, tf.step(y, leakyAlpha)]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sa, sb, slope]: tf.Tensor[]) => {
        const dz = (slope ? tf.mul(dy, slope) : dy) as tf.Tensor2D;
        return [
          tf.matMul(dz, sb as tf.Tensor2D, false, true),
          tf.matMul(sa as tf.Tensor2D, dz, true, false),
          columnSums(dz),
        ];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]) as unknown as (
    a: tf.Tensor2D,
    b: tf.Tensor2D,
    bias: tf.Tensor1D,
  ) => tf.Tensor2D;

/** matMulBias's differentiable form without an activation, made once. */
const linearWithGradient = matMulBiasWithGradient();

/**
 * matMulBias with gradients for b and the bias only: a (data, such as a model's input) is saved for
 * b's gradient but not differentiated, so the product dz b^T is never formed.
 */
const withoutGradientOfA = (a: tf.Tensor2D, leakyAlpha?: number) =>
  tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [b, bias, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const y = fusedMatMulBias(a, b, bias, leakyAlpha);
    save(leakyAlpha === undefined ? [a] : [a, tf.step(y, leakyAlpha)]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, [sa, slope]: tf.Tensor[]) => {
        const dz = (slope ? tf.mul(dy, slope) : dy) as tf.Tensor2D;
        return [tf.matMul(sa as tf.Tensor2D, dz, true, false), columnSums(dz)];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]) as unknown as (b: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D;

/** Options of matMulBias. */
export interface MatMulBiasOptions {
  /** LeakyReLU's slope below zero (a positive number), applied in the product's pass; none if absent. */
  leakyAlpha?: number;
  /**
   * false: a is data (a model's input), whose gradient nobody needs; under a gradient tape only b's
   * and the bias's are computed (a custom gradient computes every input's, used or not: the input
   * layer of a model spent a product as large as its weight's gradient on it). Default true.
   */
  aGradient?: boolean;
}

/**
 * a b + bias for a (N x K), b (K x M) and a bias (M), the bias added in the product's own pass (the
 * backend's _FusedMatMul) instead of a separate Add over the N x M result; the bias's gradient is
 * columnSums(dy), a's and b's those of the product (a's not with `aGradient: false`). The fourth
 * argument is the options or, alone, `leakyAlpha`. With `leakyAlpha` (a positive slope), LeakyReLU
 * of that in the same pass, its gradient from the slope at the output: a dense layer in one launch
 * where a product, an Add and an activation's two took four. The same values as tf.matMul, tf.add
 * and x times step(x, alpha) one by one where the backend adds the bias after the whole sum (wasm's
 * WebAssembly products, cpu); XNNPACK starts its sums from the bias (the last bit may differ).
 */
export function matMulBias(
  a: tf.Tensor2D,
  b: tf.Tensor2D,
  bias: tf.Tensor1D,
  options: number | MatMulBiasOptions = {},
): tf.Tensor2D {
  const { leakyAlpha, aGradient = true } = typeof options === 'number' ? { leakyAlpha: options } : options;
  if (leakyAlpha !== undefined && !(leakyAlpha > 0))
    throw new RangeError(
      `matMulBias: leakyAlpha (LeakyReLU's slope below zero) must be a positive number, got ${leakyAlpha}`,
    );
  if (typeof aGradient !== 'boolean')
    throw new TypeError(`matMulBias: aGradient must be a boolean, got ${String(aGradient)}`);
  if (!recordingGradients()) return fusedMatMulBias(a, b, bias, leakyAlpha);
  if (!aGradient) return withoutGradientOfA(a, leakyAlpha)(b, bias);
  return (leakyAlpha === undefined ? linearWithGradient : matMulBiasWithGradient(leakyAlpha))(a, b, bias);
}

/**
 * Whether TF.js is recording a gradient tape (inside tf.grad, variableGrads and the like). Uses the
 * engine's own test; if a TF.js version lacked it, the answer is 'yes', which is always safe.
 */
export function recordingGradients(): boolean {
  const engine = tf.engine() as unknown as { isTapeOn?: () => boolean };
  return engine.isTapeOn ? engine.isTapeOn() : true;
}
