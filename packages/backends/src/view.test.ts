import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FUSED_KERNELS, useBackend } from './index.js';
import type { ViewStep } from './view.js';

const run = (x: tf.Tensor, view: readonly ViewStep[]): tf.Tensor =>
  tf.engine().runKernel(FUSED_KERNELS.view, { x }, { view } as never) as tf.Tensor;

/** The same steps op by op. */
const stepByStep = (x: tf.Tensor, view: readonly ViewStep[]): tf.Tensor =>
  tf.tidy(() =>
    view.reduce<tf.Tensor>(
      (y, op) => ('reshape' in op ? tf.reshape(y, [...op.reshape]) : tf.transpose(y, [...op.transpose])),
      x,
    ),
  );

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`TensorizedView [${backend}]`, () => {
    it('equals its reshapes and transposes op by op, bit for bit, and frees what it made in between', async () => {
      await useBackend(backend);
      const cases: Array<[number[], ViewStep[]]> = [
        // A TT-GRU's view between its cores, and the inverse.
        [
          [16, 512],
          [{ reshape: [-1, 32, 16] }, { transpose: [0, 2, 1] }, { reshape: [-1, 32] }],
        ],
        [
          [16 * 16, 352],
          [{ reshape: [16, 16, 1, 32, 11] }, { transpose: [0, 3, 2, 1, 4] }, { reshape: [-1, 176] }],
        ],
        // Two transposes (the first result freed), a transpose first, a reshape last only.
        [
          [6, 4, 5],
          [{ transpose: [2, 0, 1] }, { reshape: [5, 24] }, { transpose: [1, 0] }],
        ],
        [[3, 7], [{ transpose: [1, 0] }]],
        [
          [2, 3, 4],
          [{ transpose: [0, 2, 1] }, { reshape: [-1] }],
        ],
      ];
      for (const [shape, view] of cases) {
        const x = tf.randomNormal(shape, 0, 1, 'float32', shape.length);
        const want = stepByStep(x, view);
        const before = tf.memory().numTensors;
        const buffers = tf.backend().numDataIds();
        const got = run(x, view);
        expect(got.shape).toEqual(want.shape);
        expect(got.dataSync()).toEqual(want.dataSync());
        // Only the output is new: no intermediate buffer left behind on the backend.
        expect(tf.memory().numTensors).toBe(before + 1);
        expect(tf.backend().numDataIds()).toBe(buffers + 1);
        tf.dispose([x, want, got]);
      }
    });

    it('names a bad view', async () => {
      await useBackend(backend);
      const x = tf.zeros([2, 3]);
      const before = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      expect(() => run(x, [{ reshape: [3, 2] }])).toThrow(
        /TensorizedView: attribute 'view' must be a list of steps with at least one transpose/,
      );
      expect(() => run(x, [{ transpose: [1, 0] }, { reshape: [4, 2] }])).toThrow(/cannot reshape \[3, 2\] to \[4, 2\]/);
      expect(() => run(x, [{ transpose: [1, 0] }, { transpose: [0, 0] }])).toThrow(
        /transpose \[0, 0\] is not a permutation of the 2 axes of \[3, 2\]/,
      );
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.backend().numDataIds()).toBe(buffers);
      x.dispose();
    });
  });
}
