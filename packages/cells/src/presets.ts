import { check } from './errors.js';
import { type FormatName, type FormatSpec, formatDefinition } from '@tensorized/decomp';
import type { CellConfig, CellKind, WeightSpec } from './config.js';

/**
 * The default spec of every factorised format, in the order the models are listed: the paper's TT
 * ranks (1,11,11,11,1), CP R = 80 and Tucker (2,4,2,4), and, beyond the paper, a tensor ring of
 * ranks 6 and a Block-Term matrix of 6 blocks of ranks 4 (10,752 RNN parameters each at the paper's
 * sizes, near TT's 11,392).
 */
export const PAPER_SPECS: { readonly [F in FormatName]: Extract<FormatSpec, { format: F }> } = {
  cp: { format: 'cp', rank: 80 },
  tucker: { format: 'tucker', ranks: [2, 4, 2, 4] },
  tt: { format: 'tt', ranks: [1, 11, 11, 11, 1] },
  tr: { format: 'tr', ranks: [6, 6, 6, 6, 6] },
  bt: { format: 'bt', ranks: [4, 4, 4, 4], blocks: 6 },
};

/** A model of the comparison: a dense cell ('gru') or a format and a cell ('tt-gru'). */
export type ModelName = CellKind | `${FormatName}-${CellKind}`;

/** The model names of the paper's comparison (and their LSTM forms): dense first, then every format. */
export const MODEL_NAMES: readonly ModelName[] = (['gru', 'lstm'] as const).flatMap((kind) => [
  kind,
  ...(Object.keys(PAPER_SPECS) as FormatName[]).map((f): ModelName => `${f}-${kind}`),
]);

export interface PaperCellOptions {
  /** Default 256 = 4x4x4x4 (PAPER.md). */
  inputSize?: number;
  inputModes?: readonly number[];
  /** Default 512 = 8x4x4x4. */
  hiddenSize?: number;
  hiddenModes?: readonly number[];
  /** TT ranks (default (1, 11, 11, 11, 1)) or Tucker ranks (default (2, 4, 2, 4)). */
  ranks?: readonly number[];
  /** Block-Term: the number of blocks (default 6). */
  blocks?: number;
  /** CP rank (default 80). */
  rank?: number;
  init?: CellConfig['init'];
  seed?: number;
  matmulPath?: CellConfig['matmulPath'];
}

/**
 * The cell configuration of a named model with the paper's sizes and ranks, unless overridden:
 * input 256 = 4x4x4x4, hidden 512 = 8x4x4x4, TT ranks (1,11,11,11,1), CP R = 80, Tucker (2,4,2,4).
 */
export function paperCellConfig(model: ModelName, options: PaperCellOptions = {}): CellConfig {
  check(
    (MODEL_NAMES as readonly string[]).includes(model),
    'INVALID_CONFIG',
    () => `paperCellConfig: model must be one of ${MODEL_NAMES.join(', ')}, got ${JSON.stringify(model)}`,
  );
  const [formatName, kindName] = model.includes('-') ? (model.split('-') as [string, string]) : ['dense', model];
  const kind = kindName as CellKind;
  let spec: WeightSpec = { format: 'dense' };
  if (formatName !== 'dense') {
    const fields = formatDefinition(formatName).specFields;
    const given = Object.fromEntries(
      fields
        .filter((f) => options[f as keyof PaperCellOptions] !== undefined)
        .map((f) => [f, options[f as keyof PaperCellOptions]]),
    );
    spec = { ...PAPER_SPECS[formatName as FormatName], ...given } as WeightSpec;
  }
  const config: CellConfig = {
    kind,
    inputSize: options.inputSize ?? 256,
    hiddenSize: options.hiddenSize ?? 512,
    input: spec,
    recurrent: spec,
  };
  if (spec.format !== 'dense') {
    config.inputModes = options.inputModes ?? (options.inputSize === undefined ? [4, 4, 4, 4] : undefined);
    config.hiddenModes = options.hiddenModes ?? (options.hiddenSize === undefined ? [8, 4, 4, 4] : undefined);
  }
  if (options.init !== undefined) config.init = options.init;
  if (options.seed !== undefined) config.seed = options.seed;
  if (options.matmulPath !== undefined) config.matmulPath = options.matmulPath;
  return config;
}
