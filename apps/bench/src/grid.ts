import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModelName } from '@tensorized/cells';
import type { PolyphonicDataset } from '@tensorized/datasets';
import { type RunConfig, type RunResult, type TrainOptions, train } from './train.js';

/** One line of results.jsonl. */
export interface ResultLine extends RunResult {
  key: string;
  secondsPerEpoch: number;
}

/** A stable name for a run configuration: its directory and its key in results.jsonl. */
export function runKey(c: RunConfig): string {
  const shape = c.ranks ? `r${c.ranks.join('-')}` : c.rank !== undefined ? `R${c.rank}` : 'dense';
  const sizes = c.hiddenSize ? `-h${c.hiddenSize}` : '';
  return `${c.dataset}/${c.model}-${shape}${sizes}-lr${c.lr}-do${c.dropout}-b${c.batchSize}-e${c.epochs}-s${c.seed}${c.maxLength ? `-L${c.maxLength}` : ''}`;
}

export interface GridOptions {
  datasets: string[];
  models?: ModelName[];
  /** Override the paper's epochs (50, dense GRU 100): for shortened runs. */
  epochs?: number;
  lrs?: number[];
  dropouts?: number[];
  seed?: number;
}

/**
 * The paper's protocol (PAPER.md): dense GRU with lr 2.5e-3, dropout 0.3, 100 epochs; the
 * decompositions over lr {5e-3, 1e-2} x dropout {0.2, 0.5}, 50 epochs, batch 16 (8 for TT);
 * TT ranks (1, r, r, r, 1) for r in {5, 8, 11}, CP R in {50, 80, 110}, Tucker (2,2,2,2) and (2,4,2,4).
 */
export function paperGrid(options: GridOptions): RunConfig[] {
  const seed = options.seed ?? 1;
  const lrs = options.lrs ?? [5e-3, 1e-2];
  const dropouts = options.dropouts ?? [0.2, 0.5];
  const wanted = new Set(options.models ?? ['gru', 'cp-gru', 'tucker-gru', 'tt-gru']);
  const runs: RunConfig[] = [];
  for (const dataset of options.datasets) {
    const base = { dataset: dataset as RunConfig['dataset'], clip: 5, seed };
    if (wanted.has('gru')) runs.push({ ...base, model: 'gru', lr: 2.5e-3, dropout: 0.3, batchSize: 16, epochs: options.epochs ?? 100 });
    const shapes: Array<Pick<RunConfig, 'model' | 'ranks' | 'rank' | 'batchSize'>> = [];
    if (wanted.has('tt-gru')) for (const r of [5, 8, 11]) shapes.push({ model: 'tt-gru', ranks: [1, r, r, r, 1], batchSize: 8 });
    if (wanted.has('cp-gru')) for (const rank of [50, 80, 110]) shapes.push({ model: 'cp-gru', rank, batchSize: 16 });
    if (wanted.has('tucker-gru')) for (const ranks of [[2, 2, 2, 2], [2, 4, 2, 4]]) shapes.push({ model: 'tucker-gru', ranks, batchSize: 16 });
    // Every shape at the first grid point before any shape at the second, and so on: an interrupted
    // grid has a full comparison at one setting early.
    for (const dropout of dropouts) {
      for (const lr of lrs) for (const shape of shapes) runs.push({ ...base, ...shape, lr, dropout, epochs: options.epochs ?? 50 });
    }
  }
  return runs;
}

/** Appends a finished run to a results.jsonl file (one JSON line). */
export async function appendResult(path: string, result: RunResult): Promise<ResultLine> {
  const line: ResultLine = {
    key: runKey(result.config),
    ...result,
    secondsPerEpoch: result.history.reduce((s, h) => s + h.seconds, 0) / result.history.length,
  };
  await mkdir(dirname(path), { recursive: true });
  await appendFile(path, `${JSON.stringify(line)}\n`);
  return line;
}

/** The result lines written so far (a half-written last line, from a kill, is ignored). */
export function readResults(path: string): ResultLine[] {
  if (!existsSync(path)) return [];
  const out: ResultLine[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as ResultLine);
    } catch {
      // an interrupted append
    }
  }
  return out;
}

/**
 * Runs every configuration not yet in results.jsonl (each resumable from its own checkpoint) and
 * appends one JSON line per finished run.
 */
export async function runGrid(
  runs: readonly RunConfig[],
  load: (dataset: string) => Promise<PolyphonicDataset>,
  outDir: string,
  options: Omit<TrainOptions, 'outDir' | 'resume'> & { log?: (line: string) => void } = {},
): Promise<ResultLine[]> {
  const log = options.log ?? (() => {});
  await mkdir(outDir, { recursive: true });
  const resultsPath = join(outDir, 'results.jsonl');
  const done = new Set(readResults(resultsPath).map((r) => r.key));
  const finished: ResultLine[] = [];
  for (const [i, run] of runs.entries()) {
    const key = runKey(run);
    if (done.has(key)) {
      log(`[${i + 1}/${runs.length}] ${key}: done before, skipped`);
      continue;
    }
    log(`[${i + 1}/${runs.length}] ${key}`);
    const data = await load(run.dataset);
    const result = await train(run, data, { ...options, outDir: join(outDir, key), resume: true });
    if (result.epochs < run.epochs) break; // stopped early (tests): not a finished run
    finished.push(await appendResult(resultsPath, result));
  }
  return finished;
}
