// Concat, Pack and strided Slice on wasm with @tensorized/backends' copyRows (one WebAssembly call
// per input) against a typed-array view per run: TF.js's own Concat and Pack, and the JavaScript loop
// of the package's Slice (what runs with the WebAssembly kernels switched off by
// setNativeWasmKernels(false)), on a GRU batch's shapes (T = 60 steps of 16 x 512 states, 16 x 1536
// gate gradients). Alternating rounds; each keeps its fastest.
//
//   node apps/bench/scripts/concat-speed.mjs [rounds=5]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { setNativeWasmKernels, useBackend } from '@tensorized/backends';

const rounds = Number(process.argv[2] ?? 5);
await useBackend('wasm');
const [T, B, H] = [60, 16, 512];
const dU = Array.from({ length: T }, (_, i) => tf.randomNormal([B, 3 * H], 0, 1, 'float32', i));
const dn = Array.from({ length: T }, (_, i) => tf.randomNormal([B, H], 0, 1, 'float32', 100 + i));
const dUAll = tf.concat(dU, 0);
const dnAll = tf.concat(dn, 0);
const CASES = {
  'slice 960 x 1536 to 960 x 1024': () => tf.slice(dUAll, [0, 0], [-1, 2 * H]),
  'concat 960 x 1024 and 960 x 512 (axis 1)': () => {
    const left = tf.slice(dUAll, [0, 0], [-1, 2 * H]);
    const out = tf.concat([left, dnAll], 1);
    left.dispose();
    return out;
  },
  'concat 60 of 16 x 1536 (axis 0)': () => tf.concat(dU, 0),
  'stack 60 of 16 x 512 (axis 0)': () => tf.stack(dn, 0),
  'stack 60 of 16 x 512 (axis 1)': () => tf.stack(dn, 1),
};
const time = (f, n = 20) => {
  for (let i = 0; i < 3; i++) tf.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < n; i++) tf.dispose(f());
  return (performance.now() - t0) / n;
};
const best = Object.fromEntries(Object.keys(CASES).map((k) => [k, [Infinity, Infinity]]));
for (let r = 0; r < rounds; r++) {
  for (const [i, native] of [true, false].entries()) {
    setNativeWasmKernels(native);
    for (const [name, f] of Object.entries(CASES)) best[name][i] = Math.min(best[name][i], time(f));
  }
}
setNativeWasmKernels(true);
console.log(`wasm, ms per call, fastest of ${rounds} alternating rounds`);
console.log('| operation | copyRows | a view per run | ratio |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, [ours, theirs]] of Object.entries(best))
  console.log(`| ${name} | ${ours.toFixed(3)} | ${theirs.toFixed(3)} | ${(ours / theirs).toFixed(2)}x |`);
