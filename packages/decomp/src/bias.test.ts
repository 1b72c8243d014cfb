import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { addBias, columnSums } from './stages.js';

describeEachBackend('bias helpers', () => {
  it('columnSums equals tf.sum over rows, for even, odd and single-row inputs', async () => {
    for (const n of [1, 2, 3, 7, 64, 1025]) {
      const x = tf.randomNormal([n, 5], 0, 1, 'float32', n) as tf.Tensor2D;
      await expectNoLeak(() => {
        const got = columnSums(x);
        const want = tf.sum(x, 0);
        expect(got.shape).toEqual([5]);
        expectClose(got, want.dataSync(), { rtol: 1e-4, atol: 1e-4 * Math.sqrt(n) });
        tf.dispose([got, want]);
      });
      x.dispose();
    }
  });

  it('addBias: values and gradients equal tf.add under autodiff', async () => {
    const x = tf.randomNormal([9, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
    const w = tf.randomNormal([4, 3], 0, 1, 'float32', 5) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 6) as tf.Tensor1D;
    const probe = tf.randomNormal([9, 3], 0, 1, 'float32', 7);
    await expectNoLeak(() => {
      const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(addBias(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb as tf.Tensor1D)), probe)),
      );
      const plain = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(tf.add(tf.matMul(xx, ww), bb)), probe)),
      );
      const g1 = ours([x, w, b]);
      const g2 = plain([x, w, b]);
      g1.forEach((g, i) => {
        expect(g.shape).toEqual(g2[i]!.shape);
        expectClose(g, g2[i]!.dataSync(), { rtol: 1e-4, atol: 1e-4 });
      });
      tf.dispose([...g1, ...g2]);
    });
    tf.dispose([x, w, b, probe]);
  });
});
