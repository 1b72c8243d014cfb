import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from './checkpoint.js';
import { type ResultLine, shapeKey } from './grid.js';
import { canonicalJson } from './train.js';
import { lineChart, type Series } from './svg.js';
import { markdownTable } from './table.js';

const COLORS: Record<string, string> = {
  gru: '#222222',
  'cp-gru': '#d95f02',
  'tucker-gru': '#7570b3',
  'tt-gru': '#1b9e77',
  'tr-gru': '#e7298a',
  'bt-gru': '#e6ab02',
  lstm: '#666666',
  'cp-lstm': '#a6cee3',
  'tucker-lstm': '#a6761d',
  'tt-lstm': '#66a61e',
  'tr-lstm': '#f781bf',
};

/** The configuration without its training hyperparameters and seed: what the grid selects over. */
function shapeOf(r: ResultLine): string {
  const c = r.config;
  const protocol = `${c.maxLength ? ` L${c.maxLength}` : ''}${c.window ? ` W${c.window}` : ''}${c.patience !== undefined ? ` p${c.patience}` : ''}`;
  return `${c.dataset} ${shapeKey(c)}${protocol}`;
}

/** A configuration at one training point, all seeds alike: the key without its seed. */
const pointOf = (r: ResultLine): string => canonicalJson({ ...r.config, seed: 0, epochs: 0 });

/**
 * One line per run: a run extended with `train --resume --epochs <more>` appends a line at each
 * length; the longest stands for the run.
 */
export function longestOfEachRun(results: readonly ResultLine[]): ResultLine[] {
  const longest = new Map<string, ResultLine>();
  for (const r of results) {
    const k = canonicalJson({ ...r.config, epochs: 0 });
    const cur = longest.get(k);
    if (!cur || r.epochs > cur.epochs) longest.set(k, r);
  }
  return [...longest.values()];
}

/**
 * Per dataset and model shape, the grid point with the lowest validation NLL (never test), chosen
 * among the runs of the lowest seed present (seed 1 in the grid), so that further seeds of the
 * chosen point do not move the choice.
 */
export function selectOnValidation(results: readonly ResultLine[]): ResultLine[] {
  const runs = longestOfEachRun(results);
  const firstSeed = new Map<string, number>();
  for (const r of runs) firstSeed.set(shapeOf(r), Math.min(firstSeed.get(shapeOf(r)) ?? Infinity, r.config.seed));
  const best = new Map<string, ResultLine>();
  for (const r of runs) {
    const k = shapeOf(r);
    if (r.config.seed !== firstSeed.get(k)) continue;
    const cur = best.get(k);
    if (!cur || r.best.validNll < cur.best.validNll) best.set(k, r);
  }
  return [...best.values()].sort(
    (a, b) => a.config.dataset.localeCompare(b.config.dataset) || a.rnnParams - b.rnnParams,
  );
}

/** Test NLL over the seeds of a selected run's training point: every seed's, their mean and sample standard deviation. */
export function seedSpread(
  selected: ResultLine,
  results: readonly ResultLine[],
): { seeds: number[]; testNlls: number[]; mean: number; sd: number } {
  const same = longestOfEachRun(results)
    .filter((r) => pointOf(r) === pointOf(selected))
    .sort((a, b) => a.config.seed - b.config.seed);
  const testNlls = same.map((r) => r.best.testNll);
  const mean = testNlls.reduce((a, b) => a + b, 0) / testNlls.length;
  const sd =
    testNlls.length > 1
      ? Math.sqrt(testNlls.reduce((a, b) => a + (b - mean) ** 2, 0) / (testNlls.length - 1))
      : Number.NaN;
  return { seeds: same.map((r) => r.config.seed), testNlls, mean, sd };
}

function configText(r: ResultLine): string {
  const c = r.config;
  const shape =
    (c.ranks ? `ranks (${c.ranks.join(',')})` : c.rank !== undefined ? `R = ${c.rank}` : 'dense') +
    (c.blocks !== undefined ? `, ${c.blocks} blocks` : '');
  const protocol = [
    ...(c.maxLength ? [`chunks of ${c.maxLength}`] : []),
    ...(c.window ? [`BPTT windows of ${c.window}`] : []),
    ...(c.patience !== undefined ? [`patience ${c.patience}`] : []),
  ];
  return protocol.length ? `${shape}, ${protocol.join(', ')}` : shape;
}

export interface ReportFiles {
  markdown: string;
  csv: string;
  html: string;
  svgs: string[];
}

/** A compress run to show in the report: its table (markdown) and plot (SVG), as `compress` wrote them. */
export interface CompressSection {
  dir: string;
  table: string;
  svg: string | undefined;
}

/**
 * Reads a compress run's directory (`tensorized-bench compress --out-dir`): compress.md and the
 * first *-compress.svg. Throws an Error naming the directory when it holds no compress.md.
 */
export function readCompressDir(dir: string): CompressSection {
  const md = join(dir, 'compress.md');
  if (!existsSync(md)) throw new Error(`--compress ${dir}: no compress.md there (the out-dir of a 'compress' run)`);
  const svgFile = readdirSync(dir).find((f) => f.endsWith('-compress.svg'));
  return { dir, table: readFileSync(md, 'utf8'), svg: svgFile ? readFileSync(join(dir, svgFile), 'utf8') : undefined };
}

