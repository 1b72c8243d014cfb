import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { addBias, columnSums, matMul2d, matMulTransposeA, matMulTransposeB } from './index.js';

describeEachBackend('matMul helpers', (ctx) => {
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

  it('matMulTransposeA / B equal the transposed products in both orientations', async () => {
    // (N, k, m): the usual orientation, and a wide B that flips it.
    for (const [n, k, m] of [[6, 4, 5], [64, 2, 40], [3, 7, 2]] as const) {
      const a = tf.randomNormal([n, k], 0, 1, 'float32', 1) as tf.Tensor2D;
      const b = tf.randomNormal([n, m], 0, 1, 'float32', 2) as tf.Tensor2D;
      const c = tf.randomNormal([k, m], 0, 1, 'float32', 3) as tf.Tensor2D;
      await expectNoLeak(() => {
        const ta = matMulTransposeA(a, b);
        const refA = tf.matMul(a, b, true, false);
        expectClose(ta, refA.dataSync(), { rtol: ctx.tol * 10, atol: ctx.tol * 10 * n });
        const tb = matMulTransposeB(b, c);
        const refB = tf.matMul(b, c, false, true);
        expectClose(tb, refB.dataSync(), { rtol: ctx.tol * 10, atol: ctx.tol * 10 * m });
        tf.dispose([ta, refA, tb, refB]);
      });
      tf.dispose([a, b, c]);
    }
  });

  it('addBias and matMul2d: values and gradients equal tf.add and tf.matMul under autodiff', async () => {
    const x = tf.randomNormal([9, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
    const w = tf.randomNormal([4, 3], 0, 1, 'float32', 5) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 6) as tf.Tensor1D;
    const probe = tf.randomNormal([9, 3], 0, 1, 'float32', 7);
    await expectNoLeak(() => {
      const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.tanh(addBias(matMul2d(xx as tf.Tensor2D, ww as tf.Tensor2D), bb as tf.Tensor1D)), probe)));
      const plain = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(tf.tanh(tf.add(tf.matMul(xx, ww), bb)), probe)));
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
