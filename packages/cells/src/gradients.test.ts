import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak, finiteDifferences } from '@tensorized/test-utils';
import { it } from 'vitest';
import { type CellConfig, createCell } from './index.js';

const CONFIGS: Array<[string, CellConfig]> = [
  [
    'dense-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      input: { format: 'dense' },
      recurrent: { format: 'dense' },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'tt-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'tt', ranks: [1, 2, 1] },
      recurrent: { format: 'tt', ranks: [1, 3, 1] },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'cp-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'cp', rank: 2 },
      recurrent: { format: 'cp', rank: 3 },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'tucker-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'tucker', ranks: [2, 1] },
      recurrent: { format: 'tucker', ranks: [2, 2] },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'tr-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'tr', ranks: [2, 2, 2] },
      recurrent: { format: 'tr', ranks: [2, 1, 2] },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'bt-gru',
    {
      kind: 'gru',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'bt', ranks: [2, 2], blocks: 2 },
      recurrent: { format: 'bt', ranks: [1, 2], blocks: 3 },
      seed: 1,
      init: 0.4,
    },
  ],
  [
    'tt-lstm (dense W)',
    {
      kind: 'lstm',
      inputSize: 4,
      hiddenSize: 4,
      inputModes: [2, 2],
      hiddenModes: [2, 2],
      input: { format: 'dense' },
      recurrent: { format: 'tt', ranks: [1, 2, 1] },
      seed: 1,
      init: 0.4,
    },
  ],
];

describeEachBackend('gradients of a masked sequence loss', () => {
  for (const [name, config] of CONFIGS) {
    for (const matmulPath of ['factorised', 'rebuild'] as const) {
      it(`${name}, ${matmulPath}: every variable's gradient matches central finite differences`, async () => {
        const cell = createCell({ ...config, matmulPath });
        const inputs = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5) as tf.Tensor3D;
        const mask = tf.tensor2d([1, 1, 1, 1, 0, 1], [2, 3]);
        const probe = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 6);
        const named = cell.namedVariables();
        // Non-zero biases so that their gradients are exercised away from zero.
        tf.tidy(() =>
          cell.setWeights({
            bW: tf.randomNormal(cell.bW.shape, 0, 0.3, 'float32', 7),
            bU: tf.randomNormal(cell.bU.shape, 0, 0.3, 'float32', 8),
          }),
        );
        const loss = (): tf.Scalar => tf.sum(tf.mul(cell.run(inputs, { mask }).outputs, probe));
        await expectNoLeak(() => {
          const { value, grads } = tf.variableGrads(
            loss,
            named.map(([, v]) => v),
          );
          value.dispose();
          for (const [vname, v] of named) {
            const saved = tf.clone(v);
            const fd = finiteDifferences(
              (value) => {
                v.assign(value);
                return loss();
              },
              saved,
              1e-2,
            );
            v.assign(saved);
            saved.dispose();
            const scale = Math.max(1e-2, ...fd.map(Math.abs));
            try {
              expectClose(grads[v.name]!, fd, { rtol: 2e-2, atol: 2e-2 * scale });
            } catch (e) {
              throw new Error(`${vname}: ${(e as Error).message}`);
            }
          }
          tf.dispose(Object.values(grads));
        });
        tf.dispose([inputs, mask, probe]);
        cell.dispose();
      });
    }
  }
});
