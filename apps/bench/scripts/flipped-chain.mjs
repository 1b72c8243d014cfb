// A recurrence's per-step products through a chain of plain matrices, h M_1 M_2 (CP's and Tucker's
// bottleneck factors of the paper's U, 512 x R and R x 1536) forward and d M_2^T M_1^T backward, on
// wasm, as they are and flipped (M_2^T M_1^T h^T and M_1 M_2 d^T): what @tensorized/cells'
// gruSequence does where flipsStepChain says so. Flipped, no transpose is left between the products
// (the step kernels take and give the transposed layouts), so none is timed here. Every chain starts
// from a fresh left-hand side (an Add of 0), as in a recurrence. Rounds alternate the two forms; each
// keeps its fastest.
//
//   node apps/bench/scripts/flipped-chain.mjs [rounds=5]
// RANKS='[80,64,20,8]' and BATCHES='[1,4,8,16,32]' (JSON) choose the sizes. Run from the repository
// root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { flipsStepChain } from '@tensorized/cells';
import { msPerCall } from './timing.mjs';

const rounds = Number(process.argv[2] ?? 5);
await useBackend('wasm');
const zero = tf.scalar(0);
/** us per call over n calls. */
const time = (f, n) => msPerCall(f, n) * 1000;
const [H, N] = [512, 1536];
const RANKS = process.env.RANKS ? JSON.parse(process.env.RANKS) : [80, 64, 20, 8];
const BATCHES = process.env.BATCHES ? JSON.parse(process.env.BATCHES) : [1, 4, 8, 16, 32];
/** x through the matrices, each product's left-hand side the last one's output (flip: M x). */
const chain = (x, ms, flip) => {
  let c = tf.add(x, zero);
  for (const m of ms) {
    const next = flip ? tf.matMul(m, c) : tf.matMul(c, m);
    c.dispose();
    c = next;
  }
  return c;
};
const rows = [];
for (const R of RANKS) {
  const mats = [tf.randomNormal([H, R], 0, 1, 'float32', 1), tf.randomNormal([R, N], 0, 1, 'float32', 2)];
  const matsT = mats.map((m) => tf.transpose(m));
  for (const B of BATCHES) {
    const [h, d] = [tf.randomNormal([B, H], 0, 1, 'float32', 3), tf.randomNormal([B, N], 0, 1, 'float32', 4)];
    const [hT, dT] = [tf.transpose(h), tf.transpose(d)];
    const both = (f) => () => {
      const [fwd, bwd] = f();
      fwd.dispose();
      return bwd;
    };
    const plain = both(() => [chain(h, mats, false), chain(d, [...matsT].reverse(), false)]);
    const flipped = both(() => [chain(hT, matsT, true), chain(dT, [...mats].reverse(), true)]);
    const n = Math.max(20, Math.round(1e7 / (B * R * (H + N))));
    let [best, bestFlipped] = [Infinity, Infinity];
    for (let r = 0; r < rounds; r++) {
      best = Math.min(best, time(plain, n));
      bestFlipped = Math.min(bestFlipped, time(flipped, n));
    }
    rows.push([`${H} x ${R}, ${R} x ${N}`, B, best, bestFlipped, flipsStepChain(B, [[H, R], [R, N]])]);
    tf.dispose([h, d, hT, dT]);
  }
  tf.dispose([...mats, ...matsT]);
}
console.log('| chain | B | as it is (us) | flipped (us) | flipped / as it is | flipsStepChain |');
console.log('| --- | ---: | ---: | ---: | ---: | --- |');
for (const [size, B, a, f, rule] of rows)
  console.log(`| ${size} | ${B} | ${a.toFixed(1)} | ${f.toFixed(1)} | ${(f / a).toFixed(2)}x | ${rule ? 'flips' : ''} |`);
