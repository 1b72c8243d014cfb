import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModelName } from '@tensorized/cells';
import type { PolyphonicDataset } from '@tensorized/datasets';
import { writeAtomic } from './checkpoint.js';
import { RunLockedError } from './run_lock.js';
import { canonicalJson, type RunConfig, type RunResult, type TrainOptions, train } from './train.js';

/** One line of results.jsonl. */
export interface ResultLine extends RunResult {
  key: string;
  secondsPerEpoch: number;
}

/** A stable name for a run configuration: its directory and its key in results.jsonl. */
export function runKey(c: RunConfig): string {
  const shape = `${c.ranks ? `r${c.ranks.join('-')}` : c.rank !== undefined ? `R${c.rank}` : 'dense'}${c.blocks !== undefined ? `-N${c.blocks}` : ''}`;
  const sizes = c.hiddenSize ? `-h${c.hiddenSize}` : '';
  const tail = `${c.maxLength ? `-L${c.maxLength}` : ''}${c.window ? `-W${c.window}` : ''}${c.patience !== undefined ? `-p${c.patience}` : ''}`;
  return `${c.dataset}/${c.model}-${shape}${sizes}-lr${c.lr}-do${c.dropout}-b${c.batchSize}-e${c.epochs}-s${c.seed}${tail}`;
}

/** A configuration without its dataset and training hyperparameters: what a grid selects over. */
export function shapeKey(c: Pick<RunConfig, 'model' | 'ranks' | 'rank' | 'blocks' | 'hiddenSize'>): string {
  return `${c.model} ${c.ranks ? `(${c.ranks.join(',')})` : c.rank !== undefined ? `R=${c.rank}` : 'dense'}${c.blocks !== undefined ? ` N=${c.blocks}` : ''}${c.hiddenSize ? ` h${c.hiddenSize}` : ''}`;
}

/** The training point a configuration was selected at (on some dataset's validation NLL). */
export type GridPoint = Pick<RunConfig, 'lr' | 'dropout' | 'batchSize'>;

export interface GridOptions {
  datasets: string[];
  models?: ModelName[];
  /** Override the paper's epochs (50, dense GRU 100): for shortened runs. */
  epochs?: number;
  lrs?: number[];
  dropouts?: number[];
  /** Batch sizes (default the paper's: 16, 8 for TT); a list makes them a grid axis. */
  batchSizes?: number[];
  /** Seeds (default [1]): every configuration is run once per seed. */
  seeds?: number[];
  /**
   * Instead of the lr x dropout grid, one run per configuration at the point given here (by
   * {@link shapeKey}), e.g. the point selected on another dataset's validation NLL. Configurations
   * without an entry are an error.
   */
  points?: ReadonlyMap<string, GridPoint>;
  maxLength?: number;
  window?: number;
  patience?: number;
}

/**
 * The paper's protocol (PAPER.md): dense GRU with lr 2.5e-3, dropout 0.3, 100 epochs; the
 * decompositions over lr {5e-3, 1e-2} x dropout {0.2, 0.5}, 50 epochs, batch 16 (8 for TT);
 * TT ranks (1, r, r, r, 1) for r in {5, 8, 11}, CP R in {50, 80, 110}, Tucker (2,2,2,2) and (2,4,2,4);
 * with `models` including 'tr-gru' or 'bt-gru' also tensor rings of ranks 3, 4 and 6 and Block-Term
 * matrices of ranks 2, 3, 4 with 4, 6, 6 blocks (beyond the paper).
 */
