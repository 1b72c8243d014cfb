import * as tf from '@tensorflow/tfjs-core';
import { addBias } from '@tensorized/decomp/stages';
import { describeEachBackend, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { dense } from './layer.js';
import { leakyRelu } from './leaky_relu.js';

describeEachBackend("the model's dense layer", (ctx) => {
  it('equals the product, the bias add and LeakyReLU one by one, values and all three gradients (the input layer, linear: the output layer)', async () => {
    // Rows of the input layer's shape (88 keys in, 256 out) and a few more columns than a tile.
    const [N, K, M] = [37, 88, 20];
    const a = tf.tensor2d(
      Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * 1.5),
      [N, K],
    );
    const w = tf.tensor2d(
      Float32Array.from({ length: K * M }, (_, i) => Math.cos(i * 0.11) * 0.2),
      [K, M],
    );
    const b = tf.tensor1d(Float32Array.from({ length: M }, (_, i) => (i % 3) - 1));
    const dy = tf.tensor2d(
      Float32Array.from({ length: N * M }, (_, i) => Math.sin(i * 1.3)),
      [N, M],
    );
    // Values: on wasm (the bias and the activation after the whole sum, alpha x in float32) to the
    // bit; on cpu LeakyReLU rounds alpha x from float64, one unit in the last place away at most.
    const ulp = ctx.info.name === 'cpu' ? 2 ** -23 : 0;
    const expectNear = (got: tf.Tensor, want: tf.Tensor, what: string) => {
      const [g, v] = [got.dataSync(), want.dataSync()];
      expect(got.shape, what).toEqual(want.shape);
      for (let i = 0; i < v.length; i++)
        if (!Object.is(g[i], v[i]))
          expect(Math.abs(g[i]! - v[i]!), `${what} [${i}]`).toBeLessThanOrEqual(Math.abs(v[i]!) * ulp);
    };
    for (const alpha of [0.1, undefined]) {
      await expectNoLeak(() => {
        tf.tidy(() => {
          const reference = (x: tf.Tensor2D, v: tf.Tensor2D, c: tf.Tensor1D) => {
            const z = addBias(tf.matMul(x, v), c);
            return alpha === undefined ? z : leakyRelu(z, alpha);
          };
          const layer = (x: tf.Tensor2D, v: tf.Tensor2D, c: tf.Tensor1D) => dense(x, v, c, alpha);
          // Outside a tape (one launch) and inside one.
          expectNear(layer(a, w, b), reference(a, w, b), `values, alpha ${alpha}`);
          const loss = (f: typeof layer) => (x: tf.Tensor, v: tf.Tensor, c: tf.Tensor) =>
            tf.sum(tf.mul(f(x as tf.Tensor2D, v as tf.Tensor2D, c as tf.Tensor1D), dy));
          const got = tf.valueAndGrads(loss(layer))([a, w, b]);
          const want = tf.valueAndGrads(loss(reference))([a, w, b]);
          for (const [i, g] of got.grads.entries()) expectNear(g, want.grads[i]!, `gradient ${i}, alpha ${alpha}`);
          // The pre-activations take both signs (both slopes are exercised).
          if (alpha !== undefined) {
            const z = tf.add(tf.matMul(a, w), b);
            expect(tf.min(z).dataSync()[0]).toBeLessThan(0);
            expect(tf.max(z).dataSync()[0]).toBeGreaterThan(0);
          }
        });
      });
    }
    expect(() => dense(a, w, b, 0)).toThrow(
      /dense: alpha \(LeakyReLU's slope below zero\) must be a positive number, got 0/,
    );
    tf.dispose([a, w, b, dy]);
  });
});
