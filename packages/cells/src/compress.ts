import * as tf from '@tensorflow/tfjs-core';
import {
  type CompressedMatrix,
  type CompressFormat,
  type CompressReport,
  compressMatrix,
  DecompError,
  type FormatName,
} from '@tensorized/decomp';
import { type CellConfig, foldGates, formatList, gateCount, WEIGHT_FORMATS, type WeightSpec } from './config.js';
import { CellError, check } from './errors.js';
import { createCell, type RecurrentCell } from './cell.js';

/** What one matrix becomes: a weight spec (ranks as in createCell), or a format and a parameter budget. */
export type CompressSpec = WeightSpec | { format: FormatName; budget: number } | { format: 'tt' | 'tr'; eps: number };

export interface CompressCellOptions {
  /** W (input to hidden). */
  input: CompressSpec;
  /** U (hidden to hidden). */
  recurrent: CompressSpec;
  /** n_1..n_d of the input (default: the cell's own, where it has them). */
  inputModes?: readonly number[];
  /** m_1..m_d of the hidden state (default: the cell's own). */
  hiddenModes?: readonly number[];
  /** Sweeps of CP-ALS and HOOI (compressMatrix's defaults otherwise). */
  maxIter?: number;
}

export interface CompressCellResult {
  cell: RecurrentCell;
  /** Per factorised matrix, compressMatrix's report (parameters, relative error, time, ranks tried). */
  reports: { W?: CompressReport; U?: CompressReport };
}

/**
 * A new cell whose W and U are the given cell's, compressed (TT-SVD, CP-ALS or HOOI of the dense
 * matrices; see compressMatrix in @tensorized/decomp), with the same biases, kind and options. The
 * gates are folded into the last output mode as the factorised cells hold them: the compressed
 * matrix approximates the dense (in x gates * hidden) matrix column for column. The given cell is
 * left as it was.
 */
export function compressCell(cell: RecurrentCell, options: CompressCellOptions): CompressCellResult {
  const fn = 'compressCell';
  check(
    typeof options === 'object' && options !== null,
    'INVALID_CONFIG',
    () => `${fn}: options must be an object with input and recurrent`,
  );
  const config = cell.config;
  const inputModes = options.inputModes ?? config.inputModes;
  const hiddenModes = options.hiddenModes ?? config.hiddenModes;
  const gates = gateCount(config.kind);
  const reports: CompressCellResult['reports'] = {};
  const specs: WeightSpec[] = [];
  const values: Record<string, tf.Tensor> = {};
  try {
    for (const [name, arg, spec, inModes] of [
      ['W', 'input', options.input, inputModes],
      ['U', 'recurrent', options.recurrent, hiddenModes],
    ] as const) {
      check(
        typeof spec === 'object' && spec !== null && WEIGHT_FORMATS.includes(spec.format),
        'INVALID_CONFIG',
        () =>
          `${fn}: ${arg}.format must be ${formatList()}, got ${JSON.stringify((spec as { format?: unknown } | null)?.format)}`,
      );
      if (spec.format === 'dense') {
        specs.push({ format: 'dense' });
        values[name] = (name === 'W' ? cell.W : cell.U).toDense();
        continue;
      }
      check(
        Array.isArray(inModes) && Array.isArray(hiddenModes),
        'INVALID_MODES',
        () =>
          `${fn}: a ${spec.format} ${arg} needs ${name === 'W' ? 'inputModes' : 'hiddenModes'} and hiddenModes (the cell has none; pass them)`,
      );
      const dense = (name === 'W' ? cell.W : cell.U).toDense();
      const target =
        'budget' in spec
          ? { budget: spec.budget }
          : 'eps' in spec
            ? { eps: spec.eps }
            : spec.format === 'cp'
              ? { rank: spec.rank }
              : spec.format === 'bt'
                ? { ranks: spec.ranks, blocks: spec.blocks }
                : spec.format === 'tt' || spec.format === 'tr'
                  ? { ranks: spec.ranks }
                  : { ranks: [...spec.ranks, ...(spec.outRanks ?? spec.ranks)] };
      let result: ReturnType<typeof compressMatrix>;
      try {
        result = compressMatrix(dense, {
          format: spec.format as CompressFormat,
          inModes: inModes!,
          outModes: foldGates(hiddenModes!, gates),
          ...target,
          ...(options.maxIter ? { maxIter: options.maxIter } : {}),
        });
      } catch (e) {
        if (e instanceof DecompError) throw new CellError('INVALID_CONFIG', `${fn}: ${arg}: ${e.message}`);
        throw e;
      } finally {
        dense.dispose();
      }
      reports[name] = result.report;
      const wanted = 'ranks' in spec && (spec.format === 'tt' || spec.format === 'tr') ? [...spec.ranks] : undefined;
      const { weightSpec, tensors } = toCellWeights(name, result.matrix, wanted);
      specs.push(weightSpec);
      Object.assign(values, tensors);
    }
    values['bW'] = tf.clone(cell.bW);
    values['bU'] = tf.clone(cell.bU);
    const next: CellConfig = {
      ...structuredClone(config as CellConfig),
      input: specs[0]!,
      recurrent: specs[1]!,
      ...(inputModes ? { inputModes: [...inputModes] } : {}),
      ...(hiddenModes ? { hiddenModes: [...hiddenModes] } : {}),
    };
    const out = createCell(next);
    try {
      out.setWeights(values);
    } catch (e) {
      out.dispose();
      throw e;
    }
    return { cell: out, reports };
  } finally {
    tf.dispose(Object.values(values));
  }
}

