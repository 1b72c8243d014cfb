import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { leakyRelu } from './leaky_relu.js';

describeEachBackend("the model's LeakyReLU", (ctx) => {
  it('is x for x > 0 and the float32 product alpha x otherwise, its gradient dy or alpha dy, to the bit: zeros of both signs, infinities, subnormals, NaN', async () => {
    const special = [0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-40, -1e-40, 3.5, -3.5];
    const values = Float32Array.from([...special, ...Array.from({ length: 504 }, (_, i) => Math.sin(i * 7.3) * 3)]);
    values[40] = Number.NaN;
    const shape: [number, number] = [values.length / 16, 16];
    const dyValues = Float32Array.from(values, (_, i) => Math.cos(i));
    const [x, dy] = [tf.tensor2d(values, shape), tf.tensor2d(dyValues, shape)];
    // Object.is: NaN equals NaN, 0 differs from -0.
    const expectSame = (got: ArrayLike<number>, want: ArrayLike<number>) => {
      for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) expect([i, got[i]]).toEqual([i, want[i]]);
    };
    for (const alpha of [0.1, 0.3]) {
      const a = Math.fround(alpha);
      await expectNoLeak(() => {
        tf.tidy(() => {
          const y = leakyRelu(x, alpha);
          expectSame(
            y.dataSync(),
            values.map((v) => (v > 0 ? v : Math.fround(v * a))),
          );
          const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(leakyRelu(v, alpha), dy)))(x);
          const slope = (v: number) => (Number.isNaN(v) ? Number.NaN : v > 0 ? 1 : a);
          expectSame(
            g.dataSync(),
            dyValues.map((d, i) => Math.fround(d * slope(values[i]!))),
          );
          // TF.js's own: on wasm the same float32 product, bit for bit; on cpu alpha x in float64
          // rounded once, at most one unit in the last place away.
          const theirs = tf.leakyRelu(x, alpha).dataSync();
          if (ctx.info.name === 'wasm') expectSame(y.dataSync(), theirs);
          else
            for (const [i, v] of y.dataSync().entries())
              if (!Object.is(v, theirs[i]))
                expect(Math.abs(v - theirs[i]!)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -23);
        });
      });
    }
    tf.dispose([x, dy]);
  });
});
