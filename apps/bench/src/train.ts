import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type ModelName, storedShape, type WeightSpec } from '@tensorized/cells';
import { type Calibration, calibrate, setCalibration } from '@tensorized/decomp';
import {
  type DatasetName,
  KEYS,
  makeBatch,
  type PolyphonicDataset,
  orderedBatches,
  type Split,
} from '@tensorized/datasets';
import { Adam } from './adam.js';
import {
  CheckpointError,
  encodeCheckpoint,
  loadCheckpoint,
  removeOrphanTemps,
  saveCheckpoint,
  writeAtomic,
} from './checkpoint.js';
import { validateRunState } from './run_state.js';
import { addSums, emptySums, frameNll, summarise } from './metrics.js';
import { cellConfigOf, evaluate, windowTensors } from './evaluate.js';
import { PolyphonicModel } from './model.js';

export { cellConfigOf, evaluate, windowTensors };
import { lockRunDir, touchLock } from './run_lock.js';

/** Everything that defines a training run (JSON). */
export interface RunConfig {
  dataset: DatasetName | 'synthetic';
  model: ModelName;
  /** TT, TR, Tucker or BT ranks (default the paper's, or cells' PAPER_SPECS beyond it). */
  ranks?: number[];
  /** CP rank (default 80). */
  rank?: number;
  /** BT: the number of blocks (default 6). */
  blocks?: number;
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
  /** Cut longer pieces into chunks of this many frames, each from a zero state (default: whole pieces). */
  maxLength?: number;
  /**
   * Truncated backpropagation through time: train whole pieces in windows of this many frames, each
   * starting from the previous window's final state (gradients stop at the boundary), one Adam step
   * per window (default: one window per batch).
   */
  window?: number;
  /** Early stopping: end the run when validation has not improved for this many epochs (default off). */
  patience?: number;
  /** W's and U's formats in full (as createCell takes them), in place of ranks/rank: e.g. a compressed model's. */
  weights?: { input: WeightSpec; recurrent: WeightSpec };
  /** sha256 of the weights the run started from (TrainOptions.initialWeights), instead of a random initialisation. */
  initialWeights?: string;
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
  /** 1: best weights only in best.safetensors; 2: also in the checkpoint (`best/<name>`). */
  version: 1 | 2;
  config: RunConfig;
  /** sha256 of the dataset's splits (version 2): a resume with other data is refused. */
  dataHash?: string;
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
  /** Set when early stopping ended the run: the epoch after which it stopped. */
  stoppedEarly?: number;
}

export interface RunResult {
  config: RunConfig;
  rnnParams: number;
  epochs: number;
  /** The run ended early (config.patience epochs without a better validation NLL). */
  stoppedEarly?: boolean;
  /**
   * The run ended because the training loss became NaN or infinite at this epoch and batch; its
   * result is the best epoch before (the weights of the diverged epoch are not kept).
   */
  diverged?: { epoch: number; batch: number; loss: number };
  /** Nothing was done: `skipIf` said so once the run directory was locked. */
  skipped?: boolean;
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
  resume?: boolean | 'if-present';
  /** The most bytes a training step may hold (default DEFAULT_MEMORY_LIMIT): larger configurations are refused before training. */
  memoryLimitBytes?: number;
  /**
   * The weights a new run starts from, by variable name (`in.W`, `cell.W.core0`, ...; every variable):
   * for fine-tuning. config.initialWeights must be their sha256 (initialWeightsHash). Not used on resume.
   */
  initialWeights?: ReadonlyMap<string, tf.Tensor>;
  /** Start over in a directory that already holds a run, replacing it (default: refuse). */
  overwrite?: boolean;
  /** Checked once the run directory is locked: when true, nothing is trained (the result says skipped). */
  skipIf?: () => boolean;
  log?: (line: string) => void;
  onProgress?: (p: Progress) => void;
  /** Stop (as if killed) after this many epochs of this call: for tests of resuming. */
  stopAfterEpochs?: number;
}

