// Transposes on wasm with @tensorized/backends' WebAssembly kernels and without them
// (setNativeWasmKernels(false): the JavaScript loops, or TF.js's own kernel where the package has no
// loop), alternating in rounds, each keeping its fastest: the layout changes of a TT-GRU between its
// cores, per step at batch 16 (16 x 16 x 1 x 32 x 11 and back) and for the input projection of a
// batch of 60 steps (960 rows), and matrix transposes: a flipped state (16 x 512), the paper's U, a
// CP-GRU's factor both ways, a 960-row stack, and outputs whose rows lie a multiple of 2 KiB apart
// (the WebAssembly kernel's narrower tiles: 512, 1024, 1536 or 2048 rows).
//
//   node apps/bench/scripts/transpose-speed.mjs [rounds=5]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { setNativeWasmKernels, useBackend } from '@tensorized/backends';
import { msPerCall } from './timing.mjs';

const rounds = Number(process.argv[2] ?? 5);
await useBackend('wasm');
/** us per call over n calls. */
const time = (f, n) => msPerCall(f, n, 3) * 1000;
const CASES = [
  [[16, 16, 1, 32, 11], [0, 3, 2, 1, 4]],
  [[16, 32, 1, 16, 11], [0, 3, 2, 1, 4]],
  [[960, 16, 1, 32, 11], [0, 3, 2, 1, 4]],
  [[16, 512], [1, 0]],
  [[512, 1536], [1, 0]],
  [[80, 1536], [1, 0]],
  [[1536, 80], [1, 0]],
  [[960, 1536], [1, 0]],
  [[1024, 80], [1, 0]],
  [[2048, 80], [1, 0]],
  [[2048, 512], [1, 0]],
];
console.log('| shape | perm | WebAssembly kernels (us) | without (us) | ratio |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const [shape, perm] of CASES) {
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const f = () => tf.transpose(x, perm);
  const n = Math.max(5, Math.round(2e6 / x.size));
  const best = { on: Infinity, off: Infinity };
  for (let r = 0; r < rounds; r++)
    for (const k of ['on', 'off']) {
      setNativeWasmKernels(k === 'on');
      best[k] = Math.min(best[k], time(f, n));
    }
  setNativeWasmKernels(true);
  console.log(
    `| ${shape.join(' x ')} | [${perm.join(', ')}] | ${best.on.toFixed(1)} | ${best.off.toFixed(1)} | ${(best.on / best.off).toFixed(2)}x |`,
  );
  x.dispose();
}
