import type * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from '../errors.js';
import type { Computable, Core } from '../ops.js';
import { checkFinite, checkRank } from '../validate.js';
import type { FormatOptions } from './tt.js';

/** A tensor (n_1..n_d) in Tucker form: X = G x_1 U_1 ... x_d U_d, core G (r_1..r_d), U_k (n_k x r_k). */
export interface TuckerTensor<C extends Computable = tf.Tensor> {
  readonly kind: 'tucker';
  readonly shape: readonly number[];
  readonly ranks: readonly number[];
  readonly core: C;
  readonly factors: readonly C[];
}

/**
 * A matrix (prod n_k x prod m_k) in Tucker form, the 2d-way tensor
 * W = C x_1 A_1 ... x_d A_d x_{d+1} B_1 ... x_{2d} B_d with core C of shape (inRanks..., outRanks...),
 * A_k (n_k x inRanks_k) and B_k (m_k x outRanks_k). The paper uses inRanks = outRanks.
 */
export interface TuckerMatrix<C extends Computable = tf.Tensor> {
  readonly kind: 'tucker-matrix';
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly inRanks: readonly number[];
  readonly outRanks: readonly number[];
  readonly core: C;
  readonly inFactors: readonly C[];
  readonly outFactors: readonly C[];
}

export function tuckerTensor<C extends Core>(
  core: C,
  factors: readonly C[],
  options: FormatOptions = {},
): TuckerTensor<C> {
  checkTuckerFactors('tuckerTensor', 'factors', factors, core.shape, 0, options);
  check(
    core.shape.length === factors.length,
    'SHAPE_MISMATCH',
    () => `tuckerTensor: core must have one dimension per factor (${factors.length}), got shape ${fmt(core.shape)}`,
  );
  if (options.checkFinite ?? true) checkFinite('tuckerTensor', 'core', core);
  return {
    kind: 'tucker',
    shape: factors.map((f) => f.shape[0]!),
    ranks: [...core.shape],
    core,
    factors: [...factors],
  };
}

export function tuckerMatrix<C extends Core>(
  core: C,
  inFactors: readonly C[],
  outFactors: readonly C[],
  options: FormatOptions = {},
): TuckerMatrix<C> {
  const d = Array.isArray(inFactors) ? inFactors.length : 0;
  check(
    Array.isArray(outFactors) && outFactors.length === d && d > 0,
    'INVALID_MODES',
    () =>
      `tuckerMatrix: inFactors and outFactors must be non-empty with the same count d, got ${d} and ${Array.isArray(outFactors) ? outFactors.length : typeof outFactors}`,
  );
  check(
    core.shape.length === 2 * d,
    'SHAPE_MISMATCH',
    () =>
      `tuckerMatrix: core must have 2d = ${2 * d} dimensions (inRanks..., outRanks...), got shape ${fmt(core.shape)}`,
  );
  checkTuckerFactors('tuckerMatrix', 'inFactors', inFactors, core.shape, 0, options);
  checkTuckerFactors('tuckerMatrix', 'outFactors', outFactors, core.shape, d, options);
  if (options.checkFinite ?? true) checkFinite('tuckerMatrix', 'core', core);
  return {
    kind: 'tucker-matrix',
    inModes: inFactors.map((f) => f.shape[0]!),
    outModes: outFactors.map((f) => f.shape[0]!),
    inRanks: core.shape.slice(0, d),
    outRanks: core.shape.slice(d),
    core,
    inFactors: [...inFactors],
    outFactors: [...outFactors],
  };
}

function checkTuckerFactors(
  fn: string,
  arg: string,
  factors: readonly Core[],
  coreShape: readonly number[],
  offset: number,
  options: FormatOptions,
): void {
  check(
    Array.isArray(factors) && factors.length > 0,
    'INVALID_ARGUMENT',
    () => `${fn}: ${arg} must be a non-empty array of (n_k x r_k) matrices`,
  );
  factors.forEach((f, k) => {
    checkRank(fn, `${arg}[${k}]`, f, 2);
    check(
      f.shape[0]! > 0 && f.shape[1] === coreShape[offset + k],
      'INVALID_RANK',
      () =>
        `${fn}: ${arg}[${k}] must have shape (n_${k}, ${coreShape[offset + k]}) to match core ` +
        `dimension ${offset + k}, got ${fmt(f.shape)}`,
    );
    if (options.checkFinite ?? true) checkFinite(fn, `${arg}[${k}]`, f);
  });
}
