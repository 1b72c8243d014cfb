import { check, fmt } from '../errors.js';
import type { NdArray } from '../ndarray.js';
import { type Core, toNdArray } from '../ops.js';
import { checkFinite } from '../validate.js';

/** The float64 host copy of an algorithm's input, checked to be a finite tensor of order >= 1. */
export function inputTensor(fn: string, x: Core, minOrder = 1): NdArray {
  check(
    typeof x === 'object' && x !== null && Array.isArray((x as { shape?: unknown }).shape),
    'INVALID_ARGUMENT',
    () => `${fn}: x must be a tf.Tensor or an NdArray, got ${typeof x}`,
  );
  check(
    x.shape.length >= minOrder,
    'SHAPE_MISMATCH',
    () => `${fn}: x must have at least ${minOrder} dimensions, got shape ${fmt(x.shape)}`,
  );
  const nd = toNdArray(x);
  checkFinite(fn, 'x', nd);
  return nd;
}

export function checkEps(fn: string, eps: unknown): asserts eps is number {
  check(
    typeof eps === 'number' && eps >= 0 && eps < 1,
    'INVALID_ARGUMENT',
    () => `${fn}: eps must be a number in [0, 1), got ${fmt(eps)}`,
  );
}

/** maxRank as one bound for every bond, or one per bond. */
export function bondMaxRanks(fn: string, maxRank: number | readonly number[] | undefined, bonds: number): number[] {
  if (maxRank === undefined) return new Array<number>(bonds).fill(Infinity);
  const list = typeof maxRank === 'number' ? new Array<number>(bonds).fill(maxRank) : [...maxRank];
  check(
    list.length === bonds,
    'INVALID_RANK',
    () => `${fn}: maxRank must be a number or ${bonds} numbers (one per inner bond), got ${fmt(maxRank)}`,
  );
  const bad = list.findIndex((r) => !(r === Infinity || (Number.isInteger(r) && r > 0)));
  check(bad < 0, 'INVALID_RANK', () => `${fn}: maxRank must be positive integers, got ${fmt(maxRank)}`);
  return list;
}

export function checkIterOptions(fn: string, maxIter: unknown, tol: unknown): void {
  check(
    Number.isInteger(maxIter) && (maxIter as number) > 0,
    'INVALID_ARGUMENT',
    () => `${fn}: maxIter must be a positive integer, got ${fmt(maxIter)}`,
  );
  check(
    typeof tol === 'number' && tol >= 0,
    'INVALID_ARGUMENT',
    () => `${fn}: tol must be a number >= 0, got ${fmt(tol)}`,
  );
}

/**
 * The input scaled to a largest magnitude of 1, and that scale (0 for an all-zero tensor): the
 * algorithms work on the scaled copy, so that squared norms neither overflow (data near 1e200) nor
 * underflow, and multiply the scale back into their result.
 */
export function scaledInput(fn: string, x: Core, minOrder = 1): { t: NdArray; scale: number } {
  const input = inputTensor(fn, x, minOrder);
  let scale = 0;
  for (const v of input.data) scale = Math.max(scale, Math.abs(v));
  if (scale === 0 || scale === 1) return { t: input, scale };
  // A copy: the caller's array is left as it was.
  return { t: { shape: [...input.shape], data: input.data.map((v) => v / scale) }, scale };
}
