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
