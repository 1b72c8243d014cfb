import { KEYS, LOWEST_NOTE, type Split } from './piano_roll.js';

export interface SplitStats {
  sequences: number;
  steps: number;
  /** Lowest and highest MIDI note that sounds. */
  minNote: number;
  maxNote: number;
  /** Notes sounding per time step, averaged over all steps (rests included). */
  notesPerStep: number;
  /** Time steps with no note. */
  emptySteps: number;
  /** Steps of the shortest and longest sequence. */
  minLength: number;
  maxLength: number;
}

/**
 * NLL per frame (binary cross-entropy, natural log, summed over the 88 keys) on `test` of the model
 * that plays each key independently with its frequency in `train` (add-one smoothed): the baseline
 * a sequence model must beat. Frames 1..T-1 of each sequence, as in training.
 */
export function independentNotesNll(train: Split, test: Split): number {
  const p = new Float64Array(KEYS).fill(1);
  for (const k of train.keys) p[k]! += 1;
  for (let k = 0; k < KEYS; k++) p[k] = p[k]! / (train.stepCount + 2);
  const offBits = p.reduce((s, v) => s - Math.log(1 - v), 0);
  let total = 0;
  let frames = 0;
  for (let q = 0; q < test.sequenceCount; q++) {
    for (let s = test.seqStart[q]! + 1; s < test.seqStart[q + 1]!; s++) {
      total += offBits;
      for (let i = test.stepStart[s]!; i < test.stepStart[s + 1]!; i++) {
        const k = test.keys[i]!;
        total += -Math.log(p[k]!) + Math.log(1 - p[k]!);
      }
      frames++;
    }
  }
  return total / frames;
}

export function splitStats(split: Split): SplitStats {
  let min = KEYS;
  let max = -1;
  for (const k of split.keys) {
    if (k < min) min = k;
    if (k > max) max = k;
  }
  let empty = 0;
  for (let s = 0; s < split.stepCount; s++) if (split.stepStart[s + 1] === split.stepStart[s]) empty++;
  let minLength = Infinity;
  let maxLength = 0;
  for (let q = 0; q < split.sequenceCount; q++) {
    const len = split.seqStart[q + 1]! - split.seqStart[q]!;
    minLength = Math.min(minLength, len);
    maxLength = Math.max(maxLength, len);
  }
  return {
    sequences: split.sequenceCount,
    steps: split.stepCount,
    minNote: min + LOWEST_NOTE,
    maxNote: max + LOWEST_NOTE,
    notesPerStep: split.keys.length / split.stepCount,
    emptySteps: empty,
    minLength,
    maxLength,
  };
}
