// Where a training batch's time goes: one model of the paper's configuration (as `speed epoch` runs
// it) trained on JSB batches on wasm, first unprofiled (wall time), then under tf.profile, and the
// kernel time summed by kernel and by kernel and input shapes. A custom gradient's forward pass
// shows as "unnamed scope" and also contains the kernels it launched (they are counted twice).
//
//   node apps/bench/scripts/profile-epoch.mjs [model=gru] [batches=15] [--sequence]
// --sequence: the kernels of one batch in launch order instead. Run from the repository root after
// `pnpm build`; the data directory is TENSORIZED_DATA_DIR or ../shared/data/polyphonic.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { makeBatch, orderedBatches } from '@tensorized/datasets';
import { loadPolyphonic } from '@tensorized/datasets/node';
import { Adam } from '../dist/adam.js';
import { paperGrid } from '../dist/grid.js';
import { frameNll } from '../dist/metrics.js';
import { PolyphonicModel } from '../dist/model.js';
import { cellConfigOf, windowTensors } from '../dist/train.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const model = args[0] ?? 'gru';
const count = Number(args[1] ?? 15);
await useBackend('wasm');
const data = await loadPolyphonic('jsb', {
  dataDir: process.env.TENSORIZED_DATA_DIR ?? '../shared/data/polyphonic',
  seed: 1,
});
// The configuration `speed epoch` times for this model.
const config = paperGrid({ datasets: ['jsb'], lrs: [5e-3], dropouts: [0.2], models: [model] }).find(
  (c) =>
    (c.model === 'cp-gru' && c.rank === 80) ||
    (!c.ranks && c.model !== 'cp-gru') ||
    c.ranks?.includes(11) ||
    c.ranks?.includes(6) ||
    (c.model === 'tucker-gru' && c.ranks[1] === 4) ||
    (c.model === 'bt-gru' && c.ranks[0] === 4),
);
if (!config) throw new Error(`profile-epoch: no paper configuration for model '${model}'`);
const net = new PolyphonicModel(cellConfigOf({ ...config, batchSize: 16 }), 1);
const vars = net.namedVariables().map(([, v]) => v);
const adam = new Adam(vars, { lr: config.lr, clip: config.clip });
const plan = orderedBatches(data.splits.train, { batchSize: 16, seed: 1, epoch: 0, bucket: true });
// One training step as train() takes it (dropout on, one window per batch).
const step = (pieces) => {
  const b = makeBatch(data.splits.train, pieces);
  const t = windowTensors(b, 0, b.length);
  const flatMask = tf.reshape(t.mask, [-1]);
  const { value, grads } = tf.variableGrads(() => {
    const out = net.window(t.inputs, t.mask, undefined, config.dropout, 1);
    tf.dispose(out.state);
    return tf.div(tf.sum(frameNll(out.logits, t.targets, flatMask)), t.frames);
  }, vars);
  adam.apply(vars.map((v) => grads[v.name]));
  value.dataSync();
  tf.dispose([value, ...Object.values(grads), flatMask, t.inputs, t.targets, t.mask]);
};
for (const p of plan.slice(0, 2)) step(p); // warm-up: first calls, the heap's growth
const batches = Array.from({ length: count }, (_, i) => plan[(2 + i) % plan.length]);
if (process.argv.includes('--sequence')) {
  const info = await tf.profile(() => step(batches[0]));
  console.log(`${model}: one batch of ${batches[0].length} pieces, ${info.kernels.length} kernels in launch order`);
  for (const k of info.kernels)
    console.log(`${k.kernelTimeMs.toFixed(3).padStart(8)} ms  ${k.name} ${JSON.stringify(k.inputShapes).slice(0, 120)}`);
  process.exit(0);
}
const t0 = performance.now();
for (const p of batches) step(p);
const wall = performance.now() - t0;
const info = await tf.profile(() => {
  for (const p of batches) step(p);
});
const sum = (key) => {
  const m = new Map();
  for (const k of info.kernels) {
    const e = m.get(key(k)) ?? { n: 0, ms: 0 };
    e.n++;
    e.ms += k.kernelTimeMs;
    m.set(key(k), e);
  }
  return [...m].sort((a, b) => b[1].ms - a[1].ms);
};
const row = ([k, e]) => `${e.ms.toFixed(1).padStart(9)} ms ${String(e.n).padStart(7)}x  ${k.slice(0, 150)}`;
const inner = info.kernels.filter((k) => k.name !== 'unnamed scope').reduce((s, k) => s + k.kernelTimeMs, 0);
console.log(
  `${model} (${config.model}${config.ranks ? ` ${config.ranks}` : config.rank ? ` R=${config.rank}` : ''}): ${count} batches, ` +
    `${wall.toFixed(0)} ms unprofiled; kernels (scopes left out) ${inner.toFixed(0)} ms in ${info.kernels.length} launches`,
);
console.log(sum((k) => k.name).slice(0, 25).map(row).join('\n'));
console.log('--- by kernel and input shapes');
console.log(sum((k) => `${k.name} ${JSON.stringify(k.inputShapes)}`).slice(0, Number(process.env.ROWS ?? 40)).map(row).join('\n'));
