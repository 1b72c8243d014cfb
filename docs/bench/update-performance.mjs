// Regenerates docs/performance.md from docs/performance.md.in and the recordings in results/speed/
// (written by docs/bench/record.sh): every recording of every benchmark, newest first, under its
// command and time; and the current table (the newest recording) between the markers
//   <!-- bench:NAME --> ... <!-- /bench:NAME -->
// in the package READMEs and docs, so that a README shows one current table, with its command.
// Usage (from the repository root): node docs/bench/update-performance.mjs
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const speedDir = join(root, 'results/speed');

/** What each benchmark measures, in the order docs/performance.md lists them. */
const BENCHMARKS = {
  decomp: 'factorised matmuls against dense and rebuild, and the planner\'s pick (`pnpm bench:decomp`)',
  cells: 'the paper\'s cells: inference per step at batch 1 and 16, training step (`pnpm bench:cells`), wasm',
  'cells-cpu': 'the same on the pure-JS cpu backend (`pnpm bench:cells --backend cpu`)',
  'epoch-jsb': 'one training epoch on JSB Chorales per model, against the FLOP floor (`pnpm bench speed epoch --dataset jsb`)',
  compress: 'compressMatrix at the paper\'s sizes against NumPy (`pnpm bench speed compress`)',
  'before-after': 'a change measured against the code before it, interleaved (see the recording for the commits)',
  peers: 'our models against PyTorch\'s nn.GRU, one JSB epoch each, interleaved (`node apps/bench/scripts/peers.mjs`)',
  ratios: 'issue 13\'s training ratios against the dense GRU over many alternating rounds in one process, without the PyTorch peer: fastest, median, lowest and highest per-round ratio (`node apps/bench/scripts/ratios.mjs`)',
  'wasm-threads': 'the wasm backend with 1 and 2 threads, each in its own process (`node apps/bench/scripts/wasm-threads.mjs`)',
  'cells-threads': 'the cells benchmark on wasm with 2 threads (`pnpm bench:cells --threads 2`)',
  'sequence-kernels': 'a GRU recurrence as one sequence-kernel launch each way against its steps launched one by one, the paper\'s cells at batch 16, alternating (`node apps/bench/scripts/sequence-kernels.mjs`)',
  'fused-kernels': 'the fused GRU step kernels against the same steps op by op (`node apps/bench/scripts/fused-kernels.mjs`)',
  'generation-frame': 'a generated frame at batch 1 in Node, with and without the fused GRU step kernel on wasm (`node apps/bench/scripts/generation-frame.mjs`)',
  'reset-before': 'the GRU with the reset gate before U (resetAfter false): fused recurrence against step by step, a training step (`node apps/bench/scripts/reset-before.mjs`)',
  'small-matmul': 'small products on wasm: the WebAssembly SIMD matmul of @tensorized/backends against XNNPACK, alternating (`node apps/bench/scripts/small-matmul.mjs`)',
  'flipped-product': 'a recurrence\'s per-step product h M on wasm as it is and flipped, (M^T h^T)^T, alternating (`node apps/bench/scripts/flipped-product.mjs`)',
  'flipped-chain': 'a recurrence\'s per-step products through CP\'s and Tucker\'s two bottleneck factors on wasm, forward and backward, as they are and flipped, alternating (`node apps/bench/scripts/flipped-chain.mjs`)',
  'transpose-speed': 'transposes on wasm with the package\'s WebAssembly kernels and without them: a TT-GRU\'s layouts between its cores and a matrix transpose, alternating (`node apps/bench/scripts/transpose-speed.mjs`)',
  'leaky-relu-speed': 'the bench model\'s LeakyReLU (x step(x, alpha)) against tf.leakyRelu, forward and backward over a JSB batch\'s input-layer values, alternating (`node apps/bench/scripts/leaky-relu-speed.mjs`, replaced by dense-layer-speed on 2026-12-06)',
  'dense-layer-speed': 'the bench model\'s input layer LeakyReLU(a W + b) forward and backward: TF.js ops, the former custom ops, matMulBias with leakyAlpha, alternating (`node apps/bench/scripts/dense-layer-speed.mjs`)',
  'column-sums': 'a bias\'s gradient (the column sums of a fresh N x M matrix): columnSums, the halving it used before, tf.sum, alternating (`node apps/bench/scripts/column-sums.mjs [backend]`)',
  'column-sums-cpu': 'the same on the pure-JS cpu backend (`node apps/bench/scripts/column-sums.mjs cpu`)',
  'concat-speed': 'Concat, Pack and a strided Slice on wasm by copyRows against TF.js\'s kernels, alternating (`node apps/bench/scripts/concat-speed.mjs`)',
  'dropout-speed': 'the training model\'s dropout of a JSB batch: tf.dropout against the bench app\'s hashed masks, alternating (`node apps/bench/scripts/dropout-speed.mjs`)',
  'layer-predict': 'GRU layers in tfjs-layers, one 64-step predict at batch 1: tf.layers.gru, tensorizedGru and tf.layers.rnn over a TensorizedRNNCell (`node packages/cells/scripts/layer-predict.mjs`)',
  web: 'the page (apps/web) in headless Chromium: ms per generated frame, 1 and 2 wasm threads, time to first sound (`node apps/web/scripts/bench.mjs`)',
};

