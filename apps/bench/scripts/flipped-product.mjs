// A recurrence's per-step product h M (h: B x K fresh every step, M: K x N fixed) on wasm, computed
// as it is and flipped, (M^T h^T)^T with both transposes (what @tensorized/cells' gruSequence does
// for a plain U where flipsStepProduct says so; there the transposes are folded into the step
// kernels). XNNPACK packs the right-hand side once per tensor and streams the packed copy once per
// block of a few rows of the left: as it is, M is read several times per product; flipped, the small
// h^T is packed and M^T read once. Every product gets a fresh left-hand side (an Add of 0, in both
// columns), as in a recurrence. Rounds alternate the two forms; each keeps its fastest.
//
//   node apps/bench/scripts/flipped-product.mjs [rounds=5]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { flipsStepProduct } from '@tensorized/cells';
import { msPerCall } from './timing.mjs';

const rounds = Number(process.argv[2] ?? 5);
await useBackend('wasm');
const zero = tf.scalar(0);
/** ms per call over n calls (the fastest of `rounds` is kept). */
const time = (f, n) => msPerCall(f, n);
const SIZES = process.env.SIZES ? JSON.parse(process.env.SIZES) : [
  [128, 384],
  [256, 768],
  [512, 512],
  [512, 1536],
  [1024, 3072],
];
const BATCHES = process.env.BATCHES ? JSON.parse(process.env.BATCHES) : [1, 4, 8, 16, 32, 128];
const rows = [];
for (const [K, N] of SIZES) {
  const M = tf.randomNormal([K, N], 0, 1, 'float32', 1);
  const MT = tf.transpose(M);
  for (const B of BATCHES) {
    const h = tf.randomNormal([B, K], 0, 1, 'float32', 2);
    const n = Math.max(5, Math.round(2e7 / (B * K * N)));
    const plain = () => {
      const x = tf.add(h, zero);
      const c = tf.matMul(x, M);
      x.dispose();
      return c;
    };
    const flipped = () => {
      const x = tf.add(h, zero);
      const xT = tf.transpose(x);
      const c = tf.matMul(MT, xT);
      const out = tf.transpose(c);
      tf.dispose([x, xT, c]);
      return out;
    };
    let [best, bestFlipped] = [Infinity, Infinity];
    for (let r = 0; r < rounds; r++) {
      best = Math.min(best, time(plain, n));
      bestFlipped = Math.min(bestFlipped, time(flipped, n));
    }
    rows.push([`${K} x ${N}`, B, best, bestFlipped, flipsStepProduct(B, K, N)]);
    h.dispose();
  }
  tf.dispose([M, MT]);
}
console.log(`h M on wasm (XNNPACK, 1 thread), ms per product, fastest of ${rounds} alternating rounds`);
console.log('| M (K x N) | B | h M ms | (M^T h^T)^T ms | flipped / as is | GFLOP/s as is | flipped | gruSequence flips |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
for (const [size, B, t, f, flips] of rows) {
  const [K, N] = size.split(' x ').map(Number);
  const gf = (ms) => ((2 * B * K * N) / ms / 1e6).toFixed(1);
  console.log(
    `| ${size} | ${B} | ${t.toFixed(3)} | ${f.toFixed(3)} | ${(f / t).toFixed(2)}x | ${gf(t)} | ${gf(f)} | ${flips ? 'yes' : 'no'} |`,
  );
}
