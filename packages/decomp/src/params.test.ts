import { describe, expect, it } from 'vitest';
import {
  checkTtMatrixSpec,
  cpMatrixInit,
  cpMatrixParamCount,
  paramCount,
  ttMatrixInit,
  ttMatrixParamCount,
  tuckerMatrixInit,
  tuckerMatrixParamCount,
} from './index.js';
import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';

// PAPER.md: input 256 = 4x4x4x4, hidden 512 = 8x4x4x4 (or 1024 = 8x4x8x4); the 3 gates are folded
// into the last output mode; the count is W + U + one 3M bias.
const IN = [4, 4, 4, 4];
const gates = (hidden: number[]) => [...hidden.slice(0, -1), 3 * hidden.at(-1)!];
const H512 = [8, 4, 4, 4];
const H1024 = [8, 4, 8, 4];

describe('parameter counts equal the formulas and the table of PAPER.md', () => {
  it('dense GRU', () => {
    expect(256 * 1536 + 512 * 1536 + 1536).toBe(1_181_184);
  });

  it('TT-GRU, ranks (1, 11, 11, 11, 1): 11,392', () => {
    const ranks = [1, 11, 11, 11, 1];
    const w = ttMatrixParamCount({ inModes: IN, outModes: gates(H512), ranks });
    const u = ttMatrixParamCount({ inModes: H512, outModes: gates(H512), ranks });
    expect(w).toBe(1 * 4 * 8 * 11 + 11 * 4 * 4 * 11 * 2 + 11 * 4 * 12 * 1);
    expect(w + u + 1536).toBe(11_392);
  });

  it('CP-GRU, R = 50 / 80 / 110: 6,136 / 8,896 / 11,656', () => {
    const counts = [50, 80, 110].map(
      (rank) =>
        cpMatrixParamCount({ inModes: IN, outModes: gates(H512), rank }) +
        cpMatrixParamCount({ inModes: H512, outModes: gates(H512), rank }) +
        1536,
    );
    expect(counts).toEqual([6_136, 8_896, 11_656]);
    expect(cpMatrixParamCount({ inModes: IN, outModes: gates(H512), rank: 50 }, { weights: true })).toBe(50 * 44 + 50);
  });

  it('Tucker-GRU, hidden 512 and 1024, ranks (2,2,2,2) / (2,4,2,4)', () => {
    const count = (hidden: number[], ranks: number[]) =>
      tuckerMatrixParamCount({ inModes: IN, outModes: gates(hidden), inRanks: ranks }) +
      tuckerMatrixParamCount({ inModes: hidden, outModes: gates(hidden), inRanks: ranks }) +
      3 * hidden.reduce((a, b) => a * b, 1);
    expect(count(H512, [2, 2, 2, 2])).toBe(2_232);
    expect(count(H512, [2, 4, 2, 4])).toBe(10_008);
    expect(count(H1024, [2, 2, 2, 2])).toBe(3_792);
    expect(count(H1024, [2, 4, 2, 4])).toBe(11_568);
  });
});

describeEachBackend('paramCount', () => {
  it('paramCount of an initialised format equals the formula', () => {
    const before = tf.memory().numTensors;
    const specs = [
      ttMatrixInit({ inModes: IN, outModes: gates(H512), ranks: [1, 3, 5, 2, 1] }),
      cpMatrixInit({ inModes: IN, outModes: gates(H512), rank: 7 }),
      tuckerMatrixInit({ inModes: IN, outModes: gates(H512), inRanks: [2, 3, 1, 2], outRanks: [1, 2, 2, 3] }),
    ];
    expect(paramCount(specs[0]!)).toBe(
      ttMatrixParamCount({ inModes: IN, outModes: gates(H512), ranks: [1, 3, 5, 2, 1] }),
    );
    expect(paramCount(specs[1]!)).toBe(cpMatrixParamCount({ inModes: IN, outModes: gates(H512), rank: 7 }));
    expect(paramCount(specs[2]!)).toBe(
      tuckerMatrixParamCount({ inModes: IN, outModes: gates(H512), inRanks: [2, 3, 1, 2], outRanks: [1, 2, 2, 3] }),
    );
    for (const s of specs)
      tf.dispose(
        s.kind === 'tt-matrix'
          ? [...s.cores]
          : s.kind === 'cp-matrix'
            ? [...s.inFactors, ...s.outFactors]
            : [s.core, ...s.inFactors, ...s.outFactors],
      );
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('spec validation names the argument and the expected value', () => {
  it.each([
    [{ inModes: [4, 4], outModes: [8, 4], ranks: [1, 2, 2, 1] }, /ranks must have d \+ 1 = 3 entries/],
    [{ inModes: [4, 4], outModes: [8, 4], ranks: [2, 2, 1] }, /ranks must start and end with 1/],
    [{ inModes: [4, 4], outModes: [8, 4], ranks: [1, 0, 1] }, /ranks\[1\] must be a positive integer, got 0/],
    [{ inModes: [4, 4], outModes: [8, 4, 2], ranks: [1, 2, 1] }, /inModes and outModes must have the same length/],
    [{ inModes: [4, 2.5], outModes: [8, 4], ranks: [1, 2, 1] }, /inModes\[1\] must be a positive integer, got 2.5/],
  ])('%j', (spec, message) => {
    expect(() => checkTtMatrixSpec('ttMatrixInit', spec)).toThrow(message);
  });

  it('modes must multiply to the stated size', () => {
    expect(() =>
      checkTtMatrixSpec('ttMatrixInit', { inModes: [4, 4], outModes: [8, 4], ranks: [1, 2, 1] }, { inSize: 20 }),
    ).toThrow(/ttMatrixInit: inModes \[4, 4\] multiply to 16, expected 20/);
  });

  it('CP rank 0 and Tucker ranks of the wrong length are refused', () => {
    expect(() => cpMatrixParamCount({ inModes: [4], outModes: [4], rank: 0 })).toThrow(
      /rank must be a positive integer, got 0/,
    );
    expect(() => tuckerMatrixParamCount({ inModes: [4, 4], outModes: [4, 4], inRanks: [2] })).toThrow(
      /inRanks must have d = 2 entries/,
    );
  });
});
