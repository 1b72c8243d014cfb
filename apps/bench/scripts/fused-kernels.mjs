// The fused GRU step kernels (@tensorized/backends) against the same steps op by op, in one process,
// alternating the two in rounds and keeping each one's fastest (the fair comparison on a noisy
// machine). Prints ms per step of the fused recurrence (gruSequence) for a dense U of the paper's
// size (H 512, 3H 1536) at batch 16: training (forward + backward through time) and inference, and
// the batch-1 inference step of a GruCell (dense and TT-GRU ranks 11).
//
//   node apps/bench/scripts/fused-kernels.mjs [backend=wasm] [rounds=5]
// Run from the repository root after `pnpm build`; pause background trainings first.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { createCell, paperCellConfig } from '@tensorized/cells';
import { gruSequence } from '../../../packages/cells/dist/gru_sequence.js';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 5);
const info = await useBackend(backend);
const [T, B, H] = [64, 16, 512];
const a = tf.randomNormal([T, B, 3 * H], 0, 1, 'float32', 1);
const h0 = tf.zeros([B, H]);
const bU = tf.zeros([3 * H]);
const U = tf.variable(tf.randomNormal([H, 3 * H], 0, 0.05, 'float32', 2));
const staged = { stages: [{ view: [], matrix: U }], outView: [] };
const probe = tf.randomNormal([T, B, H], 0, 1, 'float32', 3);

const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const train = (fusedKernels) =>
  time(() => {
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.mul(gruSequence(a, h0, bU, staged, undefined, { fusedKernels }), probe)),
      [U],
    );
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  }) / T;
const infer = (fusedKernels) =>
  time(() => {
    const hs = tf.tidy(() => gruSequence(a, h0, bU, staged, undefined, { fusedKernels }));
    hs.dataSync();
    hs.dispose();
  }) / T;
// Batch-1 steps of a cell as generation runs them (cell.stepper; the kernel where the backend has it,
// unless unregistered for the op-by-op side).
const cells = [
  ['gru', {}],
  ['tt-gru', { ranks: [1, 11, 11, 11, 1] }],
].map(([m, o]) => [m, createCell(paperCellConfig(m, { ...o, seed: 1 }))]);
const x1 = tf.randomNormal([1, cells[0][1].inputSize]);
const step1 = (cell, hide) => {
  const key = 'TensorizedGruStep';
  const kernel = hide ? tf.getKernel(key, tf.getBackend()) : undefined;
  if (kernel) tf.unregisterKernel(key, tf.getBackend());
  try {
    const n = 200;
    const stepper = cell.stepper(1, n);
    let state = cell.initialState(1);
    const ms = time(() => {
      for (let t = 0; t < n; t++) {
        const next = stepper.step(x1, state).state;
        tf.dispose(state);
        state = next;
      }
      state[0].dataSync();
    });
    tf.dispose(state);
    stepper.dispose();
    return ms / n;
  } finally {
    if (kernel) tf.registerKernel(kernel);
  }
};

const best = {};
const keep = (k, v) => {
  best[k] = Math.min(best[k] ?? Infinity, v);
};
for (let r = 0; r < rounds; r++) {
  for (const fused of [true, false]) {
    const tag = fused ? 'fused kernels' : 'op by op';
    keep(`train ${tag}`, train(fused));
    keep(`infer ${tag}`, infer(fused));
    for (const [m, cell] of cells) keep(`${m} B=1 ${tag}`, step1(cell, !fused));
  }
}
console.log(
  `backend ${info.name} (SIMD ${info.simd}, ${info.threads} thread(s)); fastest of ${rounds} rounds, alternating`,
);
console.log('| case | fused kernels ms/step | op by op ms/step | fused / op by op |');
console.log('| --- | ---: | ---: | ---: |');
for (const [label, key] of [
  ['gruSequence dense U, B=16, training (forward + BPTT)', 'train'],
  ['gruSequence dense U, B=16, inference', 'infer'],
  ['GRU (dense) cell.step, B=1', 'gru B=1'],
  ['TT-GRU ranks 11 cell.step, B=1', 'tt-gru B=1'],
]) {
  const f = best[`${key} fused kernels`];
  const o = best[`${key} op by op`];
  console.log(`| ${label} | ${f.toFixed(3)} | ${o.toFixed(3)} | ${(f / o).toFixed(2)}x |`);
}
