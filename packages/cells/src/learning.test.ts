import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { type CellConfig, createCell, type WeightSpec } from './index.js';

// A deterministic sequence task: the symbols 0 1 2 3 4 3 2 1 repeat, so what follows 1, 2 or 3
// depends on the direction of travel; the model must remember the previous symbol.
const PATTERN = [0, 1, 2, 3, 4, 3, 2, 1];
const V = 8;
const B = 8;
const T = 12;

function batch(): { inputs: tf.Tensor3D; targets: tf.Tensor2D } {
  const seq = (b: number, t: number): number => PATTERN[(b + t) % PATTERN.length]!;
  const ids = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => seq(b, t)));
  const next = Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => seq(b, t + 1)));
  return tf.tidy(() => ({
    inputs: tf.cast(tf.oneHot(tf.tensor2d(ids, [B, T], 'int32'), V), 'float32') as tf.Tensor3D,
    targets: tf.cast(tf.oneHot(tf.tensor1d(next.flat(), 'int32'), V), 'float32') as tf.Tensor2D,
  }));
}

function train(spec: WeightSpec, steps: number, seed = 1): { losses: number[]; initial: number[] } {
  const config: CellConfig = {
    kind: 'gru',
    inputSize: V,
    hiddenSize: 16,
    inputModes: [2, 4],
    hiddenModes: [4, 4],
    input: spec,
    recurrent: spec,
    seed,
    init: 'glorot',
  };
  const cell = createCell(config);
  const [readout, bias] = tf.tidy(() => [
    tf.variable(tf.randomNormal([16, V], 0, 0.3, 'float32', seed + 7)),
    tf.variable(tf.zeros([V])),
  ]);
  const initial = Array.from(cell.trainableVariables[0]!.dataSync());
  const { inputs, targets } = batch();
  const optimizer = tf.train.adam(0.03);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const loss = optimizer.minimize(() => {
      const h = tf.reshape(cell.run(inputs).outputs, [B * T, 16]);
      return tf.losses.softmaxCrossEntropy(targets, tf.add(tf.matMul(h, readout!), bias!)) as tf.Scalar;
    }, true)!;
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  optimizer.dispose();
  tf.dispose([inputs, targets, readout!, bias!]);
  cell.dispose();
  return { losses, initial };
}

describeEachBackend('learning', () => {
  const specs: Array<[string, WeightSpec]> = [
    ['dense', { format: 'dense' }],
    ['tt', { format: 'tt', ranks: [1, 4, 1] }],
    ['cp', { format: 'cp', rank: 8 }],
    ['tucker', { format: 'tucker', ranks: [2, 4] }],
    ['tr', { format: 'tr', ranks: [2, 3, 2] }],
    ['bt', { format: 'bt', ranks: [2, 2], blocks: 2 }],
  ];
  for (const [name, spec] of specs) {
    it(`a ${name} GRU learns the sequence task: loss falls well below its start`, async () => {
      const { losses } = await expectNoLeak(() => train(spec, 150));
      expect(losses[0]).toBeGreaterThan(1.5); // about ln 8 at the start
      expect(Math.min(...losses.slice(-10))).toBeLessThan(0.25 * losses[0]!);
    });
  }

  it('the same seed on the same backend gives identical initial weights and loss curves', () => {
    const a = train({ format: 'tt', ranks: [1, 4, 1] }, 15, 5);
    const b = train({ format: 'tt', ranks: [1, 4, 1] }, 15, 5);
    const c = train({ format: 'tt', ranks: [1, 4, 1] }, 15, 6);
    expect(a.initial).toEqual(b.initial);
    expect(a.losses).toEqual(b.losses);
    expect(c.initial).not.toEqual(a.initial);
  });
});
