// ms of tf.broadcastTo of a padding mask ([16, 55, 1] to [16, 55, 256], a Tile on wasm) in a checkout,
// fastest of 20; run it for two checkouts to compare (the wasm Tile of @tensorized/backends against
// TF.js's own before it was replaced).
//
//   node apps/bench/scripts/tile-speed.mjs [checkout=.]     (after pnpm build in that checkout)
import { resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const tf = await import(`${root}/packages/backends/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js`);
const { useBackend } = await import(`${root}/packages/backends/dist/index.js`);
await useBackend('wasm');
const mask = tf.ones([16, 55, 1]);
let best = Number.POSITIVE_INFINITY;
for (let r = 0; r < 20; r++) {
  const t0 = performance.now();
  const y = tf.broadcastTo(mask, [16, 55, 256]);
  y.dataSync();
  best = Math.min(best, performance.now() - t0);
  y.dispose();
}
mask.dispose();
console.log(`${root}: broadcastTo [16, 55, 1] -> [16, 55, 256] on wasm: ${best.toFixed(3)} ms (fastest of 20)`);
