import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
// Only imported: the wasm backend is then started the plain TF.js way, not with useBackend.
import './index.js';

it('importing @tensorized/backends installs the wasm kernel fixes, so that a plain tf.setBackend("wasm") gets them', async () => {
  expect(await tf.setBackend('wasm')).toBe(true);
  await tf.ready();
  // Without the fix XNNPACK gives back uninitialised memory for 8 axes; with it, the sums.
  const a = tf.ones([2, 1, 2, 1, 2, 1, 2, 2]);
  const y = tf.add(a, a);
  expect(Array.from(y.dataSync())).toEqual(new Array(32).fill(2));
  // And the faster Tanh is the registered one (it agrees with Math.tanh).
  const t = tf.tanh(tf.tensor1d([-3, -0.5, 0, 0.25, 4]));
  for (const [i, v] of Array.from(t.dataSync()).entries())
    expect(v).toBeCloseTo(Math.tanh([-3, -0.5, 0, 0.25, 4][i]!), 6);
  tf.dispose([a, y, t]);
});