export function paperGrid(options: GridOptions): RunConfig[] {
  const seeds = options.seeds ?? [1];
  const lrs = options.lrs ?? [5e-3, 1e-2];
  const dropouts = options.dropouts ?? [0.2, 0.5];
  const wanted = new Set(options.models ?? ['gru', 'cp-gru', 'tucker-gru', 'tt-gru']);
  const extra: Partial<RunConfig> = {
    ...(options.maxLength !== undefined ? { maxLength: options.maxLength } : {}),
    ...(options.window !== undefined ? { window: options.window } : {}),
    ...(options.patience !== undefined ? { patience: options.patience } : {}),
  };
  const runs: RunConfig[] = [];
  for (const seed of seeds) {
    for (const dataset of options.datasets) {
      const base = { dataset: dataset as RunConfig['dataset'], clip: 5, seed };
      type Shape = Pick<RunConfig, 'model' | 'ranks' | 'rank' | 'blocks' | 'batchSize'>;
      const dense: Shape[] = wanted.has('gru') ? [{ model: 'gru', batchSize: 16 }] : [];
      const shapes: Shape[] = [];
      if (wanted.has('tt-gru'))
        for (const r of [5, 8, 11]) shapes.push({ model: 'tt-gru', ranks: [1, r, r, r, 1], batchSize: 8 });
      if (wanted.has('cp-gru')) for (const rank of [50, 80, 110]) shapes.push({ model: 'cp-gru', rank, batchSize: 16 });
      if (wanted.has('tucker-gru'))
        for (const ranks of [
          [2, 2, 2, 2],
          [2, 4, 2, 4],
        ])
          shapes.push({ model: 'tucker-gru', ranks, batchSize: 16 });
      // Beyond the paper (only when asked for): tensor rings (r, .., r) at the JSB budgets, 256 r^2 +
      // 1536 RNN parameters: r = 3, 4, 6 give 3,840, 5,632 and 10,752 (TT: 4,096, 7,168, 11,392).
      if (wanted.has('tr-gru'))
        for (const r of [3, 4, 6]) shapes.push({ model: 'tr-gru', ranks: [r, r, r, r, r], batchSize: 16 });
      // And Block-Term matrices (uniform ranks r, N blocks): N (2 r^4 + 256 r) + 1536 RNN parameters,
      // (2, 4 blocks) 3,712, (3, 6) 7,116, (4, 6) 10,752.
      if (wanted.has('bt-gru'))
        for (const [r, blocks] of [
          [2, 4],
          [3, 6],
          [4, 6],
        ] as const)
          shapes.push({ model: 'bt-gru', ranks: [r, r, r, r], blocks, batchSize: 16 });
      if (options.points) {
        for (const shape of [...dense, ...shapes]) {
          const point = options.points.get(shapeKey(shape));
          if (!point) throw new Error(`no selected training point for ${shapeKey(shape)}`);
          runs.push({
            ...base,
            ...shape,
            ...point,
            epochs: options.epochs ?? (shape.model === 'gru' ? 100 : 50),
            ...extra,
          });
        }
        continue;
      }
      const batchSizes = (shape: Shape): number[] => options.batchSizes ?? [shape.batchSize];
      for (const shape of dense) {
        for (const batchSize of batchSizes(shape))
          runs.push({
            ...base,
            ...shape,
            lr: 2.5e-3,
            dropout: 0.3,
            batchSize,
            epochs: options.epochs ?? 100,
            ...extra,
          });
      }
      // Every shape at the first grid point before any shape at the second, and so on: an interrupted
      // grid has a full comparison at one setting early.
      for (const dropout of dropouts) {
        for (const lr of lrs) {
          for (const shape of shapes) {
            for (const batchSize of batchSizes(shape))
              runs.push({ ...base, ...shape, lr, dropout, batchSize, epochs: options.epochs ?? 50, ...extra });
          }
        }
      }
    }
  }
  return runs;
}

/**
 * Per configuration ({@link shapeKey}), the training point whose run on `dataset` has the lowest
 * validation NLL in `results` (seed 1 only, so that further seeds do not move the selection).
 */
export function selectedPoints(results: readonly ResultLine[], dataset: string): Map<string, GridPoint> {
  const best = new Map<string, ResultLine>();
  for (const r of results) {
    if (r.config.dataset !== dataset || r.config.seed !== 1 || r.config.maxLength || r.config.window) continue;
    const k = shapeKey(r.config);
    const cur = best.get(k);
    if (!cur || r.best.validNll < cur.best.validNll) best.set(k, r);
  }
  return new Map(
    [...best].map(([k, r]) => [k, { lr: r.config.lr, dropout: r.config.dropout, batchSize: r.config.batchSize }]),
  );
}

/**
 * Shard `index` (1-based) of `count`: every count-th run of the list, so that the shards are disjoint,
 * cover the grid, and depend only on the list (not on which shard starts first).
 */
export function shardOf<T>(runs: readonly T[], index: number, count: number): T[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 1 || index > count) {
    throw new RangeError(`shard must be i/n with 1 <= i <= n, got ${index}/${count}`);
  }
  return runs.filter((_, k) => k % count === index - 1);
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