/**
 * The cell's variables for a compressed matrix: TT and TR cores (zero-padded to the ranks asked for where
 * TT-SVD or TR-SVD found the matrix exactly of lower rank), CP factors with the weights folded into them (the
 * cells' CP has none: each column scaled by |w_r|^(1/2d), the sign on the first factor), the Tucker
 * core (inRanks..., outRanks...) and its factors.
 */
function toCellWeights(
  name: string,
  m: CompressedMatrix,
  wantedTtRanks: number[] | undefined,
): { weightSpec: WeightSpec; tensors: Record<string, tf.Tensor> } {
  const tensors: Record<string, tf.Tensor> = {};
  const t = (a: { shape: readonly number[]; data: Float64Array }) => tf.tensor(Float32Array.from(a.data), [...a.shape]);
  if (m.kind === 'tt-matrix' || m.kind === 'tr-matrix') {
    const ranks = wantedTtRanks ?? m.ranks.slice();
    m.cores.forEach((c, k) => {
      const [r0, n, mm, r1] = c.shape as [number, number, number, number];
      const [R0, R1] = [ranks[k]!, ranks[k + 1]!];
      const padded = new Float32Array(R0 * n * mm * R1);
      for (let a = 0; a < r0; a++)
        for (let i = 0; i < n * mm; i++)
          for (let b = 0; b < r1; b++) padded[(a * n * mm + i) * R1 + b] = c.data[(a * n * mm + i) * r1 + b]!;
      tensors[`${name}.core${k}`] = tf.tensor(padded, [R0, n, mm, R1]);
    });
    return { weightSpec: { format: m.kind === 'tt-matrix' ? 'tt' : 'tr', ranks }, tensors };
  }
  if (m.kind === 'cp-matrix') {
    const d = m.inFactors.length;
    const R = m.rank;
    const w = m.weights?.data ?? new Float64Array(R).fill(1);
    const scale = Array.from(w, (x) => Math.abs(x) ** (1 / (2 * d)));
    [...m.inFactors, ...m.outFactors].forEach((f, k) => {
      const data = Float32Array.from(f.data, (v, i) => v * scale[i % R]! * (k === 0 && w[i % R]! < 0 ? -1 : 1));
      tensors[k < d ? `${name}.in${k}` : `${name}.out${k - d}`] = tf.tensor(data, [...f.shape]);
    });
    return { weightSpec: { format: 'cp', rank: R }, tensors };
  }
  if (m.kind === 'bt-matrix') {
    tensors[`${name}.core`] = t(m.core);
    m.factors.forEach((f, k) => {
      tensors[`${name}.factor${k}`] = t(f);
    });
    return { weightSpec: { format: 'bt', ranks: [...m.ranks], blocks: m.blocks }, tensors };
  }
  const inRanks = [...m.inRanks];
  const outRanks = [...m.outRanks];
  tensors[`${name}.core`] = tf.tensor(Float32Array.from(m.core.data), [...inRanks, ...outRanks]);
  m.inFactors.forEach((f, k) => {
    tensors[`${name}.in${k}`] = t(f);
  });
  m.outFactors.forEach((f, k) => {
    tensors[`${name}.out${k}`] = t(f);
  });
  const same = JSON.stringify(inRanks) === JSON.stringify(outRanks);
  return { weightSpec: { format: 'tucker', ranks: inRanks, ...(same ? {} : { outRanks }) }, tensors };
}
