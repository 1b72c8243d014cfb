import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  balancedModes,
  type CompressSpec,
  compressCell,
  createCell,
  gateCount,
  type ModelName,
} from '@tensorized/cells';
import type { CompressReport } from '@tensorized/decomp';
import type { PolyphonicDataset } from '@tensorized/datasets';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, loadCheckpoint, writeAtomic } from './checkpoint.js';
import type { ResultLine } from './grid.js';
import { summarise } from './metrics.js';
import { PolyphonicModel } from './model.js';
import { selectOnValidation, shade } from './report.js';
import { validateRunConfig } from './run_state.js';
import { lineChart, type Series } from './svg.js';
import { markdownTable } from './table.js';
import {
  cellConfigOf,
  evaluate,
  initialWeightsHash,
  type Progress,
  type RunConfig,
  type RunState,
  train,
} from './train.js';

export type CompressTarget = 'tt' | 'cp' | 'tucker';

export interface CompressRunOptions {
  /** A dense model's checkpoint (best.safetensors or checkpoint.safetensors of a `train` run). */
  from: string;
  data: PolyphonicDataset;
  formats: readonly CompressTarget[];
  /** RNN parameter budgets (W + U + one bias, the paper's count), each split evenly between W and U. */
  budgets: readonly number[];
  fineTuneEpochs: number;
  lr: number;
  dropout: number;
  batchSize: number;
  seed: number;
  window?: number;
  /** Modes of the compressed cell (default: the paper's at its sizes, else balanced). */
  inputModes?: number[];
  hiddenModes?: number[];
  outDir: string;
  /** A grid's results, for the from-scratch column (the configuration of the format nearest the budget). */
  scratch?: readonly ResultLine[];
  log?: (line: string) => void;
  onProgress?: (p: Progress) => void;
}

export interface CompressRow {
  format: CompressTarget;
  budget: number;
  rnnParams: number;
  ranks: { W: number[]; U: number[] };
  error: { W: number; U: number };
  conversionSeconds: number;
  /** Right after conversion, before any fine-tuning. */
  converted: { validNll: number; testNll: number };
  /** Test NLL after each fine-tuning epoch. */
  testNll: number[];
  validNll: number[];
  /** At the best validation epoch of the fine-tuning (the conversion counts as epoch 0). */
  best: { epoch: number; validNll: number; testNll: number };
  scratch?: { key: string; rnnParams: number; testNll: number; bestEpoch: number; testNllWithin: number };
}

/** What converted.safetensors holds besides the weights. */
interface ConversionState {
  config: RunConfig;
  reports: { W: CompressReport; U: CompressReport };
  converted: { validNll: number; testNll: number };
  from: string;
}

/**
 * Compresses a trained dense GRU/LSTM to each format at each budget (compressCell: TT-SVD, CP-ALS,
 * HOOI), evaluates it right after the conversion, and fine-tunes it for `fineTuneEpochs` epochs (a
 * `train` run that starts from the converted weights, with checkpoints; run again, it resumes). Each
 * (format, budget) lives in outDir/<format>-<budget>: converted.safetensors (the converted model and
 * its report, written once) and the run's files.
 */
