// Fills docs/results.md from docs/results.md.in: the report's table, the state of unfinished runs
// (from their history.json), the compression table (`pnpm bench compress`, results/compress/jsb) and
// the epoch-speed table (a file produced by `pnpm bench speed epoch`).
// Usage: node docs/update-results.mjs
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const template = readFileSync(join(root, 'docs/results.md.in'), 'utf8');
const report = join(root, 'results/report/results.md');
const results = existsSync(report) ? readFileSync(report, 'utf8').trim() : '(no run has finished yet)';

const histories = [];
const walk = (dir) => {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (f === 'history.json') histories.push(p);
  }
};
// The other datasets' runs are in the report's table at their latest round; the grid's unfinished
// runs are listed here.
for (const d of ['results/grid']) if (existsSync(join(root, d))) walk(join(root, d));
const done = new Set(
  existsSync(join(root, 'results/grid/results.jsonl'))
    ? readFileSync(join(root, 'results/grid/results.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).key)
    : [],
);
const rows = histories
  .map((p) => ({ key: p.slice(join(root, 'results/').length, -'/history.json'.length), h: JSON.parse(readFileSync(p, 'utf8')) }))
  .filter(({ key }) => !done.has(key.replace(/^grid\//, '')))
  .map(({ key, h }) => {
    const best = h.reduce((a, b) => (b.valid.nll < a.valid.nll ? b : a));
    const last = h[h.length - 1];
    return `| ${key} | ${last.epoch} | ${best.epoch} | ${best.valid.nll.toFixed(3)} | ${best.test.nll.toFixed(3)} | ${best.test.accuracy.toFixed(3)} | ${(h.reduce((s, x) => s + x.seconds, 0) / h.length).toFixed(1)} |`;
  });
const progress = rows.length
  ? `Unfinished runs as they stood when this page was made (epochs done so far; test NLL at the best validation epoch so far):\n\n| run | epochs done | best epoch | valid NLL | test NLL | test acc. | s/epoch |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}`
  : '';
// The epoch-speed table: the newest recording of `pnpm bench speed epoch --dataset jsb`
// (docs/bench/record.sh epoch-jsb ...), with the line that says when it was recorded.
const epochDir = join(root, 'results/speed/epoch-jsb');
const epochFile = existsSync(epochDir) ? readdirSync(epochDir).filter((f) => f.endsWith('.txt')).sort().at(-1) : undefined;
const epochLines = epochFile ? readFileSync(join(epochDir, epochFile), 'utf8').split('\n') : [];
const epoch = epochFile
  ? `\`${epochLines[0].slice(2)}\`, ${epochLines[1].slice(2)}:\n\n${epochLines.filter((l) => l.startsWith('|')).join('\n')}`
  : '(not measured)';
const compressFile = join(root, 'results/compress/jsb/compress.md');
const compress = existsSync(compressFile) ? readFileSync(compressFile, 'utf8').trim() : '(not run yet)';
writeFileSync(
  join(root, 'docs/results.md'),
  template.replace('@@RESULTS@@', results).replace('@@PROGRESS@@', progress).replace('@@EPOCH@@', epoch).replace('@@COMPRESS@@', compress),
);
console.log(`docs/results.md: ${results.split('\n').length} result lines, ${rows.length} unfinished runs`);
