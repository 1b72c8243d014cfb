import { FORMAT_NAMES, type FormatName, formatDefinition, prod } from '@tensorized/decomp';
import { type CellConfig, type CellKind, foldGates, formatList, gateCount } from './config.js';
import { CellError, check } from './errors.js';

/** Splits n into d factors as equal as possible, largest first: 512 -> [8, 4, 4, 4]. */
export function balancedModes(n: number, d: number): number[] {
  check(
    Number.isInteger(n) && n > 0 && Number.isInteger(d) && d > 0,
    'INVALID_CONFIG',
    () => `balancedModes: n and d must be positive integers, got ${n} and ${d}`,
  );
  const primes: number[] = [];
  let rest = n;
  for (let p = 2; p * p <= rest; p++) {
    while (rest % p === 0) {
      primes.push(p);
      rest /= p;
    }
  }
  if (rest > 1) primes.push(rest);
  const modes = new Array<number>(d).fill(1);
  for (const p of primes.sort((a, b) => b - a)) {
    const k = modes.indexOf(Math.min(...modes));
    modes[k]! *= p;
  }
  return modes.sort((a, b) => b - a);
}

export interface BudgetRequest {
  kind?: CellKind;
  inputSize: number;
  hiddenSize: number;
  format: FormatName;
  /** Most RNN parameters allowed, counted the paper's way (W + U + one bias). */
  budget: number;
  /** Number of modes (default 4), used when modes are not given. */
  d?: number;
  inputModes?: readonly number[];
  hiddenModes?: readonly number[];
}

export interface BudgetProposal {
  config: CellConfig;
  /** The configuration's RNN parameters (paper's count), <= budget. */
  paramCount: number;
}

/**
 * Modes and ranks whose parameter count is as close to `budget` as possible without exceeding it
 * (the format's own search: TT and Tucker try every rank vector, pruned by the budget; CP solves
 * for R).
 */
export function proposeConfig(request: BudgetRequest): BudgetProposal {
  const { kind = 'gru', inputSize, hiddenSize, format, budget, d = 4 } = request;
  check(
    FORMAT_NAMES.includes(format),
    'INVALID_CONFIG',
    () => `proposeConfig: format must be ${formatList(FORMAT_NAMES)}, got ${JSON.stringify(format)}`,
  );
  check(
    Number.isFinite(budget) && budget > 0,
    'INVALID_CONFIG',
    () => `proposeConfig: budget must be a positive number, got ${budget}`,
  );
  const inModes = request.inputModes ? [...request.inputModes] : balancedModes(inputSize, d);
  const hidModes = request.hiddenModes ? [...request.hiddenModes] : balancedModes(hiddenSize, d);
  check(
    prod(inModes) === inputSize && prod(hidModes) === hiddenSize && inModes.length === hidModes.length,
    'INVALID_MODES',
    () =>
      `proposeConfig: modes ${JSON.stringify(inModes)} / ${JSON.stringify(hidModes)} must multiply to ${inputSize} / ${hiddenSize} and have the same length`,
  );
  const gates = gateCount(kind);
  const out = foldGates(hidModes, gates);
  const bias = gates * hiddenSize;
  const def = formatDefinition(format);
  // W and U share the spec; the paper counts W + U + one bias.
  const matrices = [
    { inModes, outModes: out },
    { inModes: hidModes, outModes: out },
  ];
  const count = (spec: ReturnType<typeof def.smallest>): number =>
    matrices.reduce((n, m) => n + def.paramCount(def.shape('proposeConfig', spec, m)), bias);
  const best = def.largestWithin(matrices, budget - bias);
  if (!best) {
    throw new CellError(
      'INVALID_CONFIG',
      `proposeConfig: budget ${budget} is below the smallest ${format} ${kind} of these sizes (${count(def.smallest(inModes.length))} parameters)`,
    );
  }
  const bestCount = count(best);
  return {
    config: { kind, inputSize, hiddenSize, inputModes: inModes, hiddenModes: hidModes, input: best, recurrent: best },
    paramCount: bestCount,
  };
}
