import {
  DecompError,
  FORMAT_NAMES,
  type FormatSpec,
  formatDefinition,
  type InitStd,
  type MatmulPath,
  type MatrixShape,
  prod,
} from '@tensorized/decomp';
import { CellError, check } from './errors.js';

export type CellKind = 'gru' | 'lstm';

/**
 * How one weight matrix (W: input-to-hidden, U: hidden-to-hidden) is stored: dense, or a factorised
 * format of @tensorized/decomp by its spec (`{ format: 'tt', ranks }`, `{ format: 'cp', rank }`,
 * `{ format: 'tucker', ranks, outRanks? }`; FORMATS lists them).
 */
export type WeightSpec = { format: 'dense' } | FormatSpec;

/** The formats a weight can take: 'dense' and decomp's factorised formats. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['dense', ...FORMAT_NAMES];

/** "'dense', 'tt', 'cp', 'tucker' or 'tr'": the formats, for messages. */
export function formatList(names: readonly string[] = WEIGHT_FORMATS): string {
  const quoted = names.map((n) => `'${n}'`);
  return quoted.length > 1 ? `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}` : quoted.join('');
}

export type WeightFormat = WeightSpec['format'];

/** Everything a cell is made from; serialisable as JSON. */
export interface CellConfig {
  kind: CellKind;
  inputSize: number;
  hiddenSize: number;
  /** n_1..n_d with product inputSize; needed when W is factorised. */
  inputModes?: readonly number[];
  /** m_1..m_d with product hiddenSize; needed when W or U is factorised. */
  hiddenModes?: readonly number[];
  /** W (inputSize -> gates * hiddenSize). */
  input: WeightSpec;
  /** U (hiddenSize -> gates * hiddenSize). */
  recurrent: WeightSpec;
  /** Target std of every rebuilt weight matrix: 'authors' (0.05, default), 'glorot' or a number. */
  init?: InitStd;
  /** Seed of the initial weights; the same seed gives the same weights. */
  seed?: number;
  /**
   * How U is applied over a sequence: 'auto' (default) lets the decomp planner choose per batch
   * between contracting the factors every step and rebuilding U once; or force one of them. (W,
   * applied once to all time steps, always takes the planner's choice.)
   */
  matmulPath?: 'auto' | MatmulPath;
  /**
   * GRU only: where the reset gate acts. true (default; PyTorch, cuDNN, Keras' reset_after=True):
   * n = tanh(a_n + r * (U h + b_U)_n). false (TF.js' and Keras 1's GRU): n = tanh(a_n + (r * h) U_n + b_U,n).
   */
  resetAfter?: boolean;
  /** The gates' activation: 'sigmoid' (default) or 'hardSigmoid' (max(0, min(1, 0.2 x + 0.5)), TF.js' and Keras' default). */
  recurrentActivation?: 'sigmoid' | 'hardSigmoid';
}

/** Stacked gates: GRU (r, z, n), LSTM (i, f, g, o). */
export function gateCount(kind: CellKind): number {
  return kind === 'gru' ? 3 : 4;
}

/** Output modes with the gates folded into the last one: (m_1, ..., m_{d-1}, G m_d). */
export function foldGates(hiddenModes: readonly number[], gates: number): number[] {
  return [...hiddenModes.slice(0, -1), gates * hiddenModes[hiddenModes.length - 1]!];
}

function rethrow(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof DecompError) {
      const code =
        e.code === 'INVALID_RANK' ? 'INVALID_RANK' : e.code === 'INVALID_MODES' ? 'INVALID_MODES' : 'INVALID_CONFIG';
      throw new CellError(code, e.message);
    }
    throw e;
  }
}

function checkPositiveInt(arg: string, v: unknown): void {
  check(
    Number.isInteger(v) && (v as number) > 0,
    'INVALID_CONFIG',
    () => `createCell: ${arg} must be a positive integer, got ${JSON.stringify(v)}`,
  );
}

/** The modes and spec of W or U, validated against the sizes. */
export interface ResolvedMatrix {
  name: 'W' | 'U';
  spec: WeightSpec;
  inSize: number;
  outSize: number;
  inModes?: number[];
  outModes?: number[];
  /** The factorised format's kind and sizes (absent for a dense weight). */
  shape?: MatrixShape;
}

