// The wasm backend with 1 and with 2 threads (useBackend('wasm', { threads })), each in its own
// process (the thread count is fixed at the backend's first start), alternating in rounds and keeping
// each one's fastest. Prints ms of: the GRU's per-step product (16 x 512 by 512 x 1536), the dense
// weight gradient of a batch (H^T G: 1024 x 512 by 1024 x 1536), and a dense GRU training step over
// 64 steps at batch 16 (gruSequence forward + BPTT).
//
//   node apps/bench/scripts/wasm-threads.mjs [rounds=3]
// Run from the repository root after `pnpm build`; pause background trainings first.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--child') {
  const tf = await import('@tensorflow/tfjs-core');
  const { useBackend } = await import('@tensorized/backends');
  const { gruSequence } = await import('../../../packages/cells/dist/gru_sequence.js');
  const info = await useBackend('wasm', { threads: Number(process.argv[3]) });
  const best = (f, n) => {
    let b = Infinity;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      f();
      b = Math.min(b, performance.now() - t0);
    }
    return b;
  };
  // (Not tf.tidy(() => ...dataSync()): tidy walks a returned typed array element by element.)
  const once = (f) => {
    const y = f();
    y.dataSync();
    y.dispose();
  };
  const x = tf.randomNormal([16, 512]);
  const U = tf.variable(tf.randomNormal([512, 1536], 0, 0.05));
  const H = tf.randomNormal([1024, 512]);
  const G = tf.randomNormal([1024, 1536]);
  const a = tf.randomNormal([64, 16, 1536]);
  const [h0, bU] = [tf.zeros([16, 512]), tf.zeros([1536])];
  const staged = { stages: [{ view: [], matrix: U }], outView: [] };
  const out = {
    threads: info.threads,
    step: best(() => once(() => tf.matMul(x, U)), 200),
    gradient: best(() => once(() => tf.matMul(H, G, true, false)), 20),
    train: best(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(gruSequence(a, h0, bU, staged)), [U]);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    }, 5),
  };
  console.log(JSON.stringify(out));
  // Returning from here must end the process: idle pthread workers do not keep it alive.
} else {
  const rounds = Number(process.argv[2] ?? 3);
  const best = {};
  for (let r = 0; r < rounds; r++) {
    for (const t of [1, 2]) {
      const res = JSON.parse(execFileSync(process.execPath, [self, '--child', String(t)], { encoding: 'utf8' }).trim().split('\n').pop());
      for (const [k, v] of Object.entries(res)) best[`${t}:${k}`] = k === 'threads' ? v : Math.min(best[`${t}:${k}`] ?? Infinity, v);
    }
  }
  console.log(`wasm, 1 against 2 threads (threads reported: ${best['1:threads']} and ${best['2:threads']}); fastest of ${rounds} rounds, alternating`);
  console.log('| case | 1 thread ms | 2 threads ms | 2 / 1 |');
  console.log('| --- | ---: | ---: | ---: |');
  for (const [label, k] of [
    ['matMul 16x512 by 512x1536 (a GRU step)', 'step'],
    ['matMul 1024x512^T by 1024x1536 (a weight gradient)', 'gradient'],
    ['dense GRU training, 64 steps at batch 16 (forward + BPTT)', 'train'],
  ]) {
    const [one, two] = [best[`1:${k}`], best[`2:${k}`]];
    console.log(`| ${label} | ${one.toFixed(2)} | ${two.toFixed(2)} | ${(two / one).toFixed(2)}x |`);
  }
}
