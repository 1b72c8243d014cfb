#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BackendRequest, useBackend } from '@tensorized/backends';
import { CellError, MODEL_NAMES, type ModelName, resolveMatrices } from '@tensorized/cells';
import { calibrate, FORMAT_NAMES, formatDefinition } from '@tensorized/decomp';
import { applyCalibrationEnv } from './calibration_env.js';
import { DATASET_NAMES, type DatasetName, findDatasetFile, loadPolyphonic } from '@tensorized/datasets/node';
import { runDefaultComparison } from './default_run.js';
import { runDemo } from './demo.js';
import { type CompressRunOptions, type CompressTarget, compressChart, compressTable, runCompress } from './compress.js';
import { loadCheckpoint, writeAtomic } from './checkpoint.js';
import { estimateGrid, estimateTable } from './eta.js';
import { releaseHeldLocks } from './run_lock.js';
import {
  appendResult,
  type GridPoint,
  MergeError,
  mergeResults,
  paperGrid,
  readResults,
  runGrid,
  runKey,
  selectedPoints,
  shardOf,
} from './grid.js';
import { progressReporter } from './progress.js';
import { type CompressSection, readCompressDir, writeReport } from './report.js';
import { cellSpeedTable, runCellSpeed } from './speed_cells.js';
import { compressSpeedTable, runCompressSpeed } from './speed_compress.js';
import { evaluate, pieceNll } from './evaluate.js';
import { loadModel } from './load_model.js';
import { summarise } from './metrics.js';
import { framesToMidi, pianoRollSvg, pieceFrames, samplePiece } from './sample.js';
import { epochSpeedTable, largeMatmulGflops, runEpochSpeed } from './speed_epoch.js';
import { decompSpeedTable, runDecompSpeed } from './speed_decomp.js';
import { cellConfigOf, MemoryBoundError, type RunConfig, train } from './train.js';

const USAGE = `Usage: tensorized-bench [command] [options]

Commands:
  (none), compare      the built-in default: GRU, CP-GRU, Tucker-GRU and TT-GRU on the synthetic dataset
  train                one model on one dataset, with checkpoints (--resume continues a killed run)
  grid                 the paper's protocol over datasets x models x lr x dropout; resumable
  grid merge <f>...    merge results.jsonl files (of shards) into --out-dir's results.jsonl
  report               tables (Markdown, CSV), SVG plots and an HTML page from a grid's results.jsonl
  compress             a trained dense model (--from) to TT, CP and Tucker at --budgets, then fine-tuned
  sample               generate a piece from a trained model (--from) as MIDI (--out piece.mid) and an SVG piano roll
  nll                  a trained model's (--from) test NLL per frame: of one piece (--piece q) or the whole test split
  speed [decomp|cells] benchmarks of the factorised matmuls and of the cells (both when none is named)
  calibrate            measure the running backend's speeds for the planner (JSON; the checked-in
                       profiles in packages/decomp/src/profiles.ts come from it)
  speed compress       compressMatrix at the paper's sizes: each format at a 5,000-parameter budget
  speed epoch          two training epochs per paper model on --dataset (the second timed): seconds, GFLOP/s, FLOP floor
  demo                 a short tour of the math core

Options:
  --backend <name>       wasm (default), node, cpu or auto
  --threads <n>          wasm: compute with n threads (default 1; more start the threaded build)
  --dataset <name>       synthetic (default), ${DATASET_NAMES.join(', ')}
  --datasets <a,b>       grid: datasets (default jsb)
  --model <name>         ${MODEL_NAMES.join(', ')} (default tt-gru)
  --models <a,b>         grid: models (default the paper's four GRUs; tr-gru, bt-gru add TR and BT)
  --ranks <1,r,..,1>     TT or TR ranks (d + 1 numbers), Tucker or BT ranks (d numbers)
  --rank <R>             CP rank
  --blocks <N>           BT: the number of blocks (default 6)
  --input-size <256> --input-modes <4,4,4,4> --hidden-size <512> --hidden-modes <8,4,4,4>
  --lr <x> --dropout <p> --batch-size <n> --epochs <n> --seed <n> --clip <x>
                         (grid: --lr, --dropout, --batch-size take comma-separated lists: the grid's axes)
  --max-length <frames>  cut longer pieces into chunks of this many frames, each from a zero state
  --window <frames>      truncated BPTT: whole pieces in windows of this many frames, the state carried
                         from one window to the next (gradients stop at the boundary)
  --patience <P>         early stopping: end a run when validation has not improved for P epochs
  --seeds <1,2,3>        grid: run every configuration once per seed (default --seed)
  --select-on <dataset>  grid: one run per configuration, at the lr/dropout/batch whose seed-1 run on
                         <dataset> (in the grid's results.jsonl) has the lowest validation NLL
  --shard <i/n>          grid: run only the i-th of n disjoint shares of the runs (for array jobs)
  --jobs <k>             grid: k worker processes that share the runs (default 1)
  --eta                  grid: print the estimate of the grid's hours (a short measured probe) and stop
  --overwrite            train: replace the run already in --out-dir
  --from <checkpoint>    compress: a dense GRU/LSTM's best.safetensors or checkpoint.safetensors
  --formats <tt,cp,..>   compress: the formats (default tt,cp,tucker)
  --budgets <n,..>       compress: RNN parameter budgets (default 4096,7168,11392, the paper's TT-GRUs)
  --fine-tune-epochs <k> compress: epochs of fine-tuning after the conversion (default 20)
  --out <file.mid>       sample: the MIDI file to write (an SVG piano roll beside it)
  --length <frames>      sample: frames to generate (default 128)
  --temperature <t>      sample: > 0; below 1 sharper, above 1 more random (default 1)
  --primer-piece <q>     sample: start from piece q of the model's dataset's test split (--primer-frames, default 16)
  --piece <q>            nll: piece q of the test split (default all of it)
  --data-dir <dir>       where the dataset files are (else TENSORIZED_DATA_DIR)
  --download             fetch a missing original pickle into the cache
  --out-dir <dir>        where runs, checkpoints and reports go (default runs/...)
  --resume               train: continue from the checkpoint in --out-dir
  --results <file>       report: the results.jsonl to read (default runs/grid/results.jsonl; give it
                         again to read several, e.g. two grids); train: append the finished run to it
  --compress <dir>       report: also show a compress run's table and plot (its compress.md and SVG)
  --min-ms <n>           speed: time spent on each figure
  --rounds <n>           speed epoch: rounds in which the models take turns (default 2; the fastest counts)
  -h, --help
`;

