import * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from './errors.js';
import { type CpMatrix, cpMatrix } from './formats/cp.js';
import type { CpMatrixSpec, TtMatrixSpec, TuckerMatrixSpec } from './formats/matrix.js';
import { type TtMatrix, ttMatrix } from './formats/tt.js';
import { type TuckerMatrix, tuckerMatrix } from './formats/tucker.js';
import { checkCpMatrixSpec, checkTtMatrixSpec, checkTuckerMatrixSpec } from './params.js';

import { prod } from './prod.js';

/** The authors' rule: every entry of the rebuilt matrix has standard deviation 0.05. */
export const AUTHORS_STD = 0.05;

/**
 * The target standard deviation of the rebuilt matrix's entries:
 * - a number: that std;
 * - `'authors'` (default): 0.05, the rule of the paper's code;
 * - `'glorot'`: variance preserving, sqrt(2 / (N + M)) for an N x M matrix.
 */
export type InitStd = number | 'authors' | 'glorot';

export interface InitOptions {
  std?: InitStd;
  /** Seed for tf.randomNormal; factor k uses seed + k. Unseeded when absent. */
  seed?: number;
}

export function targetStd(std: InitStd | undefined, inSize: number, outSize: number): number {
  const value =
    std === undefined || std === 'authors' ? AUTHORS_STD : std === 'glorot' ? Math.sqrt(2 / (inSize + outSize)) : std;
  check(
    typeof value === 'number' && Number.isFinite(value) && value > 0,
    'INVALID_ARGUMENT',
    () => `init: std must be a positive finite number, 'authors' or 'glorot', got ${fmt(std)}`,
  );
  return value;
}

/**
 * Std of every TT core so that the rebuilt matrix has std `target`:
 * s = (target^2 / prod_k r_k)^(1/(2d)), the product over r_0..r_d (PAPER.md, target 0.05).
 */
export function ttCoreStd(ranks: readonly number[], target = AUTHORS_STD): number {
  const d = ranks.length - 1;
  return (target ** 2 / prod(ranks)) ** (1 / (2 * d));
}

/** Std of every CP factor: s = (target / sqrt(R))^(1/(2d)) for d input and d output factors. */
export function cpFactorStd(rank: number, d: number, target = AUTHORS_STD): number {
  return (target / Math.sqrt(rank)) ** (1 / (2 * d));
}

/** Std of the Tucker core and factors: s = (target / sqrt(prod of the 2d core dims))^(1/(2d+1)). */
export function tuckerFactorStd(coreShape: readonly number[], target = AUTHORS_STD): number {
  return (target / Math.sqrt(prod(coreShape))) ** (1 / (coreShape.length + 1));
}

/** A float32 tensor of N(0, std) entries; seeded (seed + k) when `seed` is given. */
export function normalFactor(shape: number[], std: number, seed: number | undefined, k: number): tf.Tensor {
  return tf.randomNormal(shape, 0, std, 'float32', seed === undefined ? undefined : seed + k);
}

/** A TT-matrix with random cores whose rebuilt matrix has the target std. */
export function ttMatrixInit(spec: TtMatrixSpec, options: InitOptions = {}): TtMatrix<tf.Tensor> {
  checkTtMatrixSpec('ttMatrixInit', spec);
  const s = ttCoreStd(spec.ranks, targetStd(options.std, prod(spec.inModes), prod(spec.outModes)));
  const cores = spec.inModes.map((n, k) =>
    normalFactor([spec.ranks[k]!, n, spec.outModes[k]!, spec.ranks[k + 1]!], s, options.seed, k),
  );
  return ttMatrix(cores, { checkFinite: false });
}

/** A CP matrix (no weights) with random factors whose rebuilt matrix has the target std. */
export function cpMatrixInit(spec: CpMatrixSpec, options: InitOptions = {}): CpMatrix<tf.Tensor> {
  checkCpMatrixSpec('cpMatrixInit', spec);
  const d = spec.inModes.length;
  const s = cpFactorStd(spec.rank, d, targetStd(options.std, prod(spec.inModes), prod(spec.outModes)));
  const inFactors = spec.inModes.map((n, k) => normalFactor([n, spec.rank], s, options.seed, k));
  const outFactors = spec.outModes.map((m, k) => normalFactor([m, spec.rank], s, options.seed, d + k));
  return cpMatrix(inFactors, outFactors, undefined, { checkFinite: false });
}

/** A Tucker matrix with random core and factors whose rebuilt matrix has the target std. */
export function tuckerMatrixInit(spec: TuckerMatrixSpec, options: InitOptions = {}): TuckerMatrix<tf.Tensor> {
  const [inRanks, outRanks] = checkTuckerMatrixSpec('tuckerMatrixInit', spec);
  const d = spec.inModes.length;
  const coreShape = [...inRanks, ...outRanks];
  const s = tuckerFactorStd(coreShape, targetStd(options.std, prod(spec.inModes), prod(spec.outModes)));
  const core = normalFactor(coreShape, s, options.seed, 0);
  const inFactors = spec.inModes.map((n, k) => normalFactor([n, inRanks[k]!], s, options.seed, 1 + k));
  const outFactors = spec.outModes.map((m, k) => normalFactor([m, outRanks[k]!], s, options.seed, 1 + d + k));
  return tuckerMatrix(core, inFactors, outFactors, { checkFinite: false });
}