/** A recording: the command, the line saying when and how, and the benchmark's output. */
function readRecording(path) {
  const lines = readFileSync(path, 'utf8').replace(/\s+$/, '').split('\n');
  if (!lines[0]?.startsWith('$ ') || !lines[1]?.startsWith('# recorded ')) {
    throw new Error(`${path}: not a recording (its first lines must be "$ <command>" and "# recorded ...")`);
  }
  return { path, command: lines[0].slice(2), recorded: lines[1].slice(2), body: lines.slice(2) };
}

/**
 * The lines worth showing, as markdown: tables and summary lines, without per-round progress; a
 * blank line around each table, a line break after each other line.
 */
function shown(body) {
  const kept = body.filter((l) => !/^[\w-]+( \([\d,]+\)| R=\d+)?: [\d.]+ s$/.test(l) && !/^backend: /.test(l));
  const out = [];
  kept.forEach((l, i) => {
    const table = l.startsWith('|');
    const prevTable = i > 0 && kept[i - 1].startsWith('|');
    if (i > 0 && table !== prevTable) out.push('');
    out.push(table ? l : `${l}  `);
  });
  return out;
}

const recordings = {};
if (existsSync(speedDir)) {
  for (const name of readdirSync(speedDir)) {
    const dir = join(speedDir, name);
    if (!statSync(dir).isDirectory()) continue;
    recordings[name] = readdirSync(dir)
      .filter((f) => f.endsWith('.txt'))
      .sort()
      .reverse()
      .map((f) => readRecording(join(dir, f)));
  }
}

const names = [...Object.keys(BENCHMARKS), ...Object.keys(recordings).filter((n) => !(n in BENCHMARKS)).sort()];
const sections = names
  .filter((n) => recordings[n]?.length)
  .map((n) => {
    const runs = recordings[n]
      .map((r) => {
        const backend = r.body.find((l) => l.startsWith('backend: '));
        return [`### ${r.recorded.replace(/^recorded /, '')}`, '', `\`${r.command}\`${backend ? ` (${backend})` : ''}`, '', ...shown(r.body), ''].join('\n');
      })
      .join('\n');
    return `## ${n}\n\n${BENCHMARKS[n] ?? ''}\n\n${runs}`;
  })
  .join('\n');

const template = readFileSync(join(root, 'docs/performance.md.in'), 'utf8');
writeFileSync(join(root, 'docs/performance.md'), template.replace('@@RECORDINGS@@', sections.trimEnd()));

// The current tables in the READMEs.
const targets = ['README.md', 'docs/results.md.in', ...['packages', 'apps'].flatMap((d) => readdirSync(join(root, d)).map((p) => `${d}/${p}/README.md`))];
for (const rel of targets) {
  const path = join(root, rel);
  if (!existsSync(path)) continue;
  const text = readFileSync(path, 'utf8');
  const next = text.replace(/<!-- bench:([\w-]+) -->\n[\s\S]*?<!-- \/bench:\1 -->/g, (block, name) => {
    const r = recordings[name]?.[0];
    if (!r) throw new Error(`${rel}: no recording for bench:${name} in results/speed/${name}/`);
    const body = shown(r.body);
    return [`<!-- bench:${name} -->`, `\`${r.command}\`, ${r.recorded} (older recordings: [docs/performance.md](${'../'.repeat(rel.split('/').length - 1)}docs/performance.md#${name})):`, '', ...body, `<!-- /bench:${name} -->`].join('\n');
  });
  if (next !== text) writeFileSync(path, next);
}
console.log(`docs/performance.md: ${names.filter((n) => recordings[n]?.length).map((n) => `${n} (${recordings[n].length})`).join(', ')}`);
