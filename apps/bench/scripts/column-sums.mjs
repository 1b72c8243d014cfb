// The sums of the columns of a fresh N x M matrix (a bias's gradient over all rows of a batch), by
// the three ways there are: columnSums of @tensorized/decomp as it is (one product ones (1 x N)
// times x on wasm and cpu), the halving it used before (top half of the rows plus the bottom half,
// written out below), and tf.sum over the leading axis. Alternating rounds; each keeps its fastest.
//
//   node apps/bench/scripts/column-sums.mjs [backend=wasm] [rounds=5]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { columnSums } from '@tensorized/decomp/stages';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 5);
await useBackend(backend);

/** The halving columnSums used before 2026-12-05 (its code then). */
function halving(x) {
  return tf.tidy(() => {
    let y = x;
    let odd;
    while (y.shape[0] > 1) {
      const n = y.shape[0];
      const h = Math.floor(n / 2);
      if (n % 2) {
        const last = tf.slice(y, [n - 1, 0], [1, -1]);
        odd = odd ? tf.add(odd, last) : last;
      }
      y = tf.add(tf.slice(y, [0, 0], [h, -1]), tf.slice(y, [h, 0], [h, -1]));
    }
    return tf.reshape(odd ? tf.add(y, odd) : y, [-1]);
  });
}

const zero = tf.scalar(0);
const WAYS = { columnSums, halving, 'tf.sum': (x) => tf.sum(x, 0) };
console.log(`columns sums of a fresh N x M matrix on ${backend}, ms, fastest of ${rounds} alternating rounds`);
console.log(`| N x M | ${Object.keys(WAYS).join(' | ')} |`);
console.log(`| --- | ${Object.keys(WAYS).map(() => '---:').join(' | ')} |`);
for (const [N, M] of [
  [960, 1536],
  [2048, 1536],
  [960, 512],
  [1024, 88],
]) {
  const x0 = tf.randomNormal([N, M], 0, 1, 'float32', 1);
  const best = Object.fromEntries(Object.keys(WAYS).map((k) => [k, Infinity]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, f] of Object.entries(WAYS)) {
      const n = 10;
      let ms = 0;
      for (let i = 0; i < n + 2; i++) {
        const x = tf.add(x0, zero); // fresh, as a gradient is
        const t0 = performance.now();
        const s = f(x);
        s.dataSync();
        if (i >= 2) ms += performance.now() - t0;
        tf.dispose([x, s]);
      }
      best[name] = Math.min(best[name], ms / n);
    }
  }
  console.log(`| ${N} x ${M} | ${Object.values(best).map((v) => v.toFixed(3)).join(' | ')} |`);
  x0.dispose();
}
