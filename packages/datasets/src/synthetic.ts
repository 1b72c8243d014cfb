import { check } from './errors.js';
import { datasetFromSplits, type PolyphonicDataset } from './piano_roll.js';
import { uniform } from './random.js';

export interface SyntheticOptions {
  seed?: number;
  /** Sequences per split (default train 96, valid 24, test 24). */
  train?: number;
  valid?: number;
  test?: number;
}

// Diatonic triads on the scale degrees of a major key, in semitones above the tonic.
const SCALE = [0, 2, 4, 5, 7, 9, 11];
// Which chord (scale degree, 0 = I) may follow which: a plain functional progression.
const NEXT: Record<number, number[]> = { 0: [3, 4, 5, 1], 1: [4, 6], 3: [4, 0, 1], 4: [0, 5], 5: [3, 1], 6: [0] };

function degreePitch(tonic: number, degree: number): number {
  return tonic + 12 * Math.floor(degree / 7) + SCALE[((degree % 7) + 7) % 7]!;
}

/** One piece: a chord progression (a chord every 4 frames) with a bass and a stepwise melody. */
function piece(next: () => number): number[][] {
  const tonic = 48 + Math.floor(next() * 12);
  const chords = 8 + Math.floor(next() * 17);
  let chord = 0;
  let melody = 7 + 2; // the third above the tonic, an octave up
  const frames: number[][] = [];
  for (let c = 0; c < chords; c++) {
    const triad = [chord, chord + 2, chord + 4];
    const bass = degreePitch(tonic - 12, chord);
    const inner = triad.map((d) => degreePitch(tonic, d));
    for (let f = 0; f < 4; f++) {
      // On the beat the melody takes a chord tone near it; off the beat it steps by one degree.
      if (f === 0) {
        const choices = triad
          .flatMap((d) => [d + 7, d + 14])
          .sort((a, b) => Math.abs(a - melody) - Math.abs(b - melody));
        melody = choices[Math.floor(next() * 2)]!;
      } else if (f === 2) {
        melody += next() < 0.5 ? -1 : 1;
      }
      const notes = new Set([bass, ...inner, degreePitch(tonic, melody)]);
      frames.push([...notes].sort((a, b) => a - b));
    }
    const options = NEXT[chord] ?? [0];
    chord = c === chords - 2 ? 0 : options[Math.floor(next() * options.length)]!;
  }
  return frames;
}

/**
 * A small polyphonic dataset, the same for the same seed on every machine: chord progressions of a
 * major key with a bass line and a stepwise melody, 32 to 96 frames a piece. Structured enough that a
 * recurrent model predicts it far better than independent notes, small enough to train in seconds.
 */
export function syntheticDataset(options: SyntheticOptions = {}): PolyphonicDataset {
  const { seed = 1, train = 96, valid = 24, test = 24 } = options;
  for (const [k, v] of Object.entries({ train, valid, test })) {
    check(
      Number.isInteger(v) && v > 0,
      'INVALID_ARGUMENT',
      () => `syntheticDataset: ${k} must be a positive integer, got ${JSON.stringify(v)}`,
    );
  }
  const next = uniform(seed);
  const make = (n: number): number[][][] => Array.from({ length: n }, () => piece(next));
  return datasetFromSplits(
    'synthetic',
    `syntheticDataset({ seed: ${seed} })`,
    { train: make(train), valid: make(valid), test: make(test) },
    'synthetic',
  );
}