export async function runCompress(o: CompressRunOptions): Promise<CompressRow[]> {
  const log = o.log ?? (() => {});
  // A checkpoint or a best.safetensors (whose state is the run up to its best epoch).
  const dense = await loadCheckpoint<Pick<RunState, 'config'>>(o.from, (s) =>
    validateRunConfig((s as { config?: unknown }).config),
  );
  const denseConfig = dense.state.config;
  if (denseConfig.model !== 'gru' && denseConfig.model !== 'lstm') {
    throw new CheckpointError(`${o.from} is a ${denseConfig.model} model; compress takes a dense gru or lstm`);
  }
  const kind = denseConfig.model;
  const hiddenSize = denseConfig.hiddenSize ?? 512;
  const rows: CompressRow[] = [];
  for (const format of o.formats) {
    for (const budget of o.budgets) {
      const dir = join(o.outDir, `${format}-${budget}`);
      await mkdir(dir, { recursive: true });
      const convertedPath = join(dir, 'converted.safetensors');
      let conversion: ConversionState;
      let weights: Map<string, tf.Tensor>;
      let seconds = 0;
      if (existsSync(convertedPath)) {
        const c = decodeCheckpoint<ConversionState>(new Uint8Array(await readFile(convertedPath)), convertedPath);
        conversion = c.state;
        weights = new Map([...c.tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)]));
        log(`${format} at ${budget}: the conversion in ${convertedPath}`);
      } else {
        const t0 = performance.now();
        ({ conversion, weights } = convert(dense.tensors, denseConfig, kind, format, budget, hiddenSize, o));
        seconds = (performance.now() - t0) / 1000;
        // The NLL right after the conversion, before any training.
        const model = new PolyphonicModel(cellConfigOf(conversion.config), o.seed);
        try {
          for (const [n, v] of model.namedVariables()) v.assign(weights.get(n)!);
          const evalBatch = Math.max(o.batchSize, 32);
          conversion.converted = {
            validNll: summarise(evaluate(model, o.data.splits.valid, evalBatch)).nll,
            testNll: summarise(evaluate(model, o.data.splits.test, evalBatch)).nll,
          };
        } finally {
          model.dispose();
        }
        await writeAtomic(convertedPath, encodeCheckpoint([...weights], conversion));
        log(
          `${format} at ${budget}: converted in ${seconds.toFixed(1)} s (W ${conversion.reports.W.relativeError.toFixed(3)}, U ${conversion.reports.U.relativeError.toFixed(3)} relative error), valid NLL ${conversion.converted.validNll.toFixed(3)}, test NLL ${conversion.converted.testNll.toFixed(3)}`,
        );
      }
      try {
        const history =
          o.fineTuneEpochs > 0
            ? (
                await train(conversion.config, o.data, {
                  outDir: dir,
                  resume: 'if-present',
                  initialWeights: weights,
                  log,
                  ...(o.onProgress ? { onProgress: o.onProgress } : {}),
                })
              ).history
            : [];
        const validNll = history.map((h) => h.valid.nll);
        const testNll = history.map((h) => h.test.nll);
        let best = { epoch: 0, validNll: conversion.converted.validNll, testNll: conversion.converted.testNll };
        history.forEach((h) => {
          if (h.valid.nll < best.validNll) best = { epoch: h.epoch, validNll: h.valid.nll, testNll: h.test.nll };
        });
        // The paper's count: W + U + one bias.
        const rnnParams = conversion.reports.W.params + conversion.reports.U.params + gateCount(kind) * hiddenSize;
        rows.push({
          format,
          budget,
          rnnParams,
          ranks: { W: conversion.reports.W.ranks, U: conversion.reports.U.ranks },
          error: { W: conversion.reports.W.relativeError, U: conversion.reports.U.relativeError },
          conversionSeconds: seconds || conversion.reports.W.seconds + conversion.reports.U.seconds,
          converted: conversion.converted,
          testNll,
          validNll,
          best,
          ...(o.scratch ? fromScratch(o.scratch, denseConfig.dataset, format, rnnParams, o.fineTuneEpochs) : {}),
        });
      } finally {
        tf.dispose([...weights.values()]);
      }
    }
  }
  return rows;
}

/** The dense cell of a checkpoint, compressed; the model's other weights kept. */
function convert(
  tensors: ReadonlyMap<string, { shape: number[]; data: Float32Array }>,
  denseConfig: RunConfig,
  kind: 'gru' | 'lstm',
  format: CompressTarget,
  budget: number,
  hiddenSize: number,
  o: CompressRunOptions,
): { conversion: ConversionState; weights: Map<string, tf.Tensor> } {
  const denseCell = createCell(cellConfigOf(denseConfig));
  const bias = gateCount(kind) * hiddenSize;
  const perMatrix = Math.floor((budget - bias) / 2);
  if (perMatrix < 1) throw new RangeError(`--budgets: ${budget} does not even hold the bias (${bias} parameters)`);
  try {
    const cellWeights = Object.fromEntries(
      denseCell
        .namedVariables()
        .map(([n]) => [n, tf.tensor(tensors.get(`cell.${n}`)!.data, tensors.get(`cell.${n}`)!.shape)]),
    );
    denseCell.setWeights(cellWeights);
    tf.dispose(Object.values(cellWeights));
    const spec: CompressSpec = { format, budget: perMatrix };
    // The paper's modes at the paper's sizes (256 = 4x4x4x4, 512 = 8x4x4x4), else 4 balanced ones.
    const inputModes = o.inputModes ?? denseConfig.inputModes ?? balancedModes(denseConfig.inputSize ?? 256, 4);
    const hiddenModes = o.hiddenModes ?? denseConfig.hiddenModes ?? balancedModes(hiddenSize, 4);
    const { cell, reports } = compressCell(denseCell, {
      input: spec,
      recurrent: spec,
      inputModes,
      hiddenModes,
      maxIter: 30,
    });
    try {
      const model: ModelName = `${format}-${kind}`;
      const weights = new Map<string, tf.Tensor>();
      for (const n of ['in.W', 'in.b', 'out.W', 'out.b'])
        weights.set(n, tf.tensor(tensors.get(n)!.data, tensors.get(n)!.shape));
      for (const [n, v] of cell.namedVariables()) weights.set(`cell.${n}`, tf.clone(v));
      const config: RunConfig = {
        dataset: denseConfig.dataset,
        model,
        ...(denseConfig.inputSize !== undefined ? { inputSize: denseConfig.inputSize } : {}),
        inputModes,
        ...(denseConfig.hiddenSize !== undefined ? { hiddenSize: denseConfig.hiddenSize } : {}),
        hiddenModes,
        weights: { input: cell.config.input, recurrent: cell.config.recurrent },
        lr: o.lr,
        dropout: o.dropout,
        batchSize: o.batchSize,
        epochs: Math.max(1, o.fineTuneEpochs),
        seed: o.seed,
        clip: 5,
        ...(o.window ? { window: o.window } : {}),
        initialWeights: initialWeightsHash(weights),
      };
      return {
        conversion: {
          config,
          reports: { W: reports.W!, U: reports.U! },
          converted: { validNll: Number.NaN, testNll: Number.NaN },
          from: o.from,
        },
        weights,
      };
    } finally {
      cell.dispose();
    }
  } finally {
    denseCell.dispose();
  }
}