class UsageError extends Error {}

const list = (name: string, value: string | undefined): number[] | undefined => {
  if (value === undefined) return undefined;
  const xs = value.split(',').map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isFinite(x)))
    throw new UsageError(`--${name} must be comma-separated numbers, got '${value}'`);
  return xs;
};
/** A rule for a numeric option: the test and what it expects, for the message. */
interface Rule {
  ok: (x: number) => boolean;
  expected: string;
}
const POSITIVE: Rule = { ok: (x) => x > 0, expected: 'a number > 0' };
const POSITIVE_INT: Rule = { ok: (x) => Number.isInteger(x) && x > 0, expected: 'a positive integer' };
const INT: Rule = { ok: Number.isInteger, expected: 'an integer' };
const RATE: Rule = { ok: (x) => x >= 0 && x < 1, expected: 'a rate in [0, 1)' };
const num = (name: string, value: string | undefined, fallback: number, rule: Rule = POSITIVE): number => {
  if (value === undefined) return fallback;
  const x = value.trim() === '' ? Number.NaN : Number(value);
  if (!Number.isFinite(x) || !rule.ok(x)) throw new UsageError(`--${name} got '${value}'; expected ${rule.expected}`);
  return x;
};
const positiveInt = POSITIVE_INT.ok;

/** The options each command reads (besides --backend, --threads, --help); any other option given is an error. */
const MODEL_OPTIONS = ['model', 'ranks', 'rank', 'blocks', 'input-size', 'input-modes', 'hidden-size', 'hidden-modes'];
const TRAINING = [
  'lr',
  'dropout',
  'batch-size',
  'epochs',
  'clip',
  'max-length',
  'window',
  'patience',
  'data-dir',
  'download',
  'out-dir',
];
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  compare: ['epochs', 'out-dir'],
  train: ['dataset', ...MODEL_OPTIONS, ...TRAINING, 'seed', 'resume', 'overwrite', 'results'],
  grid: ['datasets', 'models', ...TRAINING, 'seed', 'seeds', 'select-on', 'shard', 'jobs', 'eta'],
  report: ['results', 'out-dir', 'compress'],
  'grid merge': ['out-dir'],
  speed: ['min-ms'],
  'speed decomp': ['min-ms'],
  'speed cells': ['min-ms'],
  'speed compress': [],
  calibrate: [],
  sample: ['from', 'out', 'length', 'temperature', 'seed', 'primer-piece', 'primer-frames', 'data-dir', 'download'],
  nll: ['from', 'piece', 'data-dir', 'download'],
  'speed epoch': ['dataset', 'batch-size', 'rounds', 'data-dir', 'download'],
  demo: [],
  compress: [
    'from',
    'dataset',
    'formats',
    'budgets',
    'fine-tune-epochs',
    'input-modes',
    'hidden-modes',
    'lr',
    'dropout',
    'batch-size',
    'seed',
    'window',
    'data-dir',
    'download',
    'out-dir',
    'results',
  ],
};
const modelName = (m: string): ModelName => {
  if (!(MODEL_NAMES as readonly string[]).includes(m))
    throw new UsageError(`unknown model '${m}'; expected one of ${MODEL_NAMES.join(', ')}`);
  return m as ModelName;
};
const datasetName = (d: string): DatasetName | 'synthetic' => {
  if (d !== 'synthetic' && !(DATASET_NAMES as readonly string[]).includes(d))
    throw new UsageError(`unknown dataset '${d}'; expected synthetic or one of ${DATASET_NAMES.join(', ')}`);
  return d as DatasetName | 'synthetic';
};

