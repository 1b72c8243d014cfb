// The fused GRU step kernels (@tensorized/backends) against the same steps op by op, in one process,
// alternating the contenders in rounds and keeping each one's fastest (the fair comparison on a noisy
// machine). On wasm there are three: the kernels compiled into WebAssembly (the default), the same
// kernels as JavaScript loops on the heap (setNativeWasmKernels(false)), and op by op. Prints ms per step of the fused recurrence (gruSequence) for a dense U of the paper's
// size (H 512, 3H 1536) at batch 16: training (forward + backward through time) and inference, and
// the batch-1 inference step of a GruCell (dense and TT-GRU ranks 11).
//
//   node apps/bench/scripts/fused-kernels.mjs [backend=wasm] [rounds=5]
// Run from the repository root after `pnpm build`; pause background trainings first.
import * as tf from '@tensorflow/tfjs-core';
import { setNativeWasmKernels, useBackend } from '@tensorized/backends';
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
const wasm = info.name === 'wasm';
// [tag, fused kernels, WebAssembly kernels (wasm)]
const contenders = wasm
  ? [
      ['fused (WebAssembly)', true, true],
      ['fused (JS loops)', true, false],
      ['op by op', false, true],
    ]
  : [
      ['fused', true, true],
      ['op by op', false, true],
    ];
for (let r = 0; r < rounds; r++) {
  for (const [tag, fused, native] of contenders) {
    setNativeWasmKernels(native);
    keep(`train ${tag}`, train(fused));
    keep(`infer ${tag}`, infer(fused));
    for (const [m, cell] of cells) keep(`${m} B=1 ${tag}`, step1(cell, !fused));
  }
}
setNativeWasmKernels(true);
console.log(
  `backend ${info.name} (SIMD ${info.simd}, ${info.threads} thread(s)); fastest of ${rounds} rounds, alternating`,
);
const tags = contenders.map(([tag]) => tag);
const ops = 'op by op';
const fusedTags = tags.filter((t) => t !== ops);
console.log(
  `| case | ${tags.map((t) => `${t} ms/step`).join(' | ')} | ${fusedTags.map((t) => `${t} / op by op`).join(' | ')} |`,
);
console.log(`| --- |${' ---: |'.repeat(tags.length + fusedTags.length)}`);
for (const [label, key] of [
  ['gruSequence dense U, B=16, training (forward + BPTT)', 'train'],
  ['gruSequence dense U, B=16, inference', 'infer'],
  ['GRU (dense) cell.step, B=1', 'gru B=1'],
  ['TT-GRU ranks 11 cell.step, B=1', 'tt-gru B=1'],
]) {
  const ms = tags.map((t) => best[`${key} ${t}`]);
  const o = best[`${key} ${ops}`];
  const ratios = fusedTags.map((t) => `${(best[`${key} ${t}`] / o).toFixed(2)}x`);
  console.log(`| ${label} | ${ms.map((v) => v.toFixed(3)).join(' | ')} | ${ratios.join(' | ')} |`);
}

// One kernel call (wasm: WebAssembly against JavaScript loops), and Adam over the dense GRU's
// parameters against the same update op by op.
const u = (shape, seed) => tf.randomUniform(shape, 0.1, 0.9, 'float32', seed);
const one = {
  uh: u([B, 3 * H], 2),
  h: u([B, H], 4),
  saved: Object.fromEntries(['dy', 'h', 'r', 'z', 'n', 'un'].map((k, i) => [k, u([T, B, H], 5 + i)])),
  carry: u([B, H], 11),
  gi: u([B, H], 12),
  adam: Object.fromEntries(['w', 'm', 'v', 'g'].map((k, i) => [k, u([3 * H * H + 3 * H * 256], 13 + i)])),
};
const adamAttrs = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, scale: 1 };
const kernelCases = [
  [
    `TensorizedGruStep, B=${B}, H=${H}, recording`,
    () =>
      tf.engine().runKernel('TensorizedGruStep', { a, uh: one.uh, bU, h: one.h }, { t: 5, gate: 'sigmoid', record: true }),
    200,
  ],
  [
    `TensorizedGruStepGrad, B=${B}, H=${H}`,
    () =>
      tf
        .engine()
        .runKernel('TensorizedGruStepGrad', { ...one.saved, carry: one.carry, gi: one.gi }, { t: 5, gate: 'sigmoid' }),
    200,
  ],
  [
    `TensorizedAdam, ${one.adam.w.size} values`,
    () => tf.engine().runKernel('TensorizedAdam', one.adam, adamAttrs),
    10,
  ],
];
const adamOps = () =>
  tf.tidy(() => {
    const { w, m, v, g } = one.adam;
    const { lr, beta1, beta2, eps, step } = adamAttrs;
    const m2 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const v2 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const w2 = tf.sub(
      w,
      tf.div(tf.mul(m2, lr / (1 - beta1 ** step)), tf.add(tf.sqrt(tf.div(v2, 1 - beta2 ** step)), eps)),
    );
    return [w2, m2, v2];
  });
const us = (f, reps) => {
  const ms = time(() => {
    for (let i = 0; i < reps; i++) tf.dispose(f());
  });
  return (1000 * ms) / reps;
};
const calls = {};
const keepCall = (k, v) => {
  calls[k] = Math.min(calls[k] ?? Infinity, v);
};
const sides = wasm ? [['WebAssembly', true], ['JS loops', false]] : [['JS loops', true]];
for (let r = 0; r < rounds; r++) {
  for (const [side, native] of sides) {
    setNativeWasmKernels(native);
    for (const [label, f, reps] of kernelCases) keepCall(`${label}|${side}`, us(f, reps));
  }
  keepCall('adam ops', us(adamOps, 10));
}
setNativeWasmKernels(true);
console.log('');
console.log(`One kernel call, us (fastest of ${rounds} rounds):`);
console.log(`| kernel | ${sides.map(([s]) => s).join(' | ')} | op by op |`);
console.log(`| --- |${' ---: |'.repeat(sides.length + 1)}`);
for (const [label] of kernelCases) {
  const opByOp = label.startsWith('TensorizedAdam') ? calls['adam ops'].toFixed(0) : '';
  console.log(`| ${label} | ${sides.map(([s]) => calls[`${label}|${s}`].toFixed(0)).join(' | ')} | ${opByOp} |`);
}