/** The grid's run of the same format nearest the budget (selected on validation, first seed). */
function fromScratch(
  results: readonly ResultLine[],
  dataset: string,
  format: CompressTarget,
  rnnParams: number,
  epochs: number,
): Pick<CompressRow, 'scratch'> {
  const candidates = selectOnValidation(results).filter(
    (r) => r.config.dataset === dataset && r.config.model === `${format}-gru` && !r.config.weights,
  );
  if (!candidates.length) return {};
  const r = candidates.reduce((a, b) =>
    Math.abs(b.rnnParams - rnnParams) < Math.abs(a.rnnParams - rnnParams) ? b : a,
  );
  const within = r.history.slice(0, epochs);
  const bestWithin = within.reduce((a, b) => (b.valid.nll < a.valid.nll ? b : a), within[0]!);
  return {
    scratch: {
      key: r.key,
      rnnParams: r.rnnParams,
      testNll: r.best.testNll,
      bestEpoch: r.best.epoch,
      testNllWithin: bestWithin?.test.nll ?? Number.NaN,
    },
  };
}

export function compressTable(rows: readonly CompressRow[], epochs: number): string {
  return markdownTable(
    [
      'format',
      'budget',
      'RNN params',
      'ranks W / U',
      'rel. error W / U',
      'conversion s',
      'test NLL converted',
      `test NLL fine-tuned (best of ${epochs})`,
      'at epoch',
      'from scratch (grid)',
      `from scratch, first ${epochs} epochs`,
    ],
    rows.map((r) => [
      r.format,
      r.budget,
      r.rnnParams,
      `${r.ranks.W.join(',')} / ${r.ranks.U.join(',')}`,
      `${r.error.W.toFixed(3)} / ${r.error.U.toFixed(3)}`,
      r.conversionSeconds.toFixed(1),
      r.converted.testNll.toFixed(3),
      r.best.testNll.toFixed(3),
      r.best.epoch,
      r.scratch
        ? `${r.scratch.testNll.toFixed(3)} (${r.scratch.rnnParams} params, best epoch ${r.scratch.bestEpoch})`
        : '',
      r.scratch ? r.scratch.testNllWithin.toFixed(3) : '',
    ]),
  );
}

export function compressChart(rows: readonly CompressRow[], dataset: string): string {
  const colors: Record<CompressTarget, string> = { tt: '#1b9e77', cp: '#d95f02', tucker: '#7570b3' };
  const series: Series[] = rows.map((r, i) => ({
    name: `${r.format} ${r.rnnParams}`,
    color: shade(colors[r.format], i),
    // From the first fine-tuning epoch: the converted models' NLL (10 to 40) would flatten the rest.
    points: r.testNll.map((v, e) => [e + 1, v] as [number, number]),
  }));
  return lineChart(series, {
    title: `${dataset}: test NLL per fine-tuning epoch (after conversion: see the table)`,
    xLabel: 'fine-tuning epoch',
    yLabel: 'test NLL per frame',
  });
}
