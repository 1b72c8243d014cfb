import { cpMatrixParamCount, ttMatrixParamCount, tuckerMatrixParamCount, prod } from '@tensorized/decomp';
import { type CellConfig, type CellKind, foldGates, gateCount, type WeightSpec } from './config.js';
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
  format: 'tt' | 'cp' | 'tucker';
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
 * Modes and ranks whose parameter count is as close to `budget` as possible without exceeding it.
 * TT and Tucker search all rank vectors (pruned by the budget); CP solves for R.
 */
export function proposeConfig(request: BudgetRequest): BudgetProposal {
  const { kind = 'gru', inputSize, hiddenSize, format, budget, d = 4 } = request;
  check(
    ['tt', 'cp', 'tucker'].includes(format),
    'INVALID_CONFIG',
    () => `proposeConfig: format must be 'tt', 'cp' or 'tucker', got ${JSON.stringify(format)}`,
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
  const dd = inModes.length;
  const count = (spec: WeightSpec): number => {
    if (spec.format === 'tt')
      return (
        ttMatrixParamCount({ inModes, outModes: out, ranks: spec.ranks }) +
        ttMatrixParamCount({ inModes: hidModes, outModes: out, ranks: spec.ranks }) +
        bias
      );
    if (spec.format === 'cp')
      return (
        cpMatrixParamCount({ inModes, outModes: out, rank: spec.rank }) +
        cpMatrixParamCount({ inModes: hidModes, outModes: out, rank: spec.rank }) +
        bias
      );
    if (spec.format === 'tucker')
      return (
        tuckerMatrixParamCount({ inModes, outModes: out, inRanks: spec.ranks }) +
        tuckerMatrixParamCount({ inModes: hidModes, outModes: out, inRanks: spec.ranks }) +
        bias
      );
    return 0;
  };
  let best: WeightSpec | undefined;
  let bestCount = -1;
  const consider = (spec: WeightSpec): number => {
    const c = count(spec);
    if (c <= budget && c > bestCount) {
      best = spec;
      bestCount = c;
    }
    return c;
  };
  if (format === 'cp') {
    const perRank = count({ format: 'cp', rank: 1 }) - bias;
    const rank = Math.floor((budget - bias) / perRank);
    if (rank >= 1) consider({ format: 'cp', rank });
  } else if (format === 'tt') {
    // A bond rank above the size of either side adds nothing: cap it there.
    const cap = Array.from({ length: dd - 1 }, (_, k) =>
      Math.min(
        prod(inModes.slice(0, k + 1)) * prod(out.slice(0, k + 1)),
        prod(inModes.slice(k + 1)) * prod(out.slice(k + 1)),
        prod(hidModes.slice(0, k + 1)) * prod(out.slice(0, k + 1)),
        prod(hidModes.slice(k + 1)) * prod(out.slice(k + 1)),
      ),
    );
    const ranks = new Array<number>(dd + 1).fill(1);
    let visited = 0;
    const search = (k: number): void => {
      if (k === dd || visited > 2_000_000) return;
      for (let r = 1; r <= cap[k - 1]!; r++) {
        ranks[k] = r;
        visited++;
        // Counts grow with every rank: once over budget with the later ranks at 1, stop.
        if (consider({ format: 'tt', ranks: [...ranks] }) > budget) break;
        search(k + 1);
      }
      ranks[k] = 1;
    };
    search(1);
  } else {
    const cap = inModes.map((n, k) => Math.min(n, hidModes[k]!, out[k]!));
    const ranks = new Array<number>(dd).fill(1);
    const search = (k: number): void => {
      if (k === dd) return;
      for (let r = 1; r <= cap[k]!; r++) {
        ranks[k] = r;
        if (consider({ format: 'tucker', ranks: [...ranks] }) > budget) break;
        search(k + 1);
      }
      ranks[k] = 1;
    };
    search(0);
  }
  if (!best) {
    const smallest = count(
      format === 'cp'
        ? { format, rank: 1 }
        : format === 'tt'
          ? { format, ranks: new Array<number>(dd + 1).fill(1) }
          : { format, ranks: new Array<number>(dd).fill(1) },
    );
    throw new CellError(
      'INVALID_CONFIG',
      `proposeConfig: budget ${budget} is below the smallest ${format} ${kind} of these sizes (${smallest} parameters)`,
    );
  }
  return {
    config: { kind, inputSize, hiddenSize, inputModes: inModes, hiddenModes: hidModes, input: best, recurrent: best },
    paramCount: bestCount,
  };
}
