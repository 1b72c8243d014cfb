import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  cpMatrix,
  cpTensor,
  DecompError,
  ndarray,
  Rng,
  ttMatrix,
  ttTensor,
  tuckerMatrix,
  tuckerTensor,
} from '../index.js';
import { randn } from '../../test/reference.js';

const rng = new Rng(1);
const z = (...shape: number[]) => randn(rng, shape);

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(DecompError);
  expect((caught as DecompError).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

describe('TT formats', () => {
  it('derives modes and ranks from valid cores', () => {
    const w = ttMatrix([z(1, 4, 8, 3), z(3, 2, 5, 1)]);
    expect(w).toMatchObject({ kind: 'tt-matrix', inModes: [4, 2], outModes: [8, 5], ranks: [1, 3, 1] });
    expect(ttTensor([z(1, 4, 2), z(2, 3, 1)]).shape).toEqual([4, 3]);
  });

  it('rejects r_0 or r_d not 1, mismatched ranks, wrong core order, NaN and no cores', () => {
    expectError(
      () => ttMatrix([z(2, 4, 8, 3), z(3, 2, 5, 1)]),
      'INVALID_RANK',
      /ttMatrix: boundary ranks must be 1 .*got ranks \[2, 3, 1\]/,
    );
    expectError(() => ttMatrix([z(1, 4, 8, 3), z(3, 2, 5, 2)]), 'INVALID_RANK', /r_0 = r_d = 1/);
    expectError(
      () => ttMatrix([z(1, 4, 8, 3), z(2, 2, 5, 1)]),
      'INVALID_RANK',
      /cores\[1\] must start with rank r_1 = 3/,
    );
    expectError(
      () => ttMatrix([z(1, 4, 3)]),
      'SHAPE_MISMATCH',
      /ttMatrix: cores\[0\] must have rank 4, got shape \[1, 4, 3\]/,
    );
    expectError(() => ttTensor([]), 'INVALID_ARGUMENT', /ttTensor: cores must be a non-empty array/);
    const nan = ndarray([1, 2, NaN, 4], [1, 2, 2, 1]);
    expectError(() => ttMatrix([nan]), 'NOT_FINITE', /ttMatrix: cores\[0\] must be finite, found NaN at flat index 2/);
  });
});

describeEachBackend('TT formats with TF.js cores', () => {
  it('checks TF.js cores too, without leaking', () => {
    const before = tf.memory().numTensors;
    const core = tf.tensor4d([1, Infinity], [1, 2, 1, 1]);
    expectError(() => ttMatrix([core]), 'NOT_FINITE', /found Infinity at flat index 1/);
    core.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('CP formats', () => {
  it('accepts factors with a shared rank', () => {
    const w = cpMatrix([z(4, 3), z(2, 3)], [z(8, 3), z(5, 3)]);
    expect(w).toMatchObject({ inModes: [4, 2], outModes: [8, 5], rank: 3 });
    expect(cpTensor([z(4, 2), z(5, 2)], z(2)).rank).toBe(2);
  });

  it('rejects mismatched ranks, counts and weights', () => {
    expectError(
      () => cpMatrix([z(4, 3), z(2, 2)], [z(8, 3), z(5, 3)]),
      'INVALID_RANK',
      /inFactors\[1\] must have shape \(n_1, R = 3\)/,
    );
    expectError(() => cpMatrix([z(4, 3)], [z(8, 2)]), 'INVALID_RANK', /outFactors must have R = 3 columns/);
    expectError(() => cpMatrix([z(4, 3)], [z(8, 3), z(2, 3)]), 'INVALID_MODES', /same count d, got 1 and 2/);
    expectError(() => cpTensor([z(4, 3)], z(2)), 'SHAPE_MISMATCH', /weights must have shape \[R = 3\], got \[2\]/);
  });
});

describe('Tucker formats', () => {
  it('accepts a core matching the factors', () => {
    const w = tuckerMatrix(z(2, 3, 1, 2), [z(4, 2), z(5, 3)], [z(6, 1), z(2, 2)]);
    expect(w).toMatchObject({ inRanks: [2, 3], outRanks: [1, 2], inModes: [4, 5], outModes: [6, 2] });
    expect(tuckerTensor(z(2, 2), [z(3, 2), z(4, 2)]).ranks).toEqual([2, 2]);
  });

  it('rejects a core of the wrong order and factors that do not match it', () => {
    expectError(
      () => tuckerMatrix(z(2, 3, 1), [z(4, 2), z(5, 3)], [z(6, 1), z(2, 2)]),
      'SHAPE_MISMATCH',
      /core must have 2d = 4 dimensions/,
    );
    expectError(
      () => tuckerMatrix(z(2, 3, 1, 2), [z(4, 2), z(5, 2)], [z(6, 1), z(2, 2)]),
      'INVALID_RANK',
      /inFactors\[1\] must have shape \(n_1, 3\)/,
    );
    expectError(() => tuckerTensor(z(2, 2, 2), [z(3, 2), z(4, 2)]), 'SHAPE_MISMATCH', /one dimension per factor \(2\)/);
  });
});
