// What a trained model is evaluated with, on any platform (Node.js, browsers): its cell's configuration
// from a run's configuration, the NLL of a split or of one piece, window by window.
import * as tf from '@tensorflow/tfjs-core';
import { type CellConfig, paperCellConfig } from '@tensorized/cells';
import { type Batch, KEYS, makeBatch, orderedBatches, piecesOf, type Split } from '@tensorized/datasets';
import { addSums, batchSums, emptySums, type FrameSums, summarise } from './metrics.js';
import type { PolyphonicModel } from './model.js';
import type { RunConfig } from './train.js';

export function cellConfigOf(config: RunConfig): CellConfig {
  const o: Parameters<typeof paperCellConfig>[1] = {};
  if (config.ranks) o.ranks = config.ranks;
  if (config.rank !== undefined) o.rank = config.rank;
  if (config.blocks !== undefined) o.blocks = config.blocks;
  if (config.inputSize !== undefined) o.inputSize = config.inputSize;
  if (config.inputModes) o.inputModes = config.inputModes;
  if (config.hiddenSize !== undefined) o.hiddenSize = config.hiddenSize;
  if (config.hiddenModes) o.hiddenModes = config.hiddenModes;
  const cell = paperCellConfig(config.model, o);
  return config.weights ? { ...cell, input: config.weights.input, recurrent: config.weights.recurrent } : cell;
}

/**
 * Frames t0 .. t0 + w of every row of a batch as tensors: inputs (B, w, 88), targets (B*w, 88),
 * mask (B, w), and the number of real frames among them. Copied on the host (a slice on wasm copies
 * the whole input).
 */
export function windowTensors(b: Batch, t0: number, w: number) {
  const part = (data: Float32Array, width: number): Float32Array => {
    if (t0 === 0 && w === b.length) return data;
    const out = new Float32Array(b.batchSize * w * width);
    for (let r = 0; r < b.batchSize; r++)
      out.set(data.subarray((r * b.length + t0) * width, (r * b.length + t0 + w) * width), r * w * width);
    return out;
  };
  const mask = part(b.mask, 1);
  let frames = 0;
  for (const m of mask) frames += m;
  return {
    frames,
    inputs: tf.tensor3d(part(b.inputs, KEYS), [b.batchSize, w, KEYS]),
    targets: tf.tensor2d(part(b.targets, KEYS), [b.batchSize * w, KEYS]),
    mask: tf.tensor2d(mask, [b.batchSize, w]),
  };
}

/**
 * The metric sums of a split, without dropout or gradients, over whole pieces: a piece longer than
 * `window` frames is run window by window with the state carried across (bounded memory, exact NLL).
 */
export function evaluate(model: PolyphonicModel, split: Split, batchSize: number, window = 256): FrameSums {
  let sums = emptySums();
  for (const pieces of orderedBatches(split, { batchSize, shuffle: false, bucket: true }))
    sums = addSums(sums, batchRun(model, makeBatch(split, pieces), window));
  return sums;
}

/** The metric sums of a window-by-window run over the given pieces (one batch, state carried). */
function batchRun(model: PolyphonicModel, b: Batch, window: number): FrameSums {
  let sums = emptySums();
  let state: tf.Tensor2D[] | undefined;
  for (let t0 = 0; t0 < b.length; t0 += window) {
    const t = windowTensors(b, t0, Math.min(window, b.length - t0));
    const out = model.window(t.inputs, t.mask, state);
    const flatMask = tf.reshape(t.mask, [-1]) as tf.Tensor1D;
    sums = addSums(sums, batchSums(out.logits, t.targets, flatMask));
    tf.dispose([out.logits, flatMask, t.inputs, t.targets, t.mask, ...(state ?? [])]);
    state = out.state;
  }
  tf.dispose(state ?? []);
  return sums;
}

/**
 * The NLL per frame (and accuracy) of piece `q` of a split: its next-frame predictions, each frame
 * from the frames before it with the state carried, as in `evaluate`.
 */
export function pieceNll(
  model: PolyphonicModel,
  split: Split,
  q: number,
  window = 256,
): { nll: number; accuracy: number; frames: number } {
  if (!(Number.isInteger(q) && q >= 0 && q < split.sequenceCount))
    throw new RangeError(`piece must be an integer in 0..${split.sequenceCount - 1}, got ${q}`);
  const piece = piecesOf(split).find((p) => p.sequence === q);
  if (!piece) throw new RangeError(`piece ${q} is too short to predict a frame (under two frames)`);
  const sums = batchRun(model, makeBatch(split, [piece]), window);
  return { ...summarise(sums), frames: sums.frames };
}
