import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type CellConfig, type ModelName, paperCellConfig } from '@tensorized/cells';
import { type Calibration, calibrate, setCalibration } from '@tensorized/decomp';
import { type DatasetName, KEYS, makeBatch, type PolyphonicDataset, planBatches, type Split } from '@tensorized/datasets';
import { Adam } from './adam.js';
import { CheckpointError, loadCheckpoint, saveCheckpoint, writeAtomic } from './checkpoint.js';
import { addSums, batchSums, emptySums, type FrameSums, frameNll, summarise } from './metrics.js';
import { PolyphonicModel } from './model.js';

/** Everything that defines a training run (JSON). */
export interface RunConfig {
  dataset: DatasetName | 'synthetic';
  model: ModelName;
  /** TT ranks or Tucker ranks (default the paper's). */
  ranks?: number[];
  /** CP rank (default 80). */
  rank?: number;
  inputSize?: number;
  inputModes?: number[];
  hiddenSize?: number;
  hiddenModes?: number[];
  lr: number;
  dropout: number;
  batchSize: number;
  epochs: number;
  seed: number;
  /** Gradient-norm clipping (PAPER.md: 5). */
  clip: number;
  /** Cut longer pieces into chunks of this many frames (default: whole pieces). */
  maxLength?: number;
}

export interface EpochRecord {
  epoch: number;
  train: { nll: number; accuracy: number };
  valid: { nll: number; accuracy: number };
  test: { nll: number; accuracy: number };
  seconds: number;
  trainSeconds: number;
  framesPerSecond: number;
  /** tf.memory().numTensors after the epoch: constant across epochs when nothing leaks. */
  numTensors: number;
  /** Resident set size of the process after the epoch, MiB. */
  rssMiB: number;
}

export interface RunState {
  version: 1;
  config: RunConfig;
  /** Epochs completed. */
  epoch: number;
  history: EpochRecord[];
  best: { epoch: number; validNll: number; testNll: number; testAccuracy: number } | null;
  adamStep: number;
  rnnParams: number;
  /**
   * The planner's calibration of the backend the run started on: restored on resume, so that the
   * resumed process takes the same paths (and rounds the same way) as the one that was killed.
   */
  calibration?: Calibration;
}

export interface RunResult {
  config: RunConfig;
  rnnParams: number;
  epochs: number;
  best: NonNullable<RunState['best']>;
  history: EpochRecord[];
}

export interface Progress {
  epoch: number;
  epochs: number;
  batch: number;
  batches: number;
  loss: number;
}

export interface TrainOptions {
  outDir: string;
  /**
   * Continue from outDir's checkpoint (default: start over, replacing it). The configuration must be
   * the checkpoint's except for `epochs`, which may be raised to extend a run.
   */
  resume?: boolean;
  log?: (line: string) => void;
  onProgress?: (p: Progress) => void;
  /** Stop (as if killed) after this many epochs of this call: for tests of resuming. */
  stopAfterEpochs?: number;
}

export function cellConfigOf(config: RunConfig): CellConfig {
  const o: Parameters<typeof paperCellConfig>[1] = {};
  if (config.ranks) o.ranks = config.ranks;
  if (config.rank !== undefined) o.rank = config.rank;
  if (config.inputSize !== undefined) o.inputSize = config.inputSize;
  if (config.inputModes) o.inputModes = config.inputModes;
  if (config.hiddenSize !== undefined) o.hiddenSize = config.hiddenSize;
  if (config.hiddenModes) o.hiddenModes = config.hiddenModes;
  return paperCellConfig(config.model, o);
}

/** A batch as tensors: inputs (B, T, 88), targets (B*T, 88), mask (B, T) and its flat view. */
function batchTensors(split: Split, pieces: ReturnType<typeof planBatches>[number]) {
  const b = makeBatch(split, pieces);
  return {
    frames: b.frames,
    inputs: tf.tensor3d(b.inputs, [b.batchSize, b.length, 88]),
    targets: tf.tensor2d(b.targets, [b.batchSize * b.length, 88]),
    mask: tf.tensor2d(b.mask, [b.batchSize, b.length]),
  };
}

