import { check, DatasetError } from './errors.js';

/** 88 piano keys: column k of a roll is MIDI note 21 + k. */
export const KEYS = 88;
export const LOWEST_NOTE = 21;
export const HIGHEST_NOTE = 108;
export const SPLIT_NAMES = ['train', 'valid', 'test'] as const;
export type SplitName = (typeof SPLIT_NAMES)[number];

/**
 * One split, stored compactly: the key indices (0..87) of every step back to back, with offsets.
 * MuseData's 245k training steps take about 2 MB this way instead of 86 MB as a float32 roll.
 */
export interface Split {
  readonly name: string;
  readonly sequenceCount: number;
  readonly stepCount: number;
  /** Key indices of all steps, step after step, each step's keys ascending. */
  readonly keys: Uint8Array;
  /** Keys of step s are keys[stepStart[s] .. stepStart[s + 1]); length stepCount + 1. */
  readonly stepStart: Uint32Array;
  /** Steps of sequence q are seqStart[q] .. seqStart[q + 1]; length sequenceCount + 1. */
  readonly seqStart: Uint32Array;
}

export interface PolyphonicDataset {
  readonly name: string;
  readonly source: string;
  readonly splits: Readonly<Record<SplitName, Split>>;
}

/** Number of time steps of sequence q. */
export function sequenceLength(split: Split, q: number): number {
  return split.seqStart[q + 1]! - split.seqStart[q]!;
}

/** The key indices (0..87) sounding at global step s. */
export function keysAt(split: Split, step: number): Uint8Array {
  return split.keys.subarray(split.stepStart[step]!, split.stepStart[step + 1]!);
}

/**
 * Builds a split from sequences of steps of MIDI note numbers, checking every note: integers in
 * 21..108, no note twice in a step. `where` names the file in errors.
 */
export function splitFromNotes(
  name: string,
  sequences: ReadonlyArray<ReadonlyArray<ArrayLike<number>>>,
  where: string,
): Split {
  check(Array.isArray(sequences), 'BAD_DATASET', () => `${where}: split '${name}' must be a list of sequences`);
  check(
    sequences.length > 0,
    'BAD_DATASET',
    () => `${where}: split '${name}' is empty (expected at least one sequence)`,
  );
  let steps = 0;
  let notes = 0;
  sequences.forEach((seq, q) => {
    check(
      Array.isArray(seq) && seq.length > 0,
      'BAD_DATASET',
      () => `${where}: ${name}[${q}] must be a non-empty list of time steps`,
    );
    steps += seq.length;
    for (const step of seq) notes += step?.length ?? 0;
  });
  const keys = new Uint8Array(notes);
  const stepStart = new Uint32Array(steps + 1);
  const seqStart = new Uint32Array(sequences.length + 1);
  let s = 0;
  let k = 0;
  sequences.forEach((seq, q) => {
    seqStart[q] = s;
    seq.forEach((step: ArrayLike<number>, t: number) => {
      check(
        step !== null && typeof step === 'object' && typeof step.length === 'number',
        'BAD_DATASET',
        () => `${where}: ${name}[${q}][${t}] must be a list of MIDI note numbers`,
      );
      stepStart[s] = k;
      const sorted: number[] = Array.from(step).sort((a, b) => a - b);
      sorted.forEach((note, i) => {
        if (!(Number.isInteger(note) && note >= LOWEST_NOTE && note <= HIGHEST_NOTE)) {
          throw new DatasetError(
            'BAD_DATASET',
            `${where}: ${name}[${q}][${t}] has note ${JSON.stringify(note)}, outside the piano range (MIDI ${LOWEST_NOTE}..${HIGHEST_NOTE})`,
          );
        }
        check(
          i === 0 || note !== sorted[i - 1],
          'BAD_DATASET',
          () => `${where}: ${name}[${q}][${t}] has note ${note} twice`,
        );
        keys[k++] = note - LOWEST_NOTE;
      });
      s++;
    });
  });
  seqStart[sequences.length] = s;
  stepStart[s] = k;
  return { name, sequenceCount: sequences.length, stepCount: steps, keys, stepStart, seqStart };
}

/** The dataset's splits from an object with train/valid/test lists, as both file formats hold them. */
export function datasetFromSplits(
  name: string,
  source: string,
  splits: Record<string, unknown>,
  where: string,
): PolyphonicDataset {
  const out = {} as Record<SplitName, Split>;
  for (const s of SPLIT_NAMES) {
    check(s in splits, 'BAD_DATASET', () => `${where}: missing split '${s}' (expected train, valid and test)`);
    out[s] = splitFromNotes(s, splits[s] as number[][][], where);
  }
  return { name, source, splits: out };
}

/** Bytes held by a split's arrays. */
export function splitBytes(split: Split): number {
  return split.keys.byteLength + split.stepStart.byteLength + split.seqStart.byteLength;
}
