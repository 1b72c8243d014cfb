// The training model's dropout on the recurrent outputs of a JSB batch (B x T = 16 x 64 rows of 512):
// tf.dropout (TF.js's seeded uniforms, drawn in JavaScript, then four kernels) against the bench
// app's dropout (a counter-based hash, one upload and one Multiply), alternating, fastest of each.
//
//   node apps/bench/scripts/dropout-speed.mjs [rounds=20] [backend=wasm]   (from the repository root, after pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { dropout } from '../dist/dropout.js';

const rounds = Number(process.argv[2] ?? 20);
const info = await useBackend(process.argv[3] ?? 'wasm');
const x = tf.randomNormal([1024, 512], 0, 1, 'float32', 1);
const best = { 'tf.dropout': Infinity, ours: Infinity };
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of [
    ['tf.dropout', (s) => tf.dropout(x, 0.2, undefined, s)],
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
console.log(`tf.dropout ${best['tf.dropout'].toFixed(2)} ms, ours ${best.ours.toFixed(2)} ms (${(best.ours / best['tf.dropout']).toFixed(2)}x)`);
x.dispose();