/**
 * The metric sums of a split, without dropout or gradients, over whole pieces: a piece longer than
 * `window` frames is run window by window with the state carried across (bounded memory, exact NLL).
 */
export function evaluate(model: PolyphonicModel, split: Split, batchSize: number, window = 256): FrameSums {
  let sums = emptySums();
  for (const pieces of planBatches(split, { batchSize, shuffle: false, bucket: true })) {
    const b = makeBatch(split, pieces);
    let state: tf.Tensor2D[] | undefined;
    for (let t0 = 0; t0 < b.length; t0 += window) {
      const w = Math.min(window, b.length - t0);
      // Rows t0 .. t0 + w of every piece, copied on the host (a slice on wasm copies the whole input).
      const part = (data: Float32Array, width: number): Float32Array => {
        const out = new Float32Array(b.batchSize * w * width);
        for (let r = 0; r < b.batchSize; r++) out.set(data.subarray((r * b.length + t0) * width, (r * b.length + t0 + w) * width), r * w * width);
        return out;
      };
      const inputs = tf.tensor3d(part(b.inputs, KEYS), [b.batchSize, w, KEYS]);
      const targets = tf.tensor2d(part(b.targets, KEYS), [b.batchSize * w, KEYS]);
      const mask = tf.tensor2d(part(b.mask, 1), [b.batchSize, w]);
      const out = model.window(inputs, mask, state);
      const flatMask = tf.reshape(mask, [-1]) as tf.Tensor1D;
      sums = addSums(sums, batchSums(out.logits, targets, flatMask));
      tf.dispose([out.logits, flatMask, inputs, targets, mask, ...(state ?? [])]);
      state = out.state;
    }
    tf.dispose(state ?? []);
  }
  return sums;
}

/** A seed per (run seed, epoch, batch) for dropout: a resumed run draws the same masks. */
const dropoutSeed = (seed: number, epoch: number, batch: number): number => (seed * 1_000_003 + epoch * 10_007 + batch) % 2_147_483_647;

/**
 * Trains one model on one dataset (PAPER.md's protocol): Adam with gradient-norm clipping, NLL per
 * frame on train (running, with dropout), valid and test after every epoch, a checkpoint after every
 * epoch (atomic), the best-validation weights kept. Resumable: the data order and dropout masks
 * depend only on (seed, epoch, batch), and the checkpoint holds the weights and Adam's state.
 */
