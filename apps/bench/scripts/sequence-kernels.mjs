// The GRU recurrence as one sequence-kernel launch each way (@tensorized/backends'
// TensorizedGruSequence and TensorizedGruStagedSequence, the default of @tensorized/cells'
// gruSequence) against the same steps launched one by one (`sequenceKernel: false`), in one process,
// alternating in rounds and keeping each one's fastest. Prints ms per step of a training pass
// (forward and backward through time, U's gradients included) and of inference, at batch 16 over 64
// steps, for the paper's cells (their U as its plan prepares it for training), and the kernel
// launches per step either way. The values are the same bit for bit (tested); only the time differs.
//
//   node apps/bench/scripts/sequence-kernels.mjs [backend=wasm] [rounds=5] [models=gru,cp-gru,tucker-gru,tt-gru]
// Run from the repository root after `pnpm build`; pause background trainings first.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { createCell, paperCellConfig } from '@tensorized/cells';
import { gruSequence } from '../../../packages/cells/dist/gru_sequence.js';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 5);
const models = (process.argv[4] ?? 'gru,cp-gru,tucker-gru,tt-gru').split(',');
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`sequence-kernels: rounds must be a positive integer, got ${process.argv[3]}`);
const info = await useBackend(backend);
const [T, B] = [64, 16];

const time = (f) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};
const rows = models.map((model) => {
  const cell = createCell(paperCellConfig(model, { seed: 1 }));
  const H = cell.hiddenSize;
  const a = tf.randomNormal([T, B, 3 * H], 0, 1, 'float32', 1);
  const h0 = tf.zeros([B, H]);
  const bU = tf.zeros([3 * H]);
  const probe = tf.randomNormal([T, B, H], 0, 1, 'float32', 3);
  const vars = cell.U.variables.map(([, v]) => v);
  const train = (sequenceKernel) =>
    tf.variableGrads(() => {
      const u = cell.U.prepare(B, T, 'auto', { fusedGradient: true });
      const hs = gruSequence(a, h0, bU, u, undefined, { sequenceKernel });
      u.dispose();
      return tf.sum(tf.mul(hs, probe));
    }, vars);
  const infer = (sequenceKernel) =>
    tf.tidy(() => {
      const u = cell.U.prepare(B, T);
      const hs = gruSequence(a, h0, bU, u, undefined, { sequenceKernel });
      u.dispose();
      return hs;
    });
  const run = {
    train: (s) => time(() => {
      const { value, grads } = train(s);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    }) / T,
    infer: (s) => time(() => {
      const hs = infer(s);
      hs.dataSync();
      hs.dispose();
    }) / T,
  };
  // Launches per step, either way (tf.profile's kernel list of one training pass).
  const launches = {};
  return { model, cell, tensors: [a, h0, bU, probe], run, launches, train };
});
for (const row of rows)
  for (const s of [true, false]) {
    const profile = await tf.profile(() => {
      const { value, grads } = row.train(s);
      tf.dispose([value, ...Object.values(grads)]);
    });
    row.launches[s] = profile.kernels.length / T;
    row.run.train(s);
    row.run.infer(s);
  }
const best = new Map();
for (let r = 0; r < rounds; r++)
  for (const row of rows)
    for (const kind of ['train', 'infer'])
      for (const s of [true, false]) {
        const key = `${row.model} ${kind} ${s}`;
        best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, row.run[kind](s)));
      }
console.log(
  `backend: ${info.name} (${info.simd ? 'SIMD' : 'no SIMD'}, ${info.threads} thread${info.threads === 1 ? '' : 's'}); batch ${B}, ${T} steps, fastest of ${rounds} alternating rounds`,
);
console.log('| model | launches per training step: one by one | sequence kernels | train ms/step: one by one | sequence kernels | ratio | infer ms/step: one by one | sequence kernels | ratio |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const row of rows) {
  const [tOne, tSeq, iOne, iSeq] = ['train false', 'train true', 'infer false', 'infer true'].map((k) => best.get(`${row.model} ${k}`));
  console.log(
    `| ${row.model} | ${row.launches[false].toFixed(1)} | ${row.launches[true].toFixed(2)} | ${tOne.toFixed(3)} | ${tSeq.toFixed(3)} | ${(tSeq / tOne).toFixed(2)}x | ${iOne.toFixed(3)} | ${iSeq.toFixed(3)} | ${(iSeq / iOne).toFixed(2)}x |`,
  );
  tf.dispose(row.tensors);
  row.cell.dispose();
}
