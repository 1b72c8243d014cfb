// Our models against PyTorch's nn.GRU on the same machine, in alternating rounds, each contender's
// fastest kept: `tensorized-bench speed epoch --dataset jsb` (the paper's models on wasm, batch 16:
// seconds of the second training epoch and its FLOP floor), optionally also with --threads 2, and
// apps/bench/scripts/peer_gru.py (nn.GRU, the same model and batch shapes) with 1 and 2 threads
// when a python3 with torch is present. Prints the figures and the ratios of issue 13's targets:
// from each contender's fastest epoch, and the median over the rounds of the ratios within a round
// (the models of one round run in one process, minutes apart at most, so a drift of the machine
// between rounds cancels out of these).
//
//   node apps/bench/scripts/peers.mjs [rounds=2] [--threaded]
// Run from the repository root after `pnpm build`; pause background trainings first. The data
// directory is TENSORIZED_DATA_DIR or ../shared/data/polyphonic; the python is PYTHON or python3.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const rounds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 2);
const threaded = process.argv.includes('--threaded');
const dataDir = process.env.TENSORIZED_DATA_DIR ?? '../shared/data/polyphonic';
const python = process.env.PYTHON ?? 'python3';
const hasTorch = (() => {
  try {
    execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const best = {};
// Per round: the figures of that round (for the round-by-round ratios).
const perRound = [];
const keep = (key, value) => {
  best[key] = Math.min(best[key] ?? Infinity, value);
  perRound[perRound.length - 1][key] = value;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ours = (threads) => {
  const out = execFileSync(
    process.execPath,
    ['apps/bench/dist/cli.js', 'speed', 'epoch', '--dataset', 'jsb', '--rounds', '1', '--threads', String(threads), '--data-dir', dataDir],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  for (const line of out.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| model'))) {
    const cells = line.split('|').map((c) => c.trim());
    const model = cells[1].split(' ')[0];
    keep(`${model} ${threads}t`, Number(cells[4]));
    keep(`${model} ${threads}t floor`, Number(cells[9]));
  }
};
const peer = (threads) => {
  const out = execFileSync(python, [join('apps/bench/scripts/peer_gru.py'), join(dataDir, 'JSB_Chorales.json.gz'), String(threads)], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  const { seconds, torch } = JSON.parse(out.trim().split('\n').pop());
  best.torch = torch;
  keep(`torch ${threads}t`, seconds);
};
for (let r = 0; r < rounds; r++) {
  perRound.push({});
  ours(1);
  if (hasTorch) peer(1);
  if (threaded) ours(2);
  if (hasTorch) peer(2);
}
const models = ['gru', 'tt-gru', 'cp-gru', 'tucker-gru', 'tr-gru', 'bt-gru'];
console.log(`JSB, batch 16, seconds of the second training epoch, fastest of ${rounds} rounds, alternating`);
console.log(
  '| model | wasm 1 thread s | vs its FLOP floor | median of rounds |' +
    (threaded ? ' wasm 2 threads s | vs its FLOP floor (2 threads) |' : '') +
    ' vs dense GRU (1 thread) | median of rounds |',
);
console.log('| --- | ---: | ---: | ---: |' + (threaded ? ' ---: | ---: |' : '') + ' ---: | ---: |');
const roundMedian = (f) => `${median(perRound.map(f)).toFixed(2)}x`;
for (const m of models) {
  if (best[`${m} 1t`] === undefined) continue;
  const row = [
    m,
    best[`${m} 1t`].toFixed(2),
    `${(best[`${m} 1t`] / best[`${m} 1t floor`]).toFixed(2)}x`,
    roundMedian((r) => r[`${m} 1t`] / r[`${m} 1t floor`]),
  ];
  if (threaded)
    row.push(best[`${m} 2t`]?.toFixed(2) ?? '', `${(best[`${m} 2t`] / best[`${m} 2t floor`]).toFixed(2)}x`);
  row.push(`${(best[`${m} 1t`] / best['gru 1t']).toFixed(2)}x`, roundMedian((r) => r[`${m} 1t`] / r['gru 1t']));
  console.log(`| ${row.join(' | ')} |`);
}
if (hasTorch) {
  const fastest = Math.min(best['torch 1t'], best['torch 2t']);
  console.log(`\nPyTorch ${best.torch} nn.GRU: 1 thread ${best['torch 1t'].toFixed(2)} s, 2 threads ${best['torch 2t'].toFixed(2)} s`);
  console.log(`dense GRU on wasm / the faster nn.GRU: ${(best['gru 1t'] / fastest).toFixed(2)}x`);
  console.log(
    `round by round, dense GRU on wasm / the faster nn.GRU of the round: median ${roundMedian((r) => r['gru 1t'] / Math.min(r['torch 1t'], r['torch 2t']))}`,
  );
} else console.log(`\n(no ${python} with torch: the PyTorch rows are left out)`);
