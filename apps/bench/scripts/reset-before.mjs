// Training step (forward and all gradients, JSB-like sizes: batch 16, 100 steps, input 256, hidden
// 512) of the GRU with the reset gate before U (`resetAfter: false`, TF.js's and Keras 1's form), as
// one fused recurrence with its own backward pass (cells' gruSequence) and step by step through
// autodiff (the cell's op-by-op steps, as before the fused form existed), in alternating rounds, the
// fastest of each kept. Dense U and TT-GRU ranks 11.
//
//   node apps/bench/scripts/reset-before.mjs [rounds]    (from the repository root, after pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { GruCell, paperCellConfig } from '@tensorized/cells';

const rounds = Number(process.argv[2] ?? 3);
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`reset-before: rounds must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
const info = await useBackend('wasm');
/** The same cell, stepping through autodiff: the GRU's run() without its fused recurrence. */
class StepByStep extends GruCell {
  get fusesSequence() {
    return false;
  }
}
const [B, T] = [16, 100];
const x = tf.randomNormal([B, T, 256], 0, 1, 'float32', 1);
const probe = tf.randomNormal([B, T, 512], 0, 1, 'float32', 2);
const cells = ['gru', 'tt-gru'].flatMap((model) => {
  const config = { ...paperCellConfig(model), resetAfter: false, seed: 3 };
  return [
    [model, 'fused', new GruCell(config)],
    [model, 'step by step', new StepByStep(config)],
  ];
});
const best = new Map();
for (let round = 0; round < rounds; round++) {
  for (const [model, how, cell] of cells) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => {
      const { outputs, state } = cell.run(x);
      tf.dispose(state);
      return tf.sum(tf.mul(outputs, probe));
    }, cell.trainableVariables);
    await value.data();
    const ms = performance.now() - t0;
    tf.dispose([value, ...Object.values(grads)]);
    const key = `${model}|${how}`;
    best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, ms));
  }
}
console.log(`backend: ${info.name} (SIMD ${info.simd ? "on" : "off"}, ${info.threads} thread(s); @tensorflow/tfjs-core ${info.versions["@tensorflow/tfjs-core"] ?? "?"}); batch ${B}, ${T} steps, fastest of ${rounds}\n`);
console.log('| model (resetAfter false) | fused recurrence ms | step by step ms | ratio |');
console.log('| --- | ---: | ---: | ---: |');
for (const model of ['gru', 'tt-gru']) {
  const f = best.get(`${model}|fused`);
  const s = best.get(`${model}|step by step`);
  console.log(`| ${model} | ${f.toFixed(0)} | ${s.toFixed(0)} | ${(f / s).toFixed(2)}x |`);
}
for (const [, , cell] of cells) cell.dispose();
tf.dispose([x, probe]);