/** Why a results line is not a finished run's line, or undefined when it is one. */
function invalidLine(x: unknown): string | undefined {
  const r = x as Partial<ResultLine> | null;
  if (typeof r !== 'object' || r === null) return 'not a JSON object';
  if (typeof r.key !== 'string') return 'no key';
  if (typeof r.config !== 'object' || r.config === null) return 'no config';
  if (r.key !== runKey(r.config)) return `its key is not its configuration's (${runKey(r.config)})`;
  if (!Number.isInteger(r.epochs) || (r.epochs as number) < 1) return `epochs ${JSON.stringify(r.epochs)}`;
  if (
    typeof r.best !== 'object' ||
    r.best === null ||
    !Number.isFinite(r.best.testNll) ||
    !Number.isFinite(r.best.validNll)
  )
    return 'no best epoch';
  if (!Array.isArray(r.history)) return 'no history';
  return undefined;
}

/**
 * The result lines written so far. A half-written last line (from a kill) is ignored; any other line
 * that is not a finished run's is skipped and reported to `onSkip` (by line number and why).
 */
export function readResults(path: string, onSkip?: (line: number, why: string) => void): ResultLine[] {
  if (!existsSync(path)) return [];
  const out: ResultLine[] = [];
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      if (i < lines.length - 1 && lines.slice(i + 1).some((l) => l.trim())) onSkip?.(i + 1, 'not JSON');
      return; // the last line: an interrupted append
    }
    const why = invalidLine(parsed);
    if (why) onSkip?.(i + 1, why);
    else out.push(parsed as ResultLine);
  });
  return out;
}

export class MergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MergeError';
  }
}

/**
 * Merges results files (e.g. of a grid's shards) into `target`: one line per key, in the order first
 * seen (target's lines first). Idempotent: merging a file again adds nothing. Two lines of one key
 * with different configurations are refused (nothing is written); of one configuration, the run with
 * more epochs is kept. Written atomically. Returns the number of lines and how many were new.
 */
export async function mergeResults(
  target: string,
  sources: readonly string[],
): Promise<{ lines: number; added: number }> {
  const merged = new Map<string, { line: ResultLine; from: string }>();
  let before = 0;
  for (const file of [target, ...sources]) {
    if (file !== target && !existsSync(file)) throw new MergeError(`grid merge: ${file} does not exist`);
    const skipped: string[] = [];
    const lines = readResults(file, (n, why) => skipped.push(`line ${n} (${why})`));
    if (skipped.length)
      throw new MergeError(`grid merge: ${file} has lines that are not finished runs: ${skipped.join(', ')}`);
    for (const line of lines) {
      const seen = merged.get(line.key);
      if (!seen) {
        merged.set(line.key, { line, from: file });
        continue;
      }
      if (canonicalJson(seen.line.config) !== canonicalJson(line.config)) {
        throw new MergeError(
          `grid merge: key ${line.key} has different configurations in ${seen.from} and ${file}; nothing was written`,
        );
      }
      if (line.epochs > seen.line.epochs) merged.set(line.key, { line, from: file });
    }
    if (file === target) before = merged.size;
  }
  await mkdir(dirname(target), { recursive: true });
  await writeAtomic(target, [...merged.values()].map(({ line }) => `${JSON.stringify(line)}\n`).join(''));
  return { lines: merged.size, added: merged.size - before };
}

/**
 * Runs every configuration not yet in results.jsonl (each resumable from its own checkpoint) and
 * appends one JSON line per finished run. Several processes may work through one grid at once (on
 * one machine or on a shared file system): each run directory is locked by the process training it,
 * the others skip it, and results.jsonl is re-read before every run.
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
  const finished: ResultLine[] = [];
  for (const [i, run] of runs.entries()) {
    const key = runKey(run);
    if (readResults(resultsPath).some((r) => r.key === key)) {
      log(`[${i + 1}/${runs.length}] ${key}: done before, skipped`);
      continue;
    }
    log(`[${i + 1}/${runs.length}] ${key}`);
    const data = await load(run.dataset);
    let result: RunResult;
    try {
      // The lock is taken inside train; the results are read again under it, in case another
      // process finished this run meanwhile.
      result = await train(run, data, {
        ...options,
        outDir: join(outDir, key),
        resume: 'if-present',
        skipIf: () => readResults(resultsPath).some((r) => r.key === key),
      });
    } catch (e) {
      if (e instanceof RunLockedError) {
        log(`[${i + 1}/${runs.length}] ${key}: being trained by process ${e.holder.pid} on ${e.holder.host}, skipped`);
        continue;
      }
      throw e;
    }
    if (result.skipped) continue;
    if (result.epochs < run.epochs && !result.stoppedEarly && !result.diverged) break; // stopped early (tests): not a finished run
    finished.push(await appendResult(resultsPath, result));
  }
  return finished;
}
