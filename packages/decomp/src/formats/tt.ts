import { check, fmt } from '../errors.js';
import type { Computable, Core } from '../ops.js';
import { checkFinite, checkRank } from '../validate.js';
import type * as tf from '@tensorflow/tfjs-core';

export interface FormatOptions {
  /** Reject NaN/Infinity in the cores (reads tensors once). Default true. */
  checkFinite?: boolean;
}

/** A tensor of shape (n_1..n_d) in Tensor-Train form: cores G_k of shape (r_{k-1}, n_k, r_k). */
export interface TtTensor<C extends Computable = tf.Tensor> {
  readonly kind: 'tt';
  readonly shape: readonly number[];
  /** r_0..r_d, with r_0 = r_d = 1. */
  readonly ranks: readonly number[];
  readonly cores: readonly C[];
}

/**
 * A matrix of shape (prod n_k, prod m_k) in TT-matrix form: cores G_k of shape
 * (r_{k-1}, n_k, m_k, r_k); W[(i_1..i_d), (j_1..j_d)] = G_1[:, i_1, j_1, :] ... G_d[:, i_d, j_d, :]
 * with row and column indices flattened row-major.
 */
export interface TtMatrix<C extends Computable = tf.Tensor> {
  readonly kind: 'tt-matrix';
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly ranks: readonly number[];
  readonly cores: readonly C[];
}

/** Builds a TT tensor from its cores (r_{k-1}, n_k, r_k), checking every shape. */
export function ttTensor<C extends Core>(cores: readonly C[], options: FormatOptions = {}): TtTensor<C> {
  const ranks = checkTtCores('ttTensor', cores, 3, options);
  return { kind: 'tt', shape: cores.map((c) => c.shape[1]!), ranks, cores: [...cores] };
}

/** Builds a TT-matrix from its cores (r_{k-1}, n_k, m_k, r_k), checking every shape. */
export function ttMatrix<C extends Core>(cores: readonly C[], options: FormatOptions = {}): TtMatrix<C> {
  const ranks = checkTtCores('ttMatrix', cores, 4, options);
  return {
    kind: 'tt-matrix',
    inModes: cores.map((c) => c.shape[1]!),
    outModes: cores.map((c) => c.shape[2]!),
    ranks,
    cores: [...cores],
  };
}

function checkTtCores(fn: string, cores: readonly Core[], coreRank: number, options: FormatOptions): number[] {
  check(
    Array.isArray(cores) && cores.length > 0,
    'INVALID_ARGUMENT',
    () => `${fn}: cores must be a non-empty array, got ${Array.isArray(cores) ? '[]' : typeof cores}`,
  );
  const ranks = checkCoreChain(fn, cores, coreRank, options);
  check(
    ranks[0] === 1 && ranks[ranks.length - 1] === 1,
    'INVALID_RANK',
    () => `${fn}: boundary ranks must be 1 (r_0 = r_d = 1), got ranks ${fmt(ranks)}`,
  );
  return ranks;
}

/**
 * Checks a chain of cores (r_{k-1}, .., r_k) of order `coreRank`: every shape non-empty, each core
 * starting with the rank the previous one ends with, finite unless told not to check. Returns the
 * ranks r_0..r_d (TT and TR cores; the caller checks the boundary).
 */
export function checkCoreChain(fn: string, cores: readonly Core[], coreRank: number, options: FormatOptions): number[] {
  const ranks = [cores[0]!.shape[0]!];
  cores.forEach((core, k) => {
    checkRank(fn, `cores[${k}]`, core, coreRank);
    check(
      core.shape.every((s: number) => s > 0),
      'SHAPE_MISMATCH',
      () => `${fn}: cores[${k}] has an empty dimension: shape ${fmt(core.shape)}`,
    );
    check(
      core.shape[0] === ranks[k],
      'INVALID_RANK',
      () =>
        `${fn}: cores[${k}] must start with rank r_${k} = ${ranks[k]} (the last dimension of ` +
        `cores[${k - 1}]), got shape ${fmt(core.shape)}`,
    );
    ranks.push(core.shape[coreRank - 1]!);
    if (options.checkFinite ?? true) checkFinite(fn, `cores[${k}]`, core);
  });
  return ranks;
}