export async function train(config: RunConfig, data: PolyphonicDataset, options: TrainOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  await mkdir(options.outDir, { recursive: true });
  const checkpointPath = join(options.outDir, 'checkpoint.safetensors');
  const model = new PolyphonicModel(cellConfigOf(config), config.seed);
  const named = model.namedVariables();
  const names = named.map(([n]) => n);
  const vars = named.map(([, v]) => v);
  const adam = new Adam(vars, { lr: config.lr, clip: config.clip });
  let state: RunState = { version: 1, config, epoch: 0, history: [], best: null, adamStep: 0, rnnParams: model.rnnParams(), calibration: calibrate() };
  try {
    if (options.resume && existsSync(checkpointPath)) {
      const loaded = await loadCheckpoint<RunState>(checkpointPath);
      // Only the number of epochs may change on resume: raising it extends a finished or shortened run.
      if (JSON.stringify({ ...loaded.state.config, epochs: 0 }) !== JSON.stringify({ ...config, epochs: 0 })) {
        throw new CheckpointError(`the checkpoint in ${options.outDir} was made with another configuration; use another output directory or drop --resume`);
      }
      const values = new Map([...loaded.tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)] as const));
      try {
        const missing = [...names, ...adam.state(names).map(([n]) => n)].filter((n) => !values.has(n));
        if (missing.length) throw new CheckpointError(`checkpoint ${checkpointPath} lacks ${missing.join(', ')}; it was not used`);
        for (const [n, v] of named) v.assign(values.get(n)!);
        adam.restore(names, values, loaded.state.adamStep);
      } finally {
        tf.dispose([...values.values()]);
      }
      state = { ...loaded.state, config };
      if (state.calibration?.backend === tf.getBackend()) setCalibration(state.calibration);
      else state.calibration = calibrate();
      log(`resumed from ${checkpointPath} after epoch ${state.epoch}`);
    }
    const { train: trainSplit, valid, test } = data.splits;
    let ran = 0;
    while (state.epoch < config.epochs) {
      if (options.stopAfterEpochs !== undefined && ran >= options.stopAfterEpochs) break;
      const epoch = state.epoch;
      const t0 = performance.now();
      const plan = planBatches(trainSplit, { batchSize: config.batchSize, seed: config.seed, epoch, bucket: true, ...(config.maxLength ? { maxLength: config.maxLength } : {}) });
      let trainSums = emptySums();
      for (const [i, pieces] of plan.entries()) {
        const t = batchTensors(trainSplit, pieces);
        const flatMask = tf.reshape(t.mask, [-1]) as tf.Tensor1D;
        const { value, grads } = tf.variableGrads(() => {
          const logits = model.logits(t.inputs, t.mask, config.dropout, dropoutSeed(config.seed, epoch, i));
          return tf.div(tf.sum(frameNll(logits, t.targets, flatMask)), t.frames) as tf.Scalar;
        }, vars);
        adam.apply(vars.map((v) => grads[v.name]!));
        const loss = value.dataSync()[0]!;
        trainSums = addSums(trainSums, { nll: loss * t.frames, frames: t.frames, tp: 0, fp: 0, fn: 0 });
        tf.dispose([value, ...Object.values(grads), flatMask, t.inputs, t.targets, t.mask]);
        if (!Number.isFinite(loss)) throw new Error(`training diverged: the loss is ${loss} at epoch ${epoch + 1}, batch ${i + 1}`);
        options.onProgress?.({ epoch: epoch + 1, epochs: config.epochs, batch: i + 1, batches: plan.length, loss });
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      const evalBatch = Math.max(config.batchSize, 32);
      const validM = summarise(evaluate(model, valid, evalBatch));
      const testM = summarise(evaluate(model, test, evalBatch));
      const record: EpochRecord = {
        epoch: epoch + 1,
        train: { nll: trainSums.nll / trainSums.frames, accuracy: Number.NaN },
        valid: validM,
        test: testM,
        seconds: (performance.now() - t0) / 1000,
        trainSeconds,
        framesPerSecond: trainSums.frames / trainSeconds,
        numTensors: tf.memory().numTensors,
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      };
      const improved = !state.best || validM.nll < state.best.validNll;
      state = {
        ...state,
        epoch: epoch + 1,
        history: [...state.history, record],
        best: improved ? { epoch: epoch + 1, validNll: validM.nll, testNll: testM.nll, testAccuracy: testM.accuracy } : state.best,
        adamStep: adam.step,
      };
      await saveCheckpoint(checkpointPath, [...named, ...adam.state(names)], state);
      if (improved) await saveCheckpoint(join(options.outDir, 'best.safetensors'), named, state);
      await writeAtomic(join(options.outDir, 'history.json'), `${JSON.stringify(state.history, null, 1)}\n`);
      log(
        `epoch ${record.epoch}/${config.epochs}  train ${record.train.nll.toFixed(3)}  valid ${validM.nll.toFixed(3)} (acc ${validM.accuracy.toFixed(3)})  ` +
          `test ${testM.nll.toFixed(3)} (acc ${testM.accuracy.toFixed(3)})  ${record.seconds.toFixed(1)} s  ${Math.round(record.framesPerSecond)} frames/s${improved ? '  *best' : ''}`,
      );
      ran++;
    }
    return { config, rnnParams: state.rnnParams, epochs: state.epoch, best: state.best!, history: state.history };
  } finally {
    adam.dispose();
    model.dispose();
  }
}
