import { describe, expect, it } from 'vitest';
import { independentNotesNll, KEYS, keysAt, type Split, splitStats, syntheticDataset } from './index.js';

/** NLL per frame of a model that predicts key k from whether k sounded in the previous frame. */
function previousFrameNll(train: Split, test: Split): number {
  const counts = Array.from({ length: KEYS }, () => [1, 2, 1, 2]); // [on|off, n|off, on|on, n|on]
  for (let q = 0; q < train.sequenceCount; q++) {
    for (let s = train.seqStart[q]! + 1; s < train.seqStart[q + 1]!; s++) {
      const prev = new Set(keysAt(train, s - 1));
      const now = new Set(keysAt(train, s));
      for (let k = 0; k < KEYS; k++) {
        const c = counts[k]!;
        const base = prev.has(k) ? 2 : 0;
        c[base + 1]! += 1;
        if (now.has(k)) c[base]! += 1;
      }
    }
  }
  return nll(test, (prev) =>
    Float64Array.from({ length: KEYS }, (_, k) => {
      const c = counts[k]!;
      const base = prev.has(k) ? 2 : 0;
      return c[base]! / c[base + 1]!;
    }),
  );
}

function nll(test: Split, predict: (prev: Set<number>) => Float64Array): number {
  let total = 0;
  let frames = 0;
  for (let q = 0; q < test.sequenceCount; q++) {
    for (let s = test.seqStart[q]! + 1; s < test.seqStart[q + 1]!; s++) {
      const p = predict(new Set(keysAt(test, s - 1)));
      const on = new Set(keysAt(test, s));
      for (let k = 0; k < KEYS; k++) total -= Math.log(on.has(k) ? p[k]! : 1 - p[k]!);
      frames++;
    }
  }
  return total / frames;
}

describe('syntheticDataset', () => {
  it('is the same for the same seed and different for another', () => {
    const a = syntheticDataset({ seed: 4 });
    const b = syntheticDataset({ seed: 4 });
    const c = syntheticDataset({ seed: 5 });
    expect(Buffer.from(a.splits.train.keys).equals(Buffer.from(b.splits.train.keys))).toBe(true);
    expect(Buffer.from(a.splits.train.keys).equals(Buffer.from(c.splits.train.keys))).toBe(false);
  });

  it('is small, in the piano range, and polyphonic', () => {
    const s = splitStats(syntheticDataset().splits.train);
    expect(s.sequences).toBe(96);
    expect(s.minLength).toBeGreaterThanOrEqual(32);
    expect(s.maxLength).toBeLessThanOrEqual(96);
    expect(s.minNote).toBeGreaterThanOrEqual(21);
    expect(s.maxNote).toBeLessThanOrEqual(108);
    expect(s.notesPerStep).toBeGreaterThan(3);
  });

  it('the independent-notes NLL equals a direct evaluation of its formula', () => {
    const { train, test } = syntheticDataset({ train: 5, valid: 1, test: 2 }).splits;
    const p = new Float64Array(KEYS).fill(1);
    for (const k of train.keys) p[k]! += 1;
    const q = p.map((v) => v / (train.stepCount + 2));
    expect(independentNotesNll(train, test)).toBeCloseTo(
      nll(test, () => q),
      10,
    );
  });

  it('has structure in time: knowing the previous frame predicts far better than independent notes', () => {
    const { train, test } = syntheticDataset().splits;
    const independent = independentNotesNll(train, test);
    const markov = previousFrameNll(train, test);
    expect(markov).toBeLessThan(0.6 * independent);
  });
});
