// The training model's dropout on the recurrent outputs of a JSB batch (B x T = 16 x 64 rows of 512):
// tf.dropout (TF.js's seeded uniforms, drawn in JavaScript, then four kernels), the bench app's
// counter-based multipliers computed in JavaScript, uploaded and multiplied (its path on a backend
// without TensorizedDropout), and the bench app's dropout (TensorizedDropout where the backend has
// it: cpu, wasm), alternating, fastest of each.
//
//   node apps/bench/scripts/dropout-speed.mjs [rounds=20] [backend=wasm]   (from the repository root, after pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { dropout, dropoutMultipliers } from '../dist/dropout.js';

const rounds = Number(process.argv[2] ?? 20);
const info = await useBackend(process.argv[3] ?? 'wasm');
const x = tf.randomNormal([1024, 512], 0, 1, 'float32', 1);
const best = { 'tf.dropout': Infinity, 'upload + Multiply': Infinity, ours: Infinity };
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of [
    ['tf.dropout', (s) => tf.dropout(x, 0.2, undefined, s)],
    ['upload + Multiply', (s) => tf.tidy(() => tf.mul(x, tf.tensor(dropoutMultipliers(x.size, 0.2, s), x.shape)))],
    ['ours', (s) => dropout(x, 0.2, s)],
  ]) {
    const t0 = performance.now();
    const y = f(r + 1);
    y.dataSync();
    best[name] = Math.min(best[name], performance.now() - t0);
    y.dispose();
  }
}
console.log(`backend: ${info.name}; dropout 0.2 of 1024 x 512 values, fastest of ${rounds} rounds, alternating (each call includes reading the result back)`);
console.log(
  `tf.dropout ${best['tf.dropout'].toFixed(2)} ms, upload + Multiply ${best['upload + Multiply'].toFixed(2)} ms, ` +
    `ours ${best.ours.toFixed(2)} ms (${(best.ours / best['tf.dropout']).toFixed(2)}x tf.dropout)`,
);
x.dispose();
