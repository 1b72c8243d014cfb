// ms per model.predict of one 64-step sequence (batch 1, the paper's sizes: input 256, hidden 512)
// for GRU layers in tfjs-layers: TF.js's own tf.layers.gru, and the paper's CP, Tucker and TT cells as
// tensorizedGru (which prepares W and U once per predict) and as a plain tf.layers.rnn over the same
// TensorizedRNNCell (which prepares them at every step), in alternating rounds, the fastest of each.
//
//   node packages/cells/scripts/layer-predict.mjs [rounds=5]     (from the repository root, after pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { useBackend } from '@tensorized/backends';
import { paperCellConfig } from '@tensorized/cells';
import { TensorizedRNNCell, tensorizedGru } from '@tensorized/cells/layers';

const rounds = Number(process.argv[2] ?? 5);
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`layer-predict: rounds must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
const info = await useBackend('wasm');
const T = 64;
const inputShape = [T, 256];
const MODELS = [
  ['CP-GRU R=80', 'cp-gru', { format: 'cp', rank: 80 }],
  ['Tucker-GRU (2,4,2,4)', 'tucker-gru', { format: 'tucker', ranks: [2, 4, 2, 4] }],
  ['TT-GRU ranks 11', 'tt-gru', { format: 'tt', ranks: [1, 11, 11, 11, 1] }],
];
const modes = { inputModes: [4, 4, 4, 4], hiddenModes: [8, 4, 4, 4] };
const models = [['tf.layers.gru (dense)', tfl.sequential({ layers: [tfl.layers.gru({ units: 512, inputShape })] })]];
for (const [label, name, spec] of MODELS) {
  models.push([`${label}, tensorizedGru`, tfl.sequential({ layers: [tensorizedGru({ units: 512, ...spec, ...modes, seed: 1, inputShape })] })]);
  const { format: _, ...rank } = spec;
  const cell = new TensorizedRNNCell({ cell: paperCellConfig(name, { ...rank, seed: 1 }) });
  models.push([`${label}, tf.layers.rnn over TensorizedRNNCell`, tfl.sequential({ layers: [tfl.layers.rnn({ cell, inputShape })] })]);
}
const x = tf.randomNormal([1, ...inputShape], 0, 1, 'float32', 1);
const best = new Map();
for (let round = 0; round < rounds; round++) {
  for (const [label, model] of models) {
    tf.dispose(model.predict(x)); // warm-up
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      const y = model.predict(x);
      y.dataSync();
      y.dispose();
    }
    best.set(label, Math.min(best.get(label) ?? Infinity, (performance.now() - t0) / 3));
  }
}
console.log(`backend: ${info.name} (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads > 1 ? 's' : ''}); fastest of ${rounds} rounds, the models alternating`);
console.log('');
console.log('| layer | ms per predict (1 x 64 steps) | vs tf.layers.gru |');
console.log('| --- | ---: | ---: |');
const dense = best.get(models[0][0]);
for (const [label] of models) console.log(`| ${label} | ${best.get(label).toFixed(1)} | ${(best.get(label) / dense).toFixed(2)}x |`);
tf.dispose(x);
for (const [, m] of models) m.dispose();