/** The most a training step may hold by default: the wasm heap ends at 4 GiB, with copies beside the tape. */
export const DEFAULT_MEMORY_LIMIT = 2.5 * 2 ** 30;

export class MemoryBoundError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = 'MemoryBoundError';
  }
}

/**
 * Refuses, before any training, a configuration whose longest training window would hold more than
 * `limit` bytes at once: the gradient tape grows with batch x window frames. The bytes per frame come
 * from two short measured steps (tf.profile's peak at 8 and 16 frames), so they hold for any model.
 */
export async function checkTrainingMemory(
  model: PolyphonicModel,
  config: RunConfig,
  split: Split,
  limit: number,
): Promise<void> {
  let longest = 0;
  for (let q = 0; q < split.sequenceCount; q++)
    longest = Math.max(longest, split.seqStart[q + 1]! - split.seqStart[q]! - 1);
  const frames = Math.min(longest, config.window ?? Infinity, config.maxLength ?? Infinity);
  const rows = Math.min(config.batchSize, split.sequenceCount);
  if (rows * frames <= 4096) return; // far below any limit: not worth a probe
  const vars = model.namedVariables().map(([, v]) => v);
  const peak = async (length: number): Promise<number> => {
    const inputs = tf.zeros([rows, length, KEYS]) as tf.Tensor3D;
    const mask = tf.ones([rows, length]) as tf.Tensor2D;
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(
        () => tf.sum(model.logits(inputs, mask, config.dropout, 1)) as tf.Scalar,
        vars,
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([inputs, mask]);
    return info.peakBytes;
  };
  const [p8, p16] = [await peak(8), await peak(16)];
  const perFrame = Math.max(0, (p16 - p8) / 8);
  const need = p8 + perFrame * (frames - 8);
  if (need > limit) {
    const fits = Math.max(1, Math.floor((limit - p8) / perFrame) + 8);
    const gib = (x: number) => `${(x / 2 ** 30).toFixed(1)} GiB`;
    throw new MemoryBoundError(
      `training ${config.model} on pieces of up to ${frames} frames at batch ${rows} would hold about ${gib(need)} at once (measured: ${(perFrame / rows / 1024).toFixed(0)} KiB per frame of a sequence), ` +
        `more than the ${gib(limit)} allowed; train in windows with --window ${Math.min(200, fits)} (truncated BPTT, the state carried across; at most ${fits} frames fit) or cut the pieces with --max-length`,
    );
  }
}

/** sha256 of named weights (names and float32 data, in name order): what config.initialWeights holds. */
export function initialWeightsHash(weights: ReadonlyMap<string, tf.Tensor>): string {
  const hash = createHash('sha256');
  for (const name of [...weights.keys()].sort()) {
    const data = weights.get(name)!.dataSync() as Float32Array;
    hash.update(name).update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** sha256 of a dataset's three splits (their key, step and sequence arrays). */
export function datasetHash(data: PolyphonicDataset): string {
  const hash = createHash('sha256');
  for (const name of ['train', 'valid', 'test'] as const) {
    const split = data.splits[name];
    for (const a of [split.seqStart, split.stepStart, split.keys])
      hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
  return hash.digest('hex');
}

/** JSON with the keys of every object sorted: equal for equal configurations, however they were built. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/** The files of a run directory. */
export const RUN_FILES = ['checkpoint.safetensors', 'best.safetensors', 'history.json'] as const;

/** A seed per (run seed, epoch, batch) for dropout: a resumed run draws the same masks. */
const dropoutSeed = (seed: number, epoch: number, batch: number, window: number): number =>
  (seed * 1_000_003 + epoch * 10_007 + batch + window * 7_919_993) % 2_147_483_647;

/**
 * Trains one model on one dataset (PAPER.md's protocol): Adam with gradient-norm clipping, NLL per
 * frame on train (running, with dropout), valid and test after every epoch, a checkpoint after every
 * epoch (atomic), the best-validation weights kept. Resumable: the data order and dropout masks
 * depend only on (seed, epoch, batch), and the checkpoint holds the weights and Adam's state.
 */
export async function train(config: RunConfig, data: PolyphonicDataset, options: TrainOptions): Promise<RunResult> {
  await mkdir(options.outDir, { recursive: true });
  const release = lockRunDir(options.outDir);
  try {
    if (options.skipIf?.())
      return {
        config,
        rnnParams: 0,
        epochs: 0,
        best: { epoch: 0, validNll: Number.NaN, testNll: Number.NaN, testAccuracy: Number.NaN },
        history: [],
        skipped: true,
      };
    return await trainLocked(config, data, options);
  } finally {
    release();
  }
}

async function trainLocked(config: RunConfig, data: PolyphonicDataset, options: TrainOptions): Promise<RunResult> {
  const log = options.log ?? (() => {});
  const dir = options.outDir;
  const checkpointPath = join(dir, 'checkpoint.safetensors');
  const present = RUN_FILES.filter((f) => existsSync(join(dir, f)));
  if (options.resume === true && !present.includes('checkpoint.safetensors')) {
    throw new CheckpointError(
      `--resume: there is no checkpoint in ${dir} to resume from; drop --resume to start a new run`,
    );
  }
  if (!options.resume && present.length > 0 && !options.overwrite) {
    throw new CheckpointError(
      `${dir} already holds a run (${present.join(', ')}); resume it with --resume, replace it with --overwrite, or use another --out-dir`,
    );
  }
  // Told to overwrite: the old run goes first, so that a kill before the first epoch cannot leave
  // a directory that mixes two runs.
  if (!options.resume && options.overwrite) await Promise.all(present.map((f) => rm(join(dir, f), { force: true })));
  const orphans = await removeOrphanTemps(dir);
  if (orphans.length)
    log(
      `removed ${orphans.length} temporary file${orphans.length > 1 ? 's' : ''} left by a killed process: ${orphans.join(', ')}`,
    );
  const dataHash = datasetHash(data);
  if (data.splits.train.stepCount - data.splits.train.sequenceCount < 1) {
    throw new RangeError(
      `the training split of ${data.name} has no frame to predict (every sequence is shorter than 2 steps)`,
    );
  }
  const model = new PolyphonicModel(cellConfigOf(config), config.seed);
  try {
    await checkTrainingMemory(model, config, data.splits.train, options.memoryLimitBytes ?? DEFAULT_MEMORY_LIMIT);
  } catch (e) {
    model.dispose();
    throw e;
  }
  const named = model.namedVariables();
  const names = named.map(([n]) => n);
  const vars = named.map(([, v]) => v);
  const adam = new Adam(vars, { lr: config.lr, clip: config.clip });
  // The best-validation weights, kept in memory and in the checkpoint (best.safetensors is a copy);
  // allocated from the start, so that the tensor count is the same after every epoch.
  let bestWeights: tf.Tensor[] = vars.map((v) => tf.clone(v));
  let state: RunState = {
    version: 2,
    config,
    dataHash,
    epoch: 0,
    history: [],
    best: null,
    adamStep: 0,
    rnnParams: model.rnnParams(),
    calibration: calibrate(),
  };
  try {
    if (options.initialWeights && !(options.resume && present.includes('checkpoint.safetensors'))) {
      const missing = names.filter((n) => !options.initialWeights!.has(n));
      if (missing.length) throw new RangeError(`initialWeights lacks ${missing.join(', ')}`);
      if (config.initialWeights !== initialWeightsHash(options.initialWeights))
        throw new RangeError('config.initialWeights must be the sha256 of options.initialWeights (initialWeightsHash)');
      for (const [n, v] of named) v.assign(options.initialWeights.get(n)!);
      tf.dispose(bestWeights);
      bestWeights = vars.map((v) => tf.clone(v));
    }
    if (options.resume && present.includes('checkpoint.safetensors')) {
      const loaded = await loadCheckpoint<RunState>(checkpointPath, validateRunState);
      // Only the number of epochs may change on resume: raising it extends a finished or shortened run.
      if (canonicalJson({ ...loaded.state.config, epochs: 0 }) !== canonicalJson({ ...config, epochs: 0 })) {
        throw new CheckpointError(
          `the checkpoint in ${dir} was made with another configuration; use another output directory or drop --resume`,
        );
      }
      if (loaded.state.dataHash !== undefined && loaded.state.dataHash !== dataHash) {
        throw new CheckpointError(
          `the checkpoint in ${dir} was made with other data (sha256 ${loaded.state.dataHash.slice(0, 12)}..., these files give ${dataHash.slice(0, 12)}...); resume with the data it was trained on, or start a new run`,
        );
      }
      const tensors = new Map(loaded.tensors);
      if (loaded.state.version === 1 && loaded.state.best) {
        // Checkpoints from before version 2 keep the best weights only in best.safetensors.
        const best = await loadCheckpoint<RunState>(join(dir, 'best.safetensors')).catch(() => undefined);
        if (best?.state.epoch !== loaded.state.best.epoch) {
          throw new CheckpointError(
            `${dir}: best.safetensors is not from the checkpoint's best epoch ${loaded.state.best.epoch} (an older checkpoint format, killed between writes); the best weights are lost: start the run again`,
          );
        }
        for (const n of names) if (best.tensors.has(n)) tensors.set(`${BEST}${n}`, best.tensors.get(n)!);
      }
      const wanted = [
        ...names,
        ...adam.state(names).map(([n]) => n),
        ...(loaded.state.best ? names.map((n) => `${BEST}${n}`) : []),
      ];
      const missing = wanted.filter((n) => !tensors.has(n));
      if (missing.length)
        throw new CheckpointError(`checkpoint ${checkpointPath} lacks ${missing.join(', ')}; it was not used`);
      // The shape each stored tensor is read in: its variable's (a Tucker core of an older checkpoint
      // is stored 2-D; see storedShape), for the weights, their Adam moments and the best weights.
      const shapeOfVar = new Map(named.map(([n, v]) => [n, v.shape]));
      const varOf = (n: string): string => n.replace(/^(adam\.[mv]\/|best\/)/, '');
      const readShape = (n: string): number[] => storedShape(n, tensors.get(n)!.shape, shapeOfVar.get(varOf(n))!);
      const shapeOff = wanted.find((n) => JSON.stringify(readShape(n)) !== JSON.stringify(shapeOfVar.get(varOf(n))));
      if (shapeOff)
        throw new CheckpointError(
          `checkpoint ${checkpointPath} has '${shapeOff}' of shape [${tensors.get(shapeOff)!.shape.join(', ')}], the model needs [${shapeOfVar.get(varOf(shapeOff))!.join(', ')}]; it was not used`,
        );
      const values = new Map(wanted.map((n) => [n, tf.tensor(tensors.get(n)!.data, readShape(n))] as const));
      try {
        for (const [n, v] of named) v.assign(values.get(n)!);
        adam.restore(names, values, loaded.state.adamStep);
        if (loaded.state.best) {
          tf.dispose(bestWeights);
          bestWeights = names.map((n) => tf.clone(values.get(`${BEST}${n}`)!));
        }
      } finally {
        tf.dispose([...values.values()]);
      }
      state = { ...loaded.state, version: 2, dataHash, config };
      if (state.calibration?.backend === tf.getBackend()) setCalibration(state.calibration);
      else state.calibration = calibrate();
      log(`resumed from ${checkpointPath} after epoch ${state.epoch}`);
      // A kill between the checkpoint and its copies leaves the copies one epoch behind: repair them.
      for (const fixed of await repairCopies(dir, state, names, bestWeights))
        log(`repaired ${fixed} from the checkpoint`);
    }
    const { train: trainSplit, valid, test } = data.splits;
    let ran = 0;
    let diverged: RunResult['diverged'];
    // Fault injection for tests of a diverging run: TENSORIZED_NAN_AT=<epoch>,<batch> (from 1) takes
    // the loss of that batch as NaN, as a real divergence gives it.
    const nanAt = (process.env['TENSORIZED_NAN_AT'] ?? '').split(',').map(Number);
    while (state.epoch < config.epochs && state.stoppedEarly === undefined && !diverged) {
      if (options.stopAfterEpochs !== undefined && ran >= options.stopAfterEpochs) break;
      const epoch = state.epoch;
      const t0 = performance.now();
      const plan = orderedBatches(trainSplit, {
        batchSize: config.batchSize,
        seed: config.seed,
        epoch,
        bucket: true,
        ...(config.maxLength ? { maxLength: config.maxLength } : {}),
      });
      let trainSums = emptySums();
      for (const [i, pieces] of plan.entries()) {
        const b = makeBatch(trainSplit, pieces);
        const window = config.window ?? b.length;
        // Truncated BPTT: each window starts from the state the previous one ended in, as a constant
        // (the gradient stops at the boundary); one Adam step per window.
        let carried: tf.Tensor2D[] | undefined;
        for (let w = 0, t0 = 0; t0 < b.length; w++, t0 += window) {
          const t = windowTensors(b, t0, Math.min(window, b.length - t0));
          const flatMask = tf.reshape(t.mask, [-1]) as tf.Tensor1D;
          let next: tf.Tensor2D[] = [];
          const { value, grads } = tf.variableGrads(() => {
            const out = model.window(t.inputs, t.mask, carried, config.dropout, dropoutSeed(config.seed, epoch, i, w));
            next = out.state.map((x) => tf.keep(x));
            return tf.div(tf.sum(frameNll(out.logits, t.targets, flatMask)), t.frames) as tf.Scalar;
          }, vars);
          adam.apply(vars.map((v) => grads[v.name]!));
          const loss = nanAt[0] === epoch + 1 && nanAt[1] === i + 1 ? Number.NaN : value.dataSync()[0]!;
          trainSums = addSums(trainSums, { nll: loss * t.frames, frames: t.frames, tp: 0, fp: 0, fn: 0 });
          tf.dispose([value, ...Object.values(grads), flatMask, t.inputs, t.targets, t.mask, ...(carried ?? [])]);
          carried = next;
          if (!Number.isFinite(loss)) {
            tf.dispose(carried);
            const what = `training diverged: the loss is ${loss} at epoch ${epoch + 1}, batch ${i + 1}`;
            // Nothing to fall back on in the first epoch; later, the run ends at its best epoch so
            // far, and the checkpoint of the last whole epoch stays as it was (the weights are now NaN).
            if (!state.best) throw new Error(what);
            diverged = { epoch: epoch + 1, batch: i + 1, loss };
            carried = undefined;
            log(
              `${what}; the run ends with its best epoch so far, ${state.best.epoch} (checkpoint after epoch ${state.epoch} kept)`,
            );
            break;
          }
        }
        tf.dispose(carried ?? []);
        if (diverged) break;
        options.onProgress?.({
          epoch: epoch + 1,
          epochs: config.epochs,
          batch: i + 1,
          batches: plan.length,
          loss: trainSums.nll / trainSums.frames,
        });
        // A turn of the event loop per batch: the batch loop is otherwise synchronous, and a SIGTERM
        // (a scheduler's preemption, Ctrl-C) would wait for the end of the epoch to be handled.
        await new Promise<void>((done) => setImmediate(done));
      }
      if (diverged) break;
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
      if (improved) {
        tf.dispose(bestWeights);
        bestWeights = vars.map((v) => tf.clone(v));
      }
      state = {
        ...state,
        epoch: epoch + 1,
        history: [...state.history, record],
        best: improved
          ? { epoch: epoch + 1, validNll: validM.nll, testNll: testM.nll, testAccuracy: testM.accuracy }
          : state.best,
        adamStep: adam.step,
      };
      const sinceBest = state.epoch - state.best!.epoch;
      if (config.patience !== undefined && sinceBest >= config.patience && state.epoch < config.epochs)
        state.stoppedEarly = state.epoch;
      // The checkpoint is the run (weights, Adam, best weights, history); written first, it is the
      // commit point. best.safetensors and history.json are copies of it, written after.
      await saveCheckpoint(
        checkpointPath,
        [...named, ...adam.state(names), ...names.map((n, i) => [`${BEST}${n}`, bestWeights[i]!] as const)],
        state,
      );
      if (improved) await writeBestCopy(dir, state, names, bestWeights);
      await writeHistoryCopy(dir, state);
      touchLock(dir);
      log(
        `epoch ${record.epoch}/${config.epochs}  train ${record.train.nll.toFixed(3)}  valid ${validM.nll.toFixed(3)} (acc ${validM.accuracy.toFixed(3)})  ` +
          `test ${testM.nll.toFixed(3)} (acc ${testM.accuracy.toFixed(3)})  ${record.seconds.toFixed(1)} s  ${Math.round(record.framesPerSecond)} frames/s${improved ? '  *best' : ''}`,
      );
      if (state.stoppedEarly !== undefined)
        log(
          `stopped early after epoch ${state.epoch}: no better validation NLL for ${config.patience} epochs (best at epoch ${state.best!.epoch})`,
        );
      ran++;
    }
    return {
      config,
      rnnParams: state.rnnParams,
      epochs: state.epoch,
      best: state.best!,
      history: state.history,
      ...(state.stoppedEarly !== undefined ? { stoppedEarly: true } : {}),
      ...(diverged ? { diverged } : {}),
    };
  } finally {
    tf.dispose(bestWeights);
    adam.dispose();
    model.dispose();
  }
}

/** Names of the best-validation weights in a checkpoint. */
const BEST = 'best/';

/** What best.safetensors holds besides the weights: the run up to its best epoch. */
export interface BestState {
  version: 2;
  config: RunConfig;
  dataHash?: string;
  rnnParams: number;
  /** The best epoch. */
  epoch: number;
  best: NonNullable<RunState['best']>;
  history: EpochRecord[];
}

/** The state of best.safetensors: a function of the checkpoint's state, the same at every later epoch. */
function bestState(state: RunState): BestState {
  const best = state.best!;
  return {
    version: 2,
    config: state.config,
    ...(state.dataHash ? { dataHash: state.dataHash } : {}),
    rnnParams: state.rnnParams,
    epoch: best.epoch,
    best,
    history: state.history.slice(0, best.epoch),
  };
}

async function writeBestCopy(
  dir: string,
  state: RunState,
  names: readonly string[],
  weights: readonly tf.Tensor[],
): Promise<void> {
  await saveCheckpoint(
    join(dir, 'best.safetensors'),
    names.map((n, i) => [n, weights[i]!] as const),
    bestState(state),
  );
}

const historyText = (state: RunState): string => `${JSON.stringify(state.history, null, 1)}\n`;

async function writeHistoryCopy(dir: string, state: RunState): Promise<void> {
  await writeAtomic(join(dir, 'history.json'), historyText(state));
}

/**
 * Rewrites best.safetensors and history.json where they are not the copies of the checkpoint's
 * state (missing, unreadable, or from another epoch); returns the names of the files rewritten.
 */
export async function repairCopies(
  dir: string,
  state: RunState,
  names: readonly string[],
  bestWeights: readonly tf.Tensor[],
): Promise<string[]> {
  const fixed: string[] = [];
  if (state.best) {
    const want = encodeCheckpoint(
      names.map((n, i) => [n, bestWeights[i]!] as const),
      bestState(state),
    );
    const have = await readFile(join(dir, 'best.safetensors')).catch(() => undefined);
    // The copy must hold the checkpoint's best weights and state; its timing fields are the same
    // numbers, so a copy written by the epoch itself is byte-identical.
    if (!have || Buffer.compare(have, Buffer.from(want)) !== 0) {
      await writeAtomic(join(dir, 'best.safetensors'), want);
      fixed.push('best.safetensors');
    }
  }
  const history = await readFile(join(dir, 'history.json'), 'utf8').catch(() => undefined);
  if (history !== historyText(state)) {
    await writeHistoryCopy(dir, state);
    fixed.push('history.json');
  }
  return fixed;
}
