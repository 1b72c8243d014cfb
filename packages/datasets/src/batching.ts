import { check } from './errors.js';
import { KEYS, type Split } from './piano_roll.js';
import { shuffleInPlace, uniform } from './random.js';

/** A stretch of a sequence: input frames start .. start+frames-1, targets one frame later. */
export interface Piece {
  sequence: number;
  start: number;
  frames: number;
}

export interface BatchOptions {
  batchSize: number;
  /** Shuffle the pieces (default true). */
  shuffle?: boolean;
  /** Seed of the shuffle; with `epoch`, fixes the order (default 0). */
  seed?: number;
  /** Mixed into the seed, so that each epoch has its own order (default 0). */
  epoch?: number;
  /** Group pieces of similar length into batches, so that little is padding (default false). */
  bucket?: boolean;
  /** Cut sequences into pieces of at most this many input frames (consecutive pieces share one frame). */
  maxLength?: number;
}

/**
 * A mini-batch of next-frame pairs, zero-padded to the longest piece: row b, frame t of `inputs`
 * is frame start+t of the piece's sequence, and of `targets` frame start+t+1 (PAPER.md: read
 * frames 0..T-2, predict 1..T-1). Flat row-major float32 arrays: inputs and targets
 * (batchSize, length, 88), mask (batchSize, length) with 1 on real frames.
 */
export interface Batch {
  batchSize: number;
  length: number;
  inputs: Float32Array;
  targets: Float32Array;
  mask: Float32Array;
  pieces: Piece[];
  /** Real (unmasked) frames in the batch. */
  frames: number;
}

/** The pieces of a split: one per sequence of at least two frames, or chunks of at most maxLength. */
export function piecesOf(split: Split, maxLength?: number): Piece[] {
  const pieces: Piece[] = [];
  for (let q = 0; q < split.sequenceCount; q++) {
    const pairs = split.seqStart[q + 1]! - split.seqStart[q]! - 1;
    if (pairs < 1) continue;
    const size = maxLength ?? pairs;
    for (let start = 0; start < pairs; start += size)
      pieces.push({ sequence: q, start, frames: Math.min(size, pairs - start) });
  }
  return pieces;
}

/** Which pieces go into which batch, in order, for one epoch. */
export function orderedBatches(split: Split, options: BatchOptions): Piece[][] {
  const { batchSize, shuffle = true, seed = 0, epoch = 0, bucket = false, maxLength } = options;
  check(
    Number.isInteger(batchSize) && batchSize > 0,
    'INVALID_ARGUMENT',
    () => `batches: batchSize must be a positive integer, got ${JSON.stringify(batchSize)}`,
  );
  check(
    maxLength === undefined || (Number.isInteger(maxLength) && maxLength > 0),
    'INVALID_ARGUMENT',
    () => `batches: maxLength must be a positive integer, got ${JSON.stringify(maxLength)}`,
  );
  const next = uniform((seed * 1000003 + epoch * 7919) >>> 0);
  const pieces = piecesOf(split, maxLength);
  if (shuffle) shuffleInPlace(pieces, next);
  const plan: Piece[][] = [];
  if (bucket) {
    // Sort within pools of 16 batches: batches of similar lengths, order still random.
    const pool = 16 * batchSize;
    for (let p = 0; p < pieces.length; p += pool) {
      const group = pieces.slice(p, p + pool).sort((a, b) => b.frames - a.frames);
      for (let i = 0; i < group.length; i += batchSize) plan.push(group.slice(i, i + batchSize));
    }
    if (shuffle) shuffleInPlace(plan, next);
  } else {
    for (let i = 0; i < pieces.length; i += batchSize) plan.push(pieces.slice(i, i + batchSize));
  }
  return plan;
}

/** Fills a batch's arrays: only the current batch ever becomes a dense piano roll. */
export function makeBatch(split: Split, pieces: readonly Piece[]): Batch {
  const length = Math.max(...pieces.map((p) => p.frames));
  const B = pieces.length;
  const inputs = new Float32Array(B * length * KEYS);
  const targets = new Float32Array(B * length * KEYS);
  const mask = new Float32Array(B * length);
  let frames = 0;
  pieces.forEach((p, b) => {
    const first = split.seqStart[p.sequence]! + p.start;
    for (let t = 0; t < p.frames; t++) {
      const row = (b * length + t) * KEYS;
      for (let k = split.stepStart[first + t]!; k < split.stepStart[first + t + 1]!; k++)
        inputs[row + split.keys[k]!] = 1;
      for (let k = split.stepStart[first + t + 1]!; k < split.stepStart[first + t + 2]!; k++)
        targets[row + split.keys[k]!] = 1;
      mask[b * length + t] = 1;
    }
    frames += p.frames;
  });
  return { batchSize: B, length, inputs, targets, mask, pieces: [...pieces], frames };
}

/** The mini-batches of one epoch, made one at a time. */
export function* batches(split: Split, options: BatchOptions): Generator<Batch> {
  for (const pieces of orderedBatches(split, options)) yield makeBatch(split, pieces);
}
