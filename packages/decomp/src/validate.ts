import type * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from './errors.js';
import { isNdArray } from './ndarray.js';
import type { Core } from './ops.js';
import { prod } from './prod.js';

export function checkPositiveInts(fn: string, arg: string, values: unknown): asserts values is number[] {
  check(
    Array.isArray(values) && values.length > 0,
    'INVALID_ARGUMENT',
    () => `${fn}: ${arg} must be a non-empty array of positive integers, got ${fmt(values)}`,
  );
  const bad = values.findIndex((v) => !(Number.isInteger(v) && (v as number) > 0));
  check(
    bad < 0,
    arg.toLowerCase().includes('rank') ? 'INVALID_RANK' : 'INVALID_MODES',
    () => `${fn}: ${arg}[${bad}] must be a positive integer, got ${fmt(values[bad])}`,
  );
}

export function checkPositiveInt(fn: string, arg: string, value: unknown): asserts value is number {
  check(
    Number.isInteger(value) && (value as number) > 0,
    arg.toLowerCase().includes('rank') ? 'INVALID_RANK' : 'INVALID_ARGUMENT',
    () => `${fn}: ${arg} must be a positive integer, got ${fmt(value)}`,
  );
}

/** TT ranks: d + 1 positive integers with r_0 = r_d = 1. */
export function checkTtRanks(fn: string, ranks: unknown, d: number): asserts ranks is number[] {
  checkPositiveInts(fn, 'ranks', ranks);
  check(
    ranks.length === d + 1,
    'INVALID_RANK',
    () => `${fn}: ranks must have d + 1 = ${d + 1} entries (r_0..r_d), got ${ranks.length}: ${fmt(ranks)}`,
  );
  check(
    ranks[0] === 1 && ranks[d] === 1,
    'INVALID_RANK',
    () => `${fn}: ranks must start and end with 1 (r_0 = r_d = 1), got ${fmt(ranks)}`,
  );
}

export function checkModesMatch(fn: string, arg: string, modes: readonly number[], size: number | undefined): void {
  if (size === undefined) return;
  const product = prod(modes);
  check(
    product === size,
    'INVALID_MODES',
    () => `${fn}: ${arg} ${fmt(modes)} multiply to ${product}, expected ${size}`,
  );
}

export function checkRank(fn: string, arg: string, x: Core, rank: number): void {
  check(!(x as { isDisposed?: boolean }).isDisposed, 'INVALID_ARGUMENT', () => `${fn}: ${arg} has been disposed`);
  check(
    x.shape.length === rank,
    'SHAPE_MISMATCH',
    () => `${fn}: ${arg} must have rank ${rank}, got shape ${fmt(x.shape)}`,
  );
}

/** Rejects NaN and infinities (reads a TF.js tensor synchronously; meant for construction time). */
export function checkFinite(fn: string, arg: string, x: Core): void {
  const data = isNdArray(x) ? x.data : (x as tf.Tensor).dataSync();
  const bad = (data as ArrayLike<number>).length === 0 ? -1 : findNonFinite(data as ArrayLike<number>);
  check(bad < 0, 'NOT_FINITE', () => `${fn}: ${arg} must be finite, found ${data[bad]} at flat index ${bad}`);
}

function findNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