export async function main(argv: string[]): Promise<void> {
  const {
    values: v,
    positionals,
    tokens,
  } = parseArgs({
    args: argv,
    allowPositionals: true,
    tokens: true,
    options: {
      backend: { type: 'string', default: 'wasm' },
      threads: { type: 'string' },
      dataset: { type: 'string', default: 'synthetic' },
      datasets: { type: 'string', default: 'jsb' },
      model: { type: 'string', default: 'tt-gru' },
      models: { type: 'string' },
      ranks: { type: 'string' },
      rank: { type: 'string' },
      blocks: { type: 'string' },
      'input-modes': { type: 'string' },
      'hidden-modes': { type: 'string' },
      'hidden-size': { type: 'string' },
      'input-size': { type: 'string' },
      lr: { type: 'string' },
      dropout: { type: 'string' },
      'batch-size': { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      clip: { type: 'string' },
      'max-length': { type: 'string' },
      window: { type: 'string' },
      patience: { type: 'string' },
      seeds: { type: 'string' },
      'select-on': { type: 'string' },
      shard: { type: 'string' },
      jobs: { type: 'string' },
      eta: { type: 'boolean', default: false },
      overwrite: { type: 'boolean', default: false },
      from: { type: 'string' },
      formats: { type: 'string' },
      budgets: { type: 'string' },
      'fine-tune-epochs': { type: 'string' },
      out: { type: 'string' },
      length: { type: 'string' },
      temperature: { type: 'string' },
      'primer-piece': { type: 'string' },
      piece: { type: 'string' },
      'primer-frames': { type: 'string' },
      'data-dir': { type: 'string' },
      download: { type: 'boolean', default: false },
      'out-dir': { type: 'string' },
      resume: { type: 'boolean', default: false },
      results: { type: 'string', multiple: true },
      compress: { type: 'string' },
      'min-ms': { type: 'string' },
      rounds: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  // `grid merge <results.jsonl>...`: the files are positionals after the command.
  const merging = positionals[0] === 'grid' && positionals[1] === 'merge';
  const command = merging ? 'grid merge' : positionals.join(' ') || 'compare';
  const known = [
    'compare',
    'train',
    'grid',
    'grid merge',
    'report',
    'compress',
    'speed',
    'speed decomp',
    'speed cells',
    'speed epoch',
    'speed compress',
    'calibrate',
    'sample',
    'nll',
    'demo',
  ];
  if (!known.includes(command)) throw new UsageError(`unknown command '${command}'`);
  const given = new Set<string>(tokens.flatMap((t) => (t.kind === 'option' ? [t.name] : [])));
  for (const name of given) {
    if (name !== 'backend' && name !== 'threads' && name !== 'help' && !COMMAND_OPTIONS[command]!.includes(name)) {
      throw new UsageError(
        `--${name} does not apply to '${command}'; its options are ${COMMAND_OPTIONS[command]!.map((o) => `--${o}`).join(', ') || 'none'}`,
      );
    }
  }
  const backend = v.backend as BackendRequest;
  if (!['wasm', 'node', 'cpu', 'auto'].includes(backend))
    throw new UsageError(`--backend must be one of wasm, node, cpu, auto; got '${v.backend}'`);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const loadOptions = { ...(v['data-dir'] ? { dataDir: v['data-dir'] } : {}), download: v.download };

  // Everything is checked before any work starts (and before the backend loads).
  let runConfig: RunConfig | undefined;
  if (command === 'train') {
    const model = modelName(v.model);
    runConfig = {
      dataset: datasetName(v.dataset),
      model,
      lr: num('lr', v.lr, 5e-3),
      dropout: num('dropout', v.dropout, 0.2, RATE),
      batchSize: num('batch-size', v['batch-size'], model.startsWith('tt') ? 8 : 16, POSITIVE_INT),
      epochs: num('epochs', v.epochs, 50, POSITIVE_INT),
      seed: num('seed', v.seed, 1, INT),
      clip: num('clip', v.clip, 5),
    };
    const format = model.includes('-') ? model.split('-')[0]! : 'dense';
    // --rank and --ranks are the fields of the formats' specs (decomp's FormatSpec).
    const takes = (field: string): string[] =>
      FORMAT_NAMES.filter((f) => formatDefinition(f).specFields.includes(field)).map((f) => formatDefinition(f).title);
    const inapplicable = [
      ...['rank', 'ranks', 'blocks']
        .filter((o) => given.has(o) && (format === 'dense' || !formatDefinition(format).specFields.includes(o)))
        .map(
          (o) =>
            `--${o} (${takes(o)
              .join(', ')
              .replace(/, ([^,]*)$/, ' and $1')} models only)`,
        ),
      ...(format === 'dense'
        ? ['input-modes', 'hidden-modes'].filter((o) => given.has(o)).map((o) => `--${o} (factorised models only)`)
        : []),
    ];
    if (inapplicable.length) throw new UsageError(`${inapplicable.join(', ')} does not apply to --model ${model}`);
    const ranks = list('ranks', v.ranks);
    if (ranks) runConfig.ranks = ranks;
    if (v.rank !== undefined) runConfig.rank = num('rank', v.rank, 80, POSITIVE_INT);
    if (v.blocks !== undefined) runConfig.blocks = num('blocks', v.blocks, 6, POSITIVE_INT);
    const im = list('input-modes', v['input-modes']);
    if (im) runConfig.inputModes = im;
    const hm = list('hidden-modes', v['hidden-modes']);
    if (hm) runConfig.hiddenModes = hm;
    if (v['input-size'] !== undefined) runConfig.inputSize = num('input-size', v['input-size'], 256, POSITIVE_INT);
    if (v['hidden-size'] !== undefined) runConfig.hiddenSize = num('hidden-size', v['hidden-size'], 512, POSITIVE_INT);
    if (v['max-length'] !== undefined) runConfig.maxLength = num('max-length', v['max-length'], 0, POSITIVE_INT);
    if (v.window !== undefined) runConfig.window = num('window', v.window, 0, POSITIVE_INT);
    if (v.patience !== undefined) runConfig.patience = num('patience', v.patience, 0, POSITIVE_INT);
    try {
      resolveMatrices(cellConfigOf(runConfig));
    } catch (e) {
      if (e instanceof CellError) throw new UsageError(`the model does not fit: ${e.message}`);
      throw e;
    }
    if (runConfig.dataset !== 'synthetic' && !v.download && !findDatasetFile(runConfig.dataset, loadOptions)) {
      // loadPolyphonic's message says which file to put where.
      await loadPolyphonic(runConfig.dataset, loadOptions).catch((e: Error) => {
        throw new UsageError(e.message);
      });
    }
  }
  let gridRuns: RunConfig[] | undefined;
  if (command === 'grid') {
    const datasets = v.datasets.split(',').map((d) => datasetName(d.trim()));
    const models = v.models?.split(',').map((m) => modelName(m.trim()));
    const gridOut = v['out-dir'] ?? 'runs/grid';
    const numbers = (
      name: string,
      value: string | undefined,
      check: (x: number) => boolean,
      expected: string,
    ): number[] | undefined => {
      const xs = list(name, value);
      const bad = xs?.find((x) => !check(x));
      if (bad !== undefined) throw new UsageError(`--${name} got ${bad} in '${value}'; expected ${expected}`);
      return xs;
    };
    const lrs = numbers('lr', v.lr, (x) => x > 0, 'learning rates > 0');
    const dropouts = numbers('dropout', v.dropout, (x) => x >= 0 && x < 1, 'dropout rates in [0, 1)');
    const batchSizes = numbers('batch-size', v['batch-size'], positiveInt, 'positive integers');
    const seeds = numbers('seeds', v.seeds ?? v.seed, Number.isInteger, 'integers');
    let points: Map<string, GridPoint> | undefined;
    if (v['select-on'] !== undefined) {
      if (lrs || dropouts || batchSizes)
        throw new UsageError(
          '--select-on takes lr, dropout and batch size from the selected runs; drop --lr, --dropout and --batch-size',
        );
      const on = datasetName(v['select-on']);
      points = selectedPoints(readResults(join(gridOut, 'results.jsonl')), on);
      if (points.size === 0)
        throw new UsageError(
          `--select-on ${on}: ${join(gridOut, 'results.jsonl')} has no seed-1 runs on ${on} to select from; run the grid on ${on} first`,
        );
    }
    try {
      gridRuns = paperGrid({
        datasets,
        ...(models ? { models } : {}),
        ...(v.epochs ? { epochs: num('epochs', v.epochs, 50, POSITIVE_INT) } : {}),
        ...(lrs ? { lrs } : {}),
        ...(dropouts ? { dropouts } : {}),
        ...(batchSizes ? { batchSizes } : {}),
        ...(seeds ? { seeds } : {}),
        ...(points ? { points } : {}),
        ...(v['max-length'] !== undefined ? { maxLength: num('max-length', v['max-length'], 0, POSITIVE_INT) } : {}),
        ...(v.window !== undefined ? { window: num('window', v.window, 0, POSITIVE_INT) } : {}),
        ...(v.patience !== undefined ? { patience: num('patience', v.patience, 0, POSITIVE_INT) } : {}),
      });
    } catch (e) {
      throw new UsageError(
        `--select-on ${v['select-on']}: ${(e as Error).message}; run those configurations on it first or drop them with --models`,
      );
    }
    if (v.shard !== undefined) {
      const m = /^(\d+)\/(\d+)$/.exec(v.shard);
      const [i, n] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
      if (!m || i < 1 || i > n)
        throw new UsageError(`--shard got '${v.shard}'; expected i/n with 1 <= i <= n, e.g. 1/4`);
      gridRuns = shardOf(gridRuns, i, n);
    }
    for (const d of datasets) {
      if (d !== 'synthetic' && !v.download && !findDatasetFile(d, loadOptions)) {
        await loadPolyphonic(d, loadOptions).catch((e: Error) => {
          throw new UsageError(e.message);
        });
      }
    }
  }
  let compressArgs: Omit<CompressRunOptions, 'data' | 'log' | 'onProgress' | 'scratch'> | undefined;
  if (command === 'compress') {
    if (!v.from)
      throw new UsageError(
        'compress needs --from <checkpoint>: a dense model trained by train or grid (its best.safetensors)',
      );
    if (!existsSync(v.from)) throw new UsageError(`--from ${v.from}: no such file`);
    const formats = (v.formats ?? 'tt,cp,tucker').split(',').map((f) => f.trim());
    const badFormat = formats.find((f) => !(FORMAT_NAMES as readonly string[]).includes(f));
    if (badFormat !== undefined)
      throw new UsageError(`--formats got '${badFormat}'; expected some of ${FORMAT_NAMES.join(', ')}`);
    const budgets = list('budgets', v.budgets) ?? [4096, 7168, 11392];
    const badBudget = budgets.find((b) => !POSITIVE_INT.ok(b));
    if (badBudget !== undefined)
      throw new UsageError(`--budgets got ${badBudget}; expected positive integers (RNN parameters)`);
    compressArgs = {
      from: v.from,
      formats: formats as CompressTarget[],
      budgets,
      fineTuneEpochs: num('fine-tune-epochs', v['fine-tune-epochs'], 20, {
        ok: (x) => Number.isInteger(x) && x >= 0,
        expected: 'an integer >= 0',
      }),
      lr: num('lr', v.lr, 2.5e-3),
      dropout: num('dropout', v.dropout, 0.5, RATE),
      batchSize: num('batch-size', v['batch-size'], 16, POSITIVE_INT),
      seed: num('seed', v.seed, 1, INT),
      ...(v.window !== undefined ? { window: num('window', v.window, 0, POSITIVE_INT) } : {}),
      outDir: v['out-dir'] ?? 'runs/compress',
    };
    const im = list('input-modes', v['input-modes']);
    if (im) compressArgs.inputModes = im;
    const hm = list('hidden-modes', v['hidden-modes']);
    if (hm) compressArgs.hiddenModes = hm;
    // The dataset the dense model was trained on, unless named.
    if (!given.has('dataset')) {
      const { state } = await loadCheckpoint<{ config?: { dataset?: string } }>(v.from).catch((e: Error) => {
        throw new UsageError(`--from ${v.from}: ${e.message}`);
      });
      v.dataset = state.config?.dataset ?? 'synthetic';
    }
    if (
      datasetName(v.dataset) !== 'synthetic' &&
      !v.download &&
      !findDatasetFile(v.dataset as DatasetName, loadOptions)
    ) {
      await loadPolyphonic(v.dataset as DatasetName, loadOptions).catch((e: Error) => {
        throw new UsageError(e.message);
      });
    }
  }
  if (command === 'nll') {
    if (!v.from)
      throw new UsageError('nll needs --from <checkpoint>: a model trained by train or grid (its best.safetensors)');
    if (!existsSync(v.from)) throw new UsageError(`--from ${v.from}: no such file`);
  }
  const nllPiece =
    command === 'nll' && v.piece !== undefined
      ? num('piece', v.piece, 0, { ok: (x) => Number.isInteger(x) && x >= 0, expected: 'an integer >= 0' })
      : undefined;
  if (command === 'sample') {
    if (!v.from)
      throw new UsageError('sample needs --from <checkpoint>: a model trained by train or grid (its best.safetensors)');
    if (!existsSync(v.from)) throw new UsageError(`--from ${v.from}: no such file`);
    if (!v.out) throw new UsageError('sample needs --out <piece.mid>');
    if (!v.out.endsWith('.mid')) throw new UsageError(`--out got '${v.out}'; expected a file name ending in .mid`);
    if (given.has('primer-frames') && !given.has('primer-piece'))
      throw new UsageError('--primer-frames needs --primer-piece');
  }
  const sampleOptions =
    command === 'sample'
      ? {
          length: num('length', v.length, 128, POSITIVE_INT),
          temperature: num('temperature', v.temperature, 1, POSITIVE),
          seed: num('seed', v.seed, 1, INT),
          primerPiece:
            v['primer-piece'] !== undefined
              ? num('primer-piece', v['primer-piece'], 0, {
                  ok: (x) => Number.isInteger(x) && x >= 0,
                  expected: 'an integer >= 0',
                })
              : undefined,
          primerFrames: num('primer-frames', v['primer-frames'], 16, POSITIVE_INT),
        }
      : undefined;
  const compareEpochs = num('epochs', command === 'compare' ? v.epochs : undefined, 6, POSITIVE_INT);
  const resultsPaths = v.results ?? [];
  if (command !== 'report' && resultsPaths.length > 1)
    throw new UsageError(
      `--results: ${command} takes one file, got ${resultsPaths.length} (${resultsPaths.join(', ')}); only report reads several`,
    );
  const resultsFile = resultsPaths[0];
  if (command === 'report') {
    if (resultsPaths.length === 0) resultsPaths.push('runs/grid/results.jsonl');
    for (const p of resultsPaths)
      if (!existsSync(p)) throw new UsageError(`no results at ${p}; run 'grid' first or name the file with --results`);
  }

  if (command === 'grid merge') {
    const sources = positionals.slice(2);
    if (sources.length === 0)
      throw new UsageError(
        'grid merge needs the results files to merge: grid merge <results.jsonl>... [--out-dir <dir>]',
      );
    const target = join(v['out-dir'] ?? 'runs/grid', 'results.jsonl');
    try {
      const { lines, added } = await mergeResults(target, sources);
      log(`${target}: ${lines} runs (${added} new)`);
    } catch (e) {
      if (e instanceof MergeError) throw new UsageError(e.message);
      throw e;
    }
    return;
  }
  if (command === 'report') {
    const results = resultsPaths.flatMap((p) =>
      readResults(p, (n, why) => process.stderr.write(`${p}: line ${n} skipped (${why})\n`)),
    );
    let compress: CompressSection | undefined;
    try {
      compress = v.compress ? readCompressDir(v.compress) : undefined;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const files = await writeReport(results, v['out-dir'] ?? 'runs/report', compress ? { compress } : {});
    log(`${results.length} runs -> ${files.markdown}, ${files.csv}, ${files.html}, ${files.svgs.length} plots`);
    return;
  }

  const threads = v.threads === undefined ? undefined : num('threads', v.threads, 1, POSITIVE_INT);
  if (threads !== undefined && backend !== 'wasm')
    throw new UsageError(`--threads is an option of the wasm backend; got it with --backend ${backend}`);
  const info = await useBackend(backend, threads === undefined ? {} : { threads });
  try {
    applyCalibrationEnv();
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  log(
    `backend: ${info.name} (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads > 1 ? 's' : ''}; ${Object.entries(
      info.versions,
    )
      .map(([k, x]) => `${k} ${x}`)
      .join(', ')})\n`,
  );
  const jobs = num('jobs', v.jobs, 1, POSITIVE_INT);
  if (command === 'grid' && process.env['TENSORIZED_GRID_WORKER'] === undefined) {
    // What the grid will cost, before it starts (workers of --jobs skip this: their parent printed it).
    const loadData = (d: string) => loadPolyphonic(d as DatasetName, loadOptions);
    const estimate = await estimateGrid(gridRuns!, runKey, loadData, v['out-dir'] ?? 'runs/grid');
    log(`${estimateTable(estimate, jobs)}\n`);
    if (v.eta) return;
  }
  if (command === 'grid' && jobs > 1) {
    // k workers over the same grid: each takes the next run that no other holds (run directories
    // are locked), so the k processes keep k cores busy until the grid is done.
    const rest = argv.filter((a, i) => a !== '--jobs' && argv[i - 1] !== '--jobs' && !a.startsWith('--jobs='));
    log(`grid: ${gridRuns!.length} runs, ${jobs} worker processes`);
    process.exitCode = await runWorkers(jobs, rest, log);
    return;
  }
  const progress = progressReporter();
  const onProgress = progress.update;
  const logLine = (line: string): void => {
    progress.done();
    log(line);
  };
  const minMs = num('min-ms', v['min-ms'], 200, POSITIVE);
  switch (command) {
    case 'demo':
      runDemo(log);
      return;
    case 'compare':
      await runDefaultComparison({
        epochs: compareEpochs,
        outDir: v['out-dir'] ?? 'runs/default',
        log: logLine,
        onProgress,
      });
      return;
    case 'train': {
      const config = runConfig!;
      const data = await loadPolyphonic(config.dataset, { ...loadOptions, seed: 1 });
      const outDir = v['out-dir'] ?? `runs/train/${config.dataset}-${config.model}`;
      const r = await train(config, data, {
        outDir,
        resume: v.resume,
        overwrite: v.overwrite,
        log: logLine,
        onProgress,
      });
      progress.done();
      if (resultsFile && (r.epochs === config.epochs || r.stoppedEarly || r.diverged)) {
        // A finished run joins a results file that `report` reads, like a grid's.
        await appendResult(resultsFile, r);
        log(`appended to ${resultsFile}`);
      }
      log(
        `\n${config.model} on ${config.dataset}: ${r.rnnParams} RNN parameters; test NLL ${r.best.testNll.toFixed(3)} (accuracy ${r.best.testAccuracy.toFixed(3)}) at the best-validation epoch ${r.best.epoch} of ${r.epochs}; checkpoints in ${outDir}`,
      );
      return;
    }
    case 'grid': {
      const outDir = v['out-dir'] ?? 'runs/grid';
      await runGrid(gridRuns!, (d) => loadPolyphonic(d as DatasetName, loadOptions), outDir, {
        log: logLine,
        onProgress,
      });
      progress.done();
      log(`results in ${outDir}/results.jsonl`);
      return;
    }
    case 'compress': {
      const a = compressArgs!;
      const data = await loadPolyphonic(v.dataset as DatasetName, { ...loadOptions, seed: 1 });
      const scratchPath = resultsFile ?? 'results/grid/results.jsonl';
      const scratch = existsSync(scratchPath) ? readResults(scratchPath) : undefined;
      const rows = await runCompress({ ...a, data, log: logLine, onProgress, ...(scratch ? { scratch } : {}) });
      progress.done();
      const table = compressTable(rows, a.fineTuneEpochs);
      await mkdir(a.outDir, { recursive: true });
      await writeAtomic(join(a.outDir, 'compress.md'), `${table}\n`);
      await writeAtomic(join(a.outDir, 'compress.json'), `${JSON.stringify(rows, null, 1)}\n`);
      await writeAtomic(join(a.outDir, `${v.dataset}-compress.svg`), compressChart(rows, v.dataset));
      log(
        `\n${table}\n\nin ${a.outDir}: compress.md, compress.json, ${v.dataset}-compress.svg${scratch ? ` (from scratch: ${scratchPath})` : ''}`,
      );
      return;
    }
    case 'nll': {
      const { model, config } = await loadModel(v.from!).catch((e: Error) => {
        throw new UsageError(`--from ${v.from}: ${e.message}`);
      });
      try {
        if (config.dataset === 'synthetic')
          throw new UsageError('nll: the model was trained on the synthetic dataset; its NLL is in the train output');
        const test = (await loadPolyphonic(config.dataset, loadOptions)).splits.test;
        if (nllPiece === undefined) {
          const r = summarise(evaluate(model, test, 16));
          log(
            `${config.model} on the test split of ${config.dataset}: NLL ${r.nll.toFixed(4)} per frame (accuracy ${r.accuracy.toFixed(3)})`,
          );
        } else {
          let r: ReturnType<typeof pieceNll>;
          try {
            r = pieceNll(model, test, nllPiece);
          } catch (e) {
            throw new UsageError(`--piece: ${(e as Error).message} (the test split of ${config.dataset})`);
          }
          log(
            `${config.model} on test piece ${nllPiece} of ${config.dataset}: NLL ${r.nll.toFixed(4)} per frame over ${r.frames} frames (accuracy ${r.accuracy.toFixed(3)})`,
          );
        }
      } finally {
        model.dispose();
      }
      return;
    }
    case 'sample': {
      const o = sampleOptions!;
      const { model, config } = await loadModel(v.from!).catch((e: Error) => {
        throw new UsageError(`--from ${v.from}: ${e.message}`);
      });
      try {
        let primer: number[][] | undefined;
        if (o.primerPiece !== undefined) {
          if (config.dataset === 'synthetic')
            throw new UsageError(
              '--primer-piece: the model was trained on the synthetic dataset, which has no pieces to prime from',
            );
          const data = await loadPolyphonic(config.dataset, loadOptions);
          try {
            primer = pieceFrames(data.splits.test, o.primerPiece, o.primerFrames);
          } catch (e) {
            throw new UsageError(`--primer-piece: ${(e as Error).message} (the test split of ${config.dataset})`);
          }
        }
        const t0 = performance.now();
        const frames = samplePiece(model, {
          length: o.length,
          temperature: o.temperature,
          seed: o.seed,
          ...(primer ? { primer } : {}),
        });
        const ms = (performance.now() - t0) / o.length;
        const svgPath = v.out!.replace(/\.mid$/, '.svg');
        await writeAtomic(v.out!, framesToMidi(frames));
        await writeAtomic(svgPath, pianoRollSvg(frames, primer?.length ?? 0));
        log(
          `${frames.length} frames (${primer?.length ?? 0} of primer) from ${config.model} (${model.rnnParams()} RNN parameters) at temperature ${o.temperature}: ${v.out} and ${svgPath}; ${ms.toFixed(2)} ms per generated frame`,
        );
      } finally {
        model.dispose();
      }
      return;
    }
    case 'calibrate': {
      // The fastest of three measurements (by FLOP rate): the machine may be shared.
      const runs = [0, 1, 2].map(() => calibrate({ force: true }));
      const best = runs.reduce((a, b) => (b.flopsPerMs > a.flopsPerMs ? b : a));
      log(JSON.stringify(best));
      return;
    }
    case 'speed compress': {
      const baseline = process.memoryUsage().rss;
      const table = compressSpeedTable(runCompressSpeed());
      const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
      log(`compressMatrix (float64, on the CPU), random N(0, 1) matrices:\n\n${table}`);
      // maxRSS is in KiB: the process's peak over every conversion above, and its size before them.
      log(
        `peak resident memory over all conversions: ${mb(process.resourceUsage().maxRSS * 1024)} MB (the process held ${mb(baseline)} MB before the first)`,
      );
      return;
    }
    case 'speed epoch': {
      const dataset = datasetName(v.dataset);
      const data = await loadPolyphonic(dataset, { ...loadOptions, seed: 1 });
      const configs = paperGrid({
        datasets: [dataset],
        lrs: [5e-3],
        dropouts: [0.2],
        models: ['gru', 'cp-gru', 'tucker-gru', 'tt-gru', 'tr-gru', 'bt-gru'],
      }).filter(
        (c) =>
          !c.ranks ||
          c.ranks.includes(11) ||
          c.ranks.includes(6) ||
          c.model === 'tucker-gru' ||
          (c.model === 'bt-gru' && c.ranks[0] === 4),
      );
      const chosen = configs
        .filter((c) => c.model !== 'cp-gru' || c.rank === 80)
        .filter((c) => c.model !== 'tucker-gru' || c.ranks?.[1] === 4);
      // The same batch size for every model, so that the epochs compare.
      const batchSize = num('batch-size', v['batch-size'], 16, POSITIVE_INT);
      const gflops = largeMatmulGflops();
      logLine(`a large matMul (1024 x 1024 x 1024, best of 15): ${gflops.toFixed(1)} GFLOP/s`);
      const rounds = num('rounds', v.rounds, 2, POSITIVE_INT);
      const rows = await runEpochSpeed(
        chosen.map((c) => ({ ...c, batchSize })),
        data,
        (r) => logLine(`${r.model}: ${r.trainSeconds.toFixed(2)} s`),
        gflops,
        rounds,
      );
      log(`the fastest second epoch of ${rounds} round${rounds > 1 ? 's' : ''} per model (the models take turns):`);
      log(epochSpeedTable(rows, gflops));
      return;
    }
    case 'speed':
    case 'speed cells':
    case 'speed decomp': {
      if (command !== 'speed cells') {
        const rows = runDecompSpeed({ minMs });
        log(`Factorised matmuls (ms per call):\n\n${decompSpeedTable(rows)}`);
        const ok = rows.filter((r) => r.pickWithin10).length;
        log(
          `\nplanner's pick within 10% of the faster path: ${ok}/${rows.length} cases (${((100 * ok) / rows.length).toFixed(0)}%; target 90%)\n`,
        );
      }
      if (command !== 'speed decomp')
        log(`Cells, the paper's configuration:\n\n${cellSpeedTable(runCellSpeed({ minMs }))}`);
      return;
    }
  }
}

/** Starts `count` copies of this CLI with `args`, their output prefixed; resolves to the worst exit status. */
function runWorkers(count: number, args: string[], log: (line: string) => void): Promise<number> {
  const children = Array.from({ length: count }, (_, i) => {
    const child = spawn(process.execPath, [process.argv[1]!, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TENSORIZED_GRID_WORKER: String(i + 1) },
    });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => log(`[worker ${i + 1}] ${line}`));
    }
    return child;
  });
  const stop = (signal: NodeJS.Signals): void => {
    for (const c of children) c.kill(signal);
  };
  process.prependOnceListener('SIGINT', stop).prependOnceListener('SIGTERM', stop);
  return Promise.all(
    children.map((c) => new Promise<number>((done) => c.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0))))),
  ).then((codes) => Math.max(...codes));
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  // A preempted or interrupted job frees the run directories it holds, so that its runs resume at once
  // elsewhere (a scheduler's requeue; the checkpoints of finished epochs are kept).
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.on(signal, () => {
      releaseHeldLocks();
      process.exit(code);
    });
  }
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (
      error instanceof UsageError ||
      error instanceof MemoryBoundError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    ) {
      process.stderr.write(
        `tensorized-bench: ${(error as Error).message}\n\nRun 'tensorized-bench --help' for the options.\n`,
      );
      process.exit(2);
    }
    process.stderr.write(`tensorized-bench: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