/** A markdown table (as markdownTable writes them) as an HTML table; other lines as paragraphs. */
export function markdownToHtml(md: string): string {
  const escapeHtml = (t: string): string => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const cells = (line: string): string[] =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim());
  const out: string[] = [];
  let table: string[][] = [];
  const flush = (): void => {
    if (!table.length) return;
    const [head, ...body] = table;
    out.push(
      `<table><thead><tr>${head!.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`,
    );
    table = [];
  };
  for (const line of md.split('\n')) {
    if (line.trim().startsWith('|')) {
      if (!/^\s*\|[\s:|-]+\|\s*$/.test(line)) table.push(cells(line));
      continue;
    }
    flush();
    if (line.trim()) out.push(`<p>${escapeHtml(line.trim())}</p>`);
  }
  flush();
  return out.join('\n');
}

/**
 * Writes results.md, results.csv, one NLL-vs-parameters plot and one learning-curve plot per
 * dataset, and index.html (with a compress run's table and plot, when `options.compress` is given).
 */
export async function writeReport(
  results: readonly ResultLine[],
  outDir: string,
  options: { compress?: CompressSection } = {},
): Promise<ReportFiles> {
  await mkdir(outDir, { recursive: true });
  const selected = selectOnValidation(results);
  const header = [
    'dataset',
    'model',
    'configuration',
    'RNN params',
    'lr',
    'dropout',
    'epochs',
    'best epoch',
    'valid NLL',
    'test NLL',
    'test acc.',
    'seeds',
    'test NLL mean ± sd',
    's/epoch',
  ];
  const spreads = selected.map((r) => seedSpread(r, results));
  const rows = selected.map((r, i) => [
    r.config.dataset,
    r.config.model,
    configText(r),
    r.rnnParams,
    r.config.lr,
    r.config.dropout,
    `${r.epochs}${r.diverged ? ` (diverged in ${r.diverged.epoch})` : r.stoppedEarly ? ' (early stop)' : r.epochs < (r.config.model === 'gru' ? 100 : 50) ? ' (shortened)' : ''}`,
    r.best.epoch,
    r.best.validNll.toFixed(3),
    r.best.testNll.toFixed(3),
    r.best.testAccuracy.toFixed(3),
    spreads[i]!.seeds.length,
    spreads[i]!.seeds.length > 1 ? `${spreads[i]!.mean.toFixed(3)} ± ${spreads[i]!.sd.toFixed(3)}` : '',
    r.secondsPerEpoch.toFixed(1),
  ]);
  const markdown = `${markdownTable(header, rows)}\n`;
  const csv = `${[header, ...rows].map((r) => r.map((c) => (/[",]/.test(String(c)) ? `"${String(c).replace(/"/g, '""')}"` : String(c))).join(',')).join('\n')}\n`;
  const files: ReportFiles = {
    markdown: join(outDir, 'results.md'),
    csv: join(outDir, 'results.csv'),
    html: join(outDir, 'index.html'),
    svgs: [],
  };
  await writeAtomic(files.markdown, markdown);
  await writeAtomic(files.csv, csv);
  const sections: string[] = [];
  for (const dataset of [...new Set(selected.map((r) => r.config.dataset))]) {
    const mine = selected.filter((r) => r.config.dataset === dataset);
    const byModel = new Map<string, ResultLine[]>();
    for (const r of mine) byModel.set(r.config.model, [...(byModel.get(r.config.model) ?? []), r]);
    const series: Series[] = [...byModel].map(([model, rs]) => ({
      name: model,
      color: COLORS[model] ?? '#999',
      // The mean over seeds where there are several (the selected run's own figure otherwise).
      points: rs.map((r) => [r.rnnParams, seedSpread(r, results).mean] as [number, number]),
      markersOnly: rs.length === 1,
    }));
    const nllSvg = lineChart(series, {
      title: `${dataset}: test NLL (mean over seeds) against RNN parameters`,
      xLabel: 'RNN parameters (log scale)',
      yLabel: 'test NLL per frame',
      xLog: true,
    });
    const curves: Series[] = mine.map((r, i) => ({
      name: `${r.config.model} ${configText(r)}`.slice(0, 32),
      color: shade(COLORS[r.config.model] ?? '#999999', i),
      points: r.history.map((h) => [h.epoch, h.valid.nll] as [number, number]),
    }));
    const curveSvg = lineChart(curves, {
      title: `${dataset}: validation NLL per epoch`,
      xLabel: 'epoch',
      yLabel: 'valid NLL per frame',
    });
    const nllPath = join(outDir, `${dataset}-nll-vs-params.svg`);
    const curvePath = join(outDir, `${dataset}-learning-curves.svg`);
    await writeAtomic(nllPath, nllSvg);
    await writeAtomic(curvePath, curveSvg);
    files.svgs.push(nllPath, curvePath);
    sections.push(`<h2>${dataset}</h2>\n<div class="plots">${nllSvg}\n${curveSvg}</div>`);
  }
  const table = `<table><thead><tr>${header.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tensorized: results</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}.plots{display:flex;flex-wrap:wrap;gap:12px}</style>
</head><body>
<h1>tensorized: compressed GRUs on polyphonic music</h1>
<p>Test NLL per frame at the epoch of best validation NLL; each configuration's learning rate and dropout chosen on validation. ${longestOfEachRun(results).length} runs.</p>
${table}
${sections.join('\n')}
${options.compress ? `<h2>Compressing a trained dense GRU</h2>\n<p>From ${options.compress.dir}.</p>\n${markdownToHtml(options.compress.table)}\n${options.compress.svg ? `<div class="plots">${options.compress.svg}</div>` : ''}` : ''}
</body></html>
`;
  await writeAtomic(files.html, html);
  return files;
}

/** Lighter variants of a colour for several runs of one model. */
export function shade(hex: string, i: number): string {
  const f = 1 - 0.18 * (i % 4);
  const c = [1, 3, 5].map((p) => Math.round(Number.parseInt(hex.slice(p, p + 2), 16) * f + 255 * (1 - f)));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}
