import * as tf from '@tensorflow/tfjs-core';
import { storedShape } from '@tensorized/cells';
import { KEYS, keysAt, type Split } from '@tensorized/datasets';
import { Rng } from '@tensorized/decomp';
import midiFile, { type MidiData, type MidiEvent } from 'midi-file';
import { CheckpointError, decodeCheckpoint } from './checkpoint_codec.js';
import { cellConfigOf } from './evaluate.js';
import { PolyphonicModel } from './model.js';
import { validateRunConfig } from './run_state.js';
import type { RunConfig } from './train.js';

/** Lowest MIDI note of the piano roll (column 0). */
const LOWEST_NOTE = 21;

export interface SampleOptions {
  /** Frames to generate (after the primer). */
  length: number;
  /** Divides the logits before the sigmoid: below 1 sharper, above 1 more random. */
  temperature: number;
  /** Seed of the Bernoulli draws. */
  seed: number;
  /** Frames (each a list of active keys 0..87) fed first, with the state carried, as a primer. */
  primer?: number[][];
}

export function checkSampleOptions(o: SampleOptions): void {
  if (!(Number.isFinite(o.temperature) && o.temperature > 0))
    throw new RangeError(`temperature must be a finite number > 0, got ${o.temperature}`);
  if (!(Number.isInteger(o.length) && o.length > 0))
    throw new RangeError(`length must be a positive integer, got ${o.length}`);
}

/**
 * Generates a piece frame by frame with the state carried: each frame's 88 keys are drawn from their
 * Bernoulli probabilities sigmoid(logit / temperature), and the frame is the next input. A primer is
 * fed first (its frames are part of the result). Returns the frames, each the list of active keys.
 */
export function samplePiece(model: PolyphonicModel, o: SampleOptions): number[][] {
  return [...sampleFrames(model, o)];
}

/**
 * The frames of `samplePiece` one at a time, the primer's first: a page can generate a few frames,
 * draw its progress and go on. Stopping early (break, or the generator's return) disposes
 * everything it holds.
 */
export function sampleFrames(model: PolyphonicModel, o: SampleOptions): Generator<number[]> {
  checkSampleOptions(o); // at the call, not at the first frame
  return framesOf(model, o);
}

function* framesOf(model: PolyphonicModel, o: SampleOptions): Generator<number[]> {
  const rng = new Rng(o.seed);
  const next = () => rng.uniform();
  const primer = (o.primer ?? []).map((f) => [...f]);
  let state: tf.Tensor2D[] | undefined;
  const oneFrame = (keys: readonly number[]): tf.Tensor2D => {
    const x = new Float32Array(KEYS);
    for (const k of keys) x[k] = 1;
    return tf.tensor2d(x, [1, KEYS]);
  };
  // W and U prepared once for the whole piece (a stepper), not once per frame.
  const stepper = model.stepper(1);
  try {
    // Feed the primer but its last frame; the last (or a silent start) gives the first prediction.
    const start = primer.length ? primer : [[]];
    for (const keys of start.slice(0, -1)) {
      const x = oneFrame(keys);
      const out = stepper.step(x, state);
      tf.dispose([x, out.logits, ...(state ?? [])]);
      state = out.state;
    }
    for (const keys of primer) yield keys;
    let input = start[start.length - 1]!;
    for (let t = 0; t < o.length; t++) {
      const x = oneFrame(input);
      const out = stepper.step(x, state);
      const logits = out.logits.dataSync();
      tf.dispose([x, out.logits, ...(state ?? [])]);
      state = out.state;
      const keys: number[] = [];
      for (let k = 0; k < KEYS; k++) if (next() < 1 / (1 + Math.exp(-logits[k]! / o.temperature))) keys.push(k);
      yield keys;
      input = keys;
    }
  } finally {
    stepper.dispose();
    tf.dispose(state ?? []);
  }
}

/** The frames of a dataset piece (sequence q of a split), at most `count`. */
export function pieceFrames(split: Split, q: number, count: number): number[][] {
  if (!(Number.isInteger(q) && q >= 0 && q < split.sequenceCount))
    throw new RangeError(`the primer piece must be 0..${split.sequenceCount - 1}, got ${q}`);
  const first = split.seqStart[q]!;
  const n = Math.min(count, split.seqStart[q + 1]! - first);
  return Array.from({ length: n }, (_, t) => Array.from(keysAt(split, first + t)));
}

