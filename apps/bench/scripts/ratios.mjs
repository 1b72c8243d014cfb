// Issue 13's training ratios without the PyTorch peer: the paper's GRU models (the configurations
// `speed epoch` times) trained on JSB at batch 16 in one process, in alternating rounds, the second
// epoch timed; per model its fastest epoch and the median over rounds, and against the dense GRU the
// ratio of the fastest epochs and, round by round, the ratio within the round (its median, lowest
// and highest). Many rounds are affordable (about 12 s a round): the distribution of a ratio, not
// one figure of it, on this shared machine.
//
//   node apps/bench/scripts/ratios.mjs [rounds=10] [models=gru,cp-gru,tucker-gru,tt-gru]
// Run from the repository root after `pnpm build`; nothing else running. The data directory is
// TENSORIZED_DATA_DIR or ../shared/data/polyphonic.
import { useBackend } from '@tensorized/backends';
import { loadPolyphonic } from '@tensorized/datasets/node';
import { paperGrid } from '../dist/grid.js';
import { largeMatmulGflops, runEpochSpeed } from '../dist/speed_epoch.js';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 10);
const models = (args.find((a) => /[a-z]/.test(a)) ?? 'gru,cp-gru,tucker-gru,tt-gru').split(',');
if (!models.includes('gru')) throw new Error(`ratios: the models must include the dense 'gru' (the reference), got ${models}`);
await useBackend('wasm');
const data = await loadPolyphonic('jsb', { dataDir: process.env.TENSORIZED_DATA_DIR ?? '../shared/data/polyphonic', seed: 1 });
// The configurations `speed epoch` times (cli.ts): CP rank 80, Tucker (2,4,2,4), TT ranks 11, TR 6, BT 4 x 6.
const configs = paperGrid({ datasets: ['jsb'], lrs: [5e-3], dropouts: [0.2], models })
  .filter((c) => !c.ranks || c.ranks.includes(11) || c.ranks.includes(6) || c.model === 'tucker-gru' || (c.model === 'bt-gru' && c.ranks[0] === 4))
  .filter((c) => c.model !== 'cp-gru' || c.rank === 80)
  .filter((c) => c.model !== 'tucker-gru' || c.ranks?.[1] === 4)
  .map((c) => ({ ...c, batchSize: 16 }));
const missing = models.filter((m) => !configs.some((c) => c.model === m));
if (missing.length) throw new Error(`ratios: no paper configuration for ${missing.join(', ')}`);
const gflops = largeMatmulGflops();
const seconds = new Map(configs.map((c) => [c.model, []]));
for (let r = 0; r < rounds; r++) {
  // One round: every model once, in turn (runEpochSpeed with one round).
  const rows = await runEpochSpeed(configs, data, undefined, gflops, 1);
  rows.forEach((row, i) => seconds.get(configs[i].model).push(row.trainSeconds));
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const dense = seconds.get('gru');
console.log(`JSB, batch 16, seconds of the second training epoch on wasm (1 thread), ${rounds} alternating rounds in one process`);
console.log('| model | fastest s | median s | fastest vs dense GRU | per round vs dense GRU: median | lowest | highest |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [model, xs] of seconds) {
  const ratios = xs.map((x, r) => x / dense[r]);
  console.log(
    `| ${model} | ${Math.min(...xs).toFixed(2)} | ${median(xs).toFixed(2)} | ${(Math.min(...xs) / Math.min(...dense)).toFixed(3)}x | ${median(ratios).toFixed(3)}x | ${Math.min(...ratios).toFixed(3)}x | ${Math.max(...ratios).toFixed(3)}x |`,
  );
}
