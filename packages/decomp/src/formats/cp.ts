import type * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from '../errors.js';
import type { Computable, Core } from '../ops.js';
import { checkFinite, checkRank } from '../validate.js';
import type { FormatOptions } from './tt.js';

/** A tensor of shape (n_1..n_d) in CP form: X = sum_r w_r a_1r o ... o a_dr, factors (n_k x R). */
export interface CpTensor<C extends Computable = tf.Tensor> {
  readonly kind: 'cp';
  readonly shape: readonly number[];
  readonly rank: number;
  readonly factors: readonly C[];
  /** Optional weights w_r (length R); absent means all ones. */
  readonly weights: C | undefined;
}

/**
 * A matrix (prod n_k x prod m_k) in CP form: W[i, j] = sum_r w_r prod_k A_k[i_k, r] prod_k B_k[j_k, r],
 * input factors A_k (n_k x R), output factors B_k (m_k x R).
 */
export interface CpMatrix<C extends Computable = tf.Tensor> {
  readonly kind: 'cp-matrix';
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly rank: number;
  readonly inFactors: readonly C[];
  readonly outFactors: readonly C[];
  readonly weights: C | undefined;
}

export function cpTensor<C extends Core>(factors: readonly C[], weights?: C, options: FormatOptions = {}): CpTensor<C> {
  const rank = checkCpFactors('cpTensor', 'factors', factors, weights, options);
  return { kind: 'cp', shape: factors.map((f) => f.shape[0]!), rank, factors: [...factors], weights };
}

export function cpMatrix<C extends Core>(
  inFactors: readonly C[],
  outFactors: readonly C[],
  weights?: C,
  options: FormatOptions = {},
): CpMatrix<C> {
  const rank = checkCpFactors('cpMatrix', 'inFactors', inFactors, weights, options);
  const outRank = checkCpFactors('cpMatrix', 'outFactors', outFactors, undefined, options);
  check(
    inFactors.length === outFactors.length,
    'INVALID_MODES',
    () =>
      `cpMatrix: inFactors and outFactors must have the same count d, got ${inFactors.length} and ${outFactors.length}`,
  );
  check(
    outRank === rank,
    'INVALID_RANK',
    () => `cpMatrix: outFactors must have R = ${rank} columns like inFactors, got ${outRank}`,
  );
  return {
    kind: 'cp-matrix',
    inModes: inFactors.map((f) => f.shape[0]!),
    outModes: outFactors.map((f) => f.shape[0]!),
    rank,
    inFactors: [...inFactors],
    outFactors: [...outFactors],
    weights,
  };
}

function checkCpFactors(
  fn: string,
  arg: string,
  factors: readonly Core[],
  weights: Core | undefined,
  options: FormatOptions,
): number {
  check(
    Array.isArray(factors) && factors.length > 0,
    'INVALID_ARGUMENT',
    () => `${fn}: ${arg} must be a non-empty array of (n_k x R) matrices`,
  );
  const rank = factors[0]!.shape[1];
  factors.forEach((f, k) => {
    checkRank(fn, `${arg}[${k}]`, f, 2);
    check(
      f.shape[0]! > 0 && f.shape[1] === rank && rank! > 0,
      'INVALID_RANK',
      () => `${fn}: ${arg}[${k}] must have shape (n_${k}, R = ${rank}) with n_${k} > 0, got ${fmt(f.shape)}`,
    );
    if (options.checkFinite ?? true) checkFinite(fn, `${arg}[${k}]`, f);
  });
  if (weights !== undefined) {
    check(
      weights.shape.length === 1 && weights.shape[0] === rank,
      'SHAPE_MISMATCH',
      () => `${fn}: weights must have shape [R = ${rank}], got ${fmt(weights.shape)}`,
    );
    if (options.checkFinite ?? true) checkFinite(fn, 'weights', weights);
  }
  return rank!;
}
