import { check, fmt } from './errors.js';
import type { CpMatrixSpec, TtMatrixSpec, TuckerMatrixSpec } from './formats/matrix.js';
import { checkModesMatch, checkPositiveInt, checkPositiveInts, checkTtRanks } from './validate.js';

import { prod } from './prod.js';
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** Optional sizes the modes must multiply to. */
export interface SizeCheck {
  inSize?: number;
  outSize?: number;
}

/** Checks a matrix format's modes (positive, equal length d, multiplying to `sizes`); returns d. */
export function checkModeSpec(
  fn: string,
  spec: { inModes: unknown; outModes: unknown },
  sizes: SizeCheck = {},
): number {
  checkPositiveInts(fn, 'inModes', spec.inModes);
  checkPositiveInts(fn, 'outModes', spec.outModes);
  check(
    spec.inModes.length === spec.outModes.length,
    'INVALID_MODES',
    () => `${fn}: inModes and outModes must have the same length d, got ${fmt(spec.inModes)} and ${fmt(spec.outModes)}`,
  );
  checkModesMatch(fn, 'inModes', spec.inModes, sizes.inSize);
  checkModesMatch(fn, 'outModes', spec.outModes, sizes.outSize);
  return spec.inModes.length;
}

export function checkTtMatrixSpec(fn: string, spec: TtMatrixSpec, sizes: SizeCheck = {}): void {
  const d = checkModeSpec(fn, spec, sizes);
  checkTtRanks(fn, spec.ranks, d);
}

export function checkCpMatrixSpec(fn: string, spec: CpMatrixSpec, sizes: SizeCheck = {}): void {
  checkModeSpec(fn, spec, sizes);
  checkPositiveInt(fn, 'rank', spec.rank);
}

/** Validates and returns [inRanks, outRanks]. */
export function checkTuckerMatrixSpec(fn: string, spec: TuckerMatrixSpec, sizes: SizeCheck = {}): [number[], number[]] {
  const d = checkModeSpec(fn, spec, sizes);
  const outRanks = spec.outRanks ?? spec.inRanks;
  for (const [arg, ranks] of [
    ['inRanks', spec.inRanks],
    ['outRanks', outRanks],
  ] as const) {
    checkPositiveInts(fn, arg, ranks);
    check(ranks.length === d, 'INVALID_RANK', () => `${fn}: ${arg} must have d = ${d} entries, got ${fmt(ranks)}`);
    // A factor A_k (n_k x r_k) with r_k > n_k only adds redundant parameters.
    const modes = arg === 'inRanks' ? spec.inModes : spec.outModes;
    const over = ranks.findIndex((r, k) => r > modes[k]!);
    check(
      over < 0,
      'INVALID_RANK',
      () =>
        `${fn}: ${arg}[${over}] = ${ranks[over]} exceeds its mode size ${modes[over]} (${arg === 'inRanks' ? 'inModes' : 'outModes'} ${fmt(modes)}); a Tucker rank must be at most its mode`,
    );
  }
  return [[...spec.inRanks], [...outRanks]];
}

/** sum_k r_{k-1} n_k m_k r_k (PAPER.md). */
export function ttMatrixParamCount(spec: TtMatrixSpec): number {
  checkTtMatrixSpec('ttMatrixParamCount', spec);
  return sum(spec.inModes.map((n, k) => spec.ranks[k]! * n * spec.outModes[k]! * spec.ranks[k + 1]!));
}

/** R (sum_k n_k + sum_k m_k), plus R when the format carries weights (PAPER.md). */
export function cpMatrixParamCount(spec: CpMatrixSpec, options: { weights?: boolean } = {}): number {
  checkCpMatrixSpec('cpMatrixParamCount', spec);
  return spec.rank * (sum(spec.inModes) + sum(spec.outModes)) + (options.weights ? spec.rank : 0);
}

/** prod(inRanks) prod(outRanks) + sum_k (inRanks_k n_k + outRanks_k m_k) (PAPER.md, with equal ranks). */
export function tuckerMatrixParamCount(spec: TuckerMatrixSpec): number {
  const [inRanks, outRanks] = checkTuckerMatrixSpec('tuckerMatrixParamCount', spec);
  return (
    prod(inRanks) * prod(outRanks) +
    sum(inRanks.map((r, k) => r * spec.inModes[k]!)) +
    sum(outRanks.map((r, k) => r * spec.outModes[k]!))
  );
}
