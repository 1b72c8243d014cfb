import { describe, expect, it } from 'vitest';
import { batches, KEYS, keysAt, makeBatch, orderedBatches, splitFromNotes, syntheticDataset } from './index.js';

const split = syntheticDataset({ seed: 3, train: 30, valid: 2, test: 2 }).splits.train;

function framesOf(b: ReturnType<typeof makeBatch>): string[] {
  return b.pieces.flatMap((p) => Array.from({ length: p.frames }, (_, t) => `${p.sequence}:${p.start + t}`));
}

describe('batches', () => {
  it('shapes, zero padding, mask, and targets equal to the inputs one frame later', () => {
    for (const b of batches(split, { batchSize: 8, seed: 1 })) {
      expect(b.inputs.length).toBe(b.batchSize * b.length * KEYS);
      expect(b.mask.length).toBe(b.batchSize * b.length);
      b.pieces.forEach((p, row) => {
        const first = split.seqStart[p.sequence]! + p.start;
        for (let t = 0; t < b.length; t++) {
          const x = b.inputs.subarray((row * b.length + t) * KEYS, (row * b.length + t + 1) * KEYS);
          const y = b.targets.subarray((row * b.length + t) * KEYS, (row * b.length + t + 1) * KEYS);
          if (t >= p.frames) {
            expect(b.mask[row * b.length + t]).toBe(0);
            expect(x.every((v) => v === 0) && y.every((v) => v === 0)).toBe(true);
            continue;
          }
          expect(b.mask[row * b.length + t]).toBe(1);
          const on = (v: Float32Array) => Array.from(v.keys()).filter((k) => v[k] === 1);
          expect(on(x)).toEqual(Array.from(keysAt(split, first + t)));
          expect(on(y)).toEqual(Array.from(keysAt(split, first + t + 1)));
          // The target of frame t is the input of frame t + 1 (within the piece).
          if (t + 1 < p.frames) {
            const next = b.inputs.subarray((row * b.length + t + 1) * KEYS, (row * b.length + t + 2) * KEYS);
            expect(Array.from(next)).toEqual(Array.from(y));
          }
        }
      });
      expect(b.frames).toBe(b.mask.reduce((a, v) => a + v, 0));
    }
  });

  for (const options of [{}, { bucket: true }, { maxLength: 7 }, { bucket: true, maxLength: 10 }]) {
    it(`every target frame of the split appears exactly once per epoch ${JSON.stringify(options)}`, () => {
      const seen = orderedBatches(split, { batchSize: 5, seed: 2, ...options }).flatMap((pieces) =>
        framesOf(makeBatch(split, pieces)),
      );
      const expected: string[] = [];
      for (let q = 0; q < split.sequenceCount; q++)
        for (let t = 0; t < split.seqStart[q + 1]! - split.seqStart[q]! - 1; t++) expected.push(`${q}:${t}`);
      expect(seen.length).toBe(expected.length);
      expect(new Set(seen)).toEqual(new Set(expected));
    });
  }

  it('a seed fixes the order; another seed or epoch changes it', () => {
    const order = (seed: number, epoch = 0) =>
      orderedBatches(split, { batchSize: 4, seed, epoch })
        .flat()
        .map((p) => p.sequence);
    expect(order(5)).toEqual(order(5));
    expect(order(5)).not.toEqual(order(6));
    expect(order(5, 1)).not.toEqual(order(5, 0));
    expect(
      orderedBatches(split, { batchSize: 4, shuffle: false })
        .flat()
        .map((p) => p.sequence),
    ).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('bucketing keeps lengths within a batch close, so that little is padding', () => {
    const padding = (bucket: boolean) => {
      let pad = 0;
      let all = 0;
      for (const b of batches(split, { batchSize: 4, seed: 1, bucket })) {
        pad += b.batchSize * b.length - b.frames;
        all += b.batchSize * b.length;
      }
      return pad / all;
    };
    expect(padding(true)).toBeLessThan(padding(false));
  });

  it('chunks never exceed maxLength; consecutive chunks share one frame', () => {
    const plan = orderedBatches(split, { batchSize: 64, maxLength: 6, shuffle: false }).flat();
    expect(Math.max(...plan.map((p) => p.frames))).toBeLessThanOrEqual(6);
    const first = plan.filter((p) => p.sequence === 0);
    for (const [i, p] of first.slice(1).entries()) expect(p.start).toBe(first[i]!.start + first[i]!.frames);
  });

  it('a sequence of one frame gives no pairs; bad options are refused', () => {
    const tiny = splitFromNotes('t', [[[60]], [[60], [62], [64]]], 'test');
    expect(orderedBatches(tiny, { batchSize: 2 }).flat()).toEqual([{ sequence: 1, start: 0, frames: 2 }]);
    expect(() => orderedBatches(tiny, { batchSize: 0 })).toThrow(
      /batches: batchSize must be a positive integer, got 0/,
    );
    expect(() => orderedBatches(tiny, { batchSize: 2, maxLength: -1 })).toThrow(/maxLength must be a positive integer/);
  });
});