/** Validates a configuration (throws CellError naming the argument) and returns the two matrices. */
export function resolveMatrices(config: CellConfig): [ResolvedMatrix, ResolvedMatrix] {
  check(typeof config === 'object' && config !== null, 'INVALID_CONFIG', () => 'createCell: config must be an object');
  check(
    config.kind === 'gru' || config.kind === 'lstm',
    'INVALID_CONFIG',
    () => `createCell: kind must be 'gru' or 'lstm', got ${JSON.stringify(config.kind)}`,
  );
  checkPositiveInt('inputSize', config.inputSize);
  check(
    config.resetAfter === undefined || typeof config.resetAfter === 'boolean',
    'INVALID_CONFIG',
    () => `createCell: resetAfter must be true or false, got ${JSON.stringify(config.resetAfter)}`,
  );
  check(
    config.resetAfter === undefined || config.kind === 'gru',
    'INVALID_CONFIG',
    () => 'createCell: resetAfter applies to a GRU only (kind gru)',
  );
  check(
    config.recurrentActivation === undefined ||
      config.recurrentActivation === 'sigmoid' ||
      config.recurrentActivation === 'hardSigmoid',
    'INVALID_CONFIG',
    () =>
      `createCell: recurrentActivation must be 'sigmoid' or 'hardSigmoid', got ${JSON.stringify(config.recurrentActivation)}`,
  );
  checkPositiveInt('hiddenSize', config.hiddenSize);
  const gates = gateCount(config.kind);
  const out = gates * config.hiddenSize;
  const plans: [ResolvedMatrix, ResolvedMatrix] = [
    { name: 'W', spec: config.input, inSize: config.inputSize, outSize: out },
    { name: 'U', spec: config.recurrent, inSize: config.hiddenSize, outSize: out },
  ];
  for (const p of plans) {
    const arg = p.name === 'W' ? 'input' : 'recurrent';
    check(
      typeof p.spec === 'object' && p.spec !== null && WEIGHT_FORMATS.includes(p.spec.format),
      'INVALID_CONFIG',
      () =>
        `createCell: ${arg}.format must be ${formatList()}, got ${JSON.stringify((p.spec as { format?: unknown } | undefined)?.format)}`,
    );
    if (p.spec.format === 'dense') continue;
    const inArg = p.name === 'W' ? 'inputModes' : 'hiddenModes';
    const inModes = p.name === 'W' ? config.inputModes : config.hiddenModes;
    check(
      Array.isArray(inModes),
      'INVALID_MODES',
      () =>
        `createCell: ${inArg} are needed for a ${p.spec.format} ${arg} weight (${p.name}), got ${JSON.stringify(inModes)}`,
    );
    check(
      Array.isArray(config.hiddenModes),
      'INVALID_MODES',
      () => `createCell: hiddenModes are needed for a ${p.spec.format} ${arg} weight (${p.name})`,
    );
    const hiddenModes = config.hiddenModes;
    check(
      prod(hiddenModes) === config.hiddenSize,
      'INVALID_MODES',
      () =>
        `createCell: hiddenModes ${JSON.stringify(hiddenModes)} multiply to ${prod(hiddenModes)}, but the state (hiddenSize) is ${config.hiddenSize}`,
    );
    check(
      prod(inModes) === p.inSize,
      'INVALID_MODES',
      () =>
        `createCell: ${inArg} ${JSON.stringify(inModes)} multiply to ${prod(inModes)}, expected ${p.name === 'W' ? 'inputSize' : 'hiddenSize'} = ${p.inSize}`,
    );
    p.inModes = [...inModes];
    p.outModes = foldGates(hiddenModes, gates);
    const sizes = { inSize: p.inSize, outSize: p.outSize };
    const fn = `createCell (${arg} weight ${p.name})`;
    const spec = p.spec;
    rethrow(() => {
      p.shape = formatDefinition(spec.format).shape(fn, spec, { inModes: p.inModes!, outModes: p.outModes! }, sizes);
    });
  }
  check(
    config.matmulPath === undefined || ['auto', 'factorised', 'rebuild'].includes(config.matmulPath),
    'INVALID_CONFIG',
    () => `createCell: matmulPath must be 'auto', 'factorised' or 'rebuild', got ${JSON.stringify(config.matmulPath)}`,
  );
  check(
    config.seed === undefined || Number.isInteger(config.seed),
    'INVALID_CONFIG',
    () => `createCell: seed must be an integer, got ${JSON.stringify(config.seed)}`,
  );
  return plans;
}