/**
 * A standard MIDI file (format 0, one track, piano) of the frames, one frame per beat at `bpm`: a key
 * sounds from the frame it turns on until the first frame it is off (held across frames).
 */
export function framesToMidi(frames: readonly (readonly number[])[], bpm = 120): Uint8Array {
  const ticksPerBeat = 480;
  const events: MidiEvent[] = [
    { deltaTime: 0, type: 'setTempo', meta: true, microsecondsPerBeat: Math.round(60_000_000 / bpm) },
  ];
  let pending = 0; // ticks since the last event
  let on = new Set<number>();
  const push = (e: MidiEvent): void => {
    events.push({ ...e, deltaTime: pending } as MidiEvent);
    pending = 0;
  };
  for (const frame of [...frames, []]) {
    const now = new Set(frame);
    for (const k of [...on].sort((a, b) => a - b))
      if (!now.has(k)) push({ deltaTime: 0, type: 'noteOff', channel: 0, noteNumber: LOWEST_NOTE + k, velocity: 0 });
    for (const k of [...now].sort((a, b) => a - b))
      if (!on.has(k)) push({ deltaTime: 0, type: 'noteOn', channel: 0, noteNumber: LOWEST_NOTE + k, velocity: 80 });
    on = now;
    pending += ticksPerBeat;
  }
  pending = 0;
  push({ deltaTime: 0, type: 'endOfTrack', meta: true });
  const data: MidiData = { header: { format: 0, numTracks: 1, ticksPerBeat }, tracks: [events] };
  return Uint8Array.from(midiFile.writeMidi(data));
}

/** The frames back from a MIDI file written by framesToMidi (for tests and for checking a file). */
export function midiToFrames(bytes: Uint8Array): number[][] {
  const { header, tracks } = midiFile.parseMidi(bytes);
  const perFrame = header.ticksPerBeat ?? 480;
  const frames: number[][] = [];
  const on = new Set<number>();
  let tick = 0;
  for (const e of tracks[0] ?? []) {
    tick += e.deltaTime;
    while (frames.length < Math.floor(tick / perFrame)) frames.push([...on].sort((a, b) => a - b));
    if (e.type === 'noteOn' && e.velocity > 0) on.add(e.noteNumber - LOWEST_NOTE);
    if (e.type === 'noteOff' || (e.type === 'noteOn' && e.velocity === 0)) on.delete(e.noteNumber - LOWEST_NOTE);
  }
  return frames;
}

/** An SVG piano roll of the frames: time across, the 88 keys up (a primer's frames in grey). */
export function pianoRollSvg(frames: readonly (readonly number[])[], primerFrames = 0): string {
  const cell = 4;
  const width = Math.max(1, frames.length) * cell;
  const height = KEYS * cell;
  const rects = frames.flatMap((keys, t) =>
    keys.map(
      (k) =>
        `<rect x="${t * cell}" y="${(KEYS - 1 - k) * cell}" width="${cell}" height="${cell}" fill="${t < primerFrames ? '#999' : '#1b9e77'}"/>`,
    ),
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"><rect width="100%" height="100%" fill="#fff"/>${rects.join('')}</svg>\n`;
}

/**
 * The model of the bytes of a checkpoint or best.safetensors written by `train` (its configuration
 * from the file's state), with the file's weights; `where` names the file in errors (CheckpointError).
 * Runs anywhere (Node.js, browsers). The caller disposes the model.
 */
export function modelFromCheckpoint(bytes: Uint8Array, where: string): { model: PolyphonicModel; config: RunConfig } {
  const { tensors, state } = decodeCheckpoint<{ config: RunConfig }>(bytes, where, (s) =>
    validateRunConfig((s as { config?: unknown }).config),
  );
  const model = new PolyphonicModel(cellConfigOf(state.config), state.config.seed);
  try {
    for (const [name, v] of model.namedVariables()) {
      const t = tensors.get(name);
      if (!t) throw new CheckpointError(`${where} lacks the weight ${name} of a ${state.config.model} model`);
      const shape = storedShape(name, t.shape, v.shape);
      if (JSON.stringify(shape) !== JSON.stringify(v.shape))
        throw new CheckpointError(
          `${where}: ${name} has shape [${t.shape.join(', ')}], the model needs [${v.shape.join(', ')}]`,
        );
      tf.tidy(() => v.assign(tf.tensor(t.data, shape)));
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, config: state.config };
}
