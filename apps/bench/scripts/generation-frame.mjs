// ms per generated frame (batch 1: input layer, cell step, output layer, the 88 logits read back)
// of apps/web's demo models in Node, with the fused GRU step kernel on wasm (@tensorized/backends)
// and without it (the same arithmetic op by op), in alternating rounds, the fastest of each kept.
//
//   node apps/bench/scripts/generation-frame.mjs [rounds]    (from the repository root, after pnpm build)
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { modelFromCheckpoint } from '../dist/web.js';

const rounds = Number(process.argv[2] ?? 6);
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`generation-frame: rounds must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
const info = await useBackend('wasm');
const KERNEL = 'TensorizedGruStep';
const kernel = tf.getKernel(KERNEL, 'wasm');
if (!kernel) throw new Error(`${KERNEL} is not registered for wasm`);
const demos = ['tt-gru-jsb', 'gru-jsb'];
const models = demos.map((n) => {
  const bytes = new Uint8Array(readFileSync(new URL(`../../web/public/models/${n}.safetensors`, import.meta.url)));
  return [n, modelFromCheckpoint(bytes, n).model];
});
const best = new Map();
const kernelsPerFrame = new Map();
for (let round = 0; round < rounds; round++) {
  for (const fused of [true, false]) {
    if (fused && !tf.getKernel(KERNEL, 'wasm')) tf.registerKernel(kernel);
    if (!fused) tf.unregisterKernel(KERNEL, 'wasm');
    for (const [name, model] of models) {
      const stepper = model.stepper(1);
      const x = tf.zeros([1, 88]);
      let state;
      const frames = 400;
      const t0 = performance.now();
      for (let i = 0; i < frames; i++) {
        const o = stepper.step(x, state);
        o.logits.dataSync();
        tf.dispose([o.logits, ...(state ?? [])]);
        state = o.state;
      }
      const ms = (performance.now() - t0) / frames;
      const key = `${name}|${fused}`;
      best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, ms));
      if (round === 0) {
        const prof = await tf.profile(() => {
          const o = stepper.step(x, state);
          tf.dispose(o.state);
          return o.logits;
        });
        kernelsPerFrame.set(key, prof.kernels.length);
      }
      tf.dispose([x, ...(state ?? [])]);
      stepper.dispose();
    }
  }
}
if (!tf.getKernel(KERNEL, 'wasm')) tf.registerKernel(kernel);
for (const [, m] of models) m.dispose();
console.log(`backend: wasm (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread); fastest of ${rounds} rounds, 400 frames each`);
console.log('');
console.log('| model | fused step: ms/frame | kernels | op by op: ms/frame | kernels | fused / op by op |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
for (const n of demos) {
  const [f, o] = [best.get(`${n}|true`), best.get(`${n}|false`)];
  console.log(
    `| ${n} | ${f.toFixed(3)} | ${kernelsPerFrame.get(`${n}|true`)} | ${o.toFixed(3)} | ${kernelsPerFrame.get(`${n}|false`)} | ${(f / o).toFixed(2)}x |`,
  );
}
console.log('');
console.log(
  `TT-GRU / dense GRU per frame: ${(best.get('tt-gru-jsb|true') / best.get('gru-jsb|true')).toFixed(2)} (fused), ${(best.get('tt-gru-jsb|false') / best.get('gru-jsb|false')).toFixed(2)} (op by op)`,
);
