import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { createCell, type ModelName, paperCellConfig } from './index.js';

beforeAll(async () => {
  await useBackend('wasm');
});

// The table of PAPER.md: RNN parameters = W + U + one 3M bias.
it.each<[ModelName, Parameters<typeof paperCellConfig>[1], number]>([
  ['gru', {}, 1_181_184],
  ['tt-gru', { ranks: [1, 11, 11, 11, 1] }, 11_392],
  ['cp-gru', { rank: 50 }, 6_136],
  ['cp-gru', { rank: 80 }, 8_896],
  ['cp-gru', { rank: 110 }, 11_656],
  ['tucker-gru', { ranks: [2, 2, 2, 2] }, 2_232],
  ['tucker-gru', { ranks: [2, 4, 2, 4] }, 10_008],
  ['tucker-gru', { ranks: [2, 2, 2, 2], hiddenSize: 1024, hiddenModes: [8, 4, 8, 4], inputModes: [4, 4, 4, 4] }, 3_792],
  [
    'tucker-gru',
    { ranks: [2, 4, 2, 4], hiddenSize: 1024, hiddenModes: [8, 4, 8, 4], inputModes: [4, 4, 4, 4] },
    11_568,
  ],
])('%s %j has %i RNN parameters', (model, options, expected) => {
  const before = tf.memory().numTensors;
  const cell = createCell(paperCellConfig(model, { ...options, seed: 1 }));
  expect(cell.paramCount()).toBe(expected);
  // The full count adds U's bias; it equals the number of stored values.
  const stored = cell.trainableVariables.reduce((n, v) => n + v.size, 0);
  expect(cell.paramCountFull()).toBe(expected + 3 * cell.hiddenSize);
  expect(stored).toBe(cell.paramCountFull());
  cell.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

it('an LSTM folds four gates: TT-LSTM of the paper sizes', () => {
  const cell = createCell(paperCellConfig('tt-lstm', { seed: 1 }));
  // W: 4x4x4x4 -> 8x4x4x16, U: 8x4x4x4 -> 8x4x4x16, ranks 11, plus one 4 x 512 bias.
  const w = 1 * 4 * 8 * 11 + 2 * (11 * 4 * 4 * 11) + 11 * 4 * 16;
  const u = 1 * 8 * 8 * 11 + 2 * (11 * 4 * 4 * 11) + 11 * 4 * 16;
  expect(cell.paramCount()).toBe(w + u + 2048);
  cell.dispose();
});
