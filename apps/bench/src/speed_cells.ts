import * as tf from '@tensorflow/tfjs-core';
import { createCell, type ModelName, paperCellConfig, type RecurrentCell } from '@tensorized/cells';
import { msPerCallEach } from './measure.js';
import { markdownTable, ms } from './table.js';

/**
 * The paper's configurations (input 256 = 4x4x4x4, hidden 512 = 8x4x4x4), and a tensor ring of about
 * TT's budget (10,752 RNN parameters against 11,392).
 */
export const CELL_MODELS: Array<[string, ModelName, Parameters<typeof paperCellConfig>[1]]> = [
  ['GRU (dense)', 'gru', {}],
  ['CP-GRU R=80', 'cp-gru', { rank: 80 }],
  ['Tucker-GRU (2,4,2,4)', 'tucker-gru', { ranks: [2, 4, 2, 4] }],
  ['TT-GRU ranks 11', 'tt-gru', { ranks: [1, 11, 11, 11, 1] }],
  ['TR-GRU ranks 6', 'tr-gru', { ranks: [6, 6, 6, 6, 6] }],
  ['BT-GRU ranks 4, 6 blocks', 'bt-gru', { ranks: [4, 4, 4, 4], blocks: 6 }],
];

export interface CellSpeedRow {
  model: string;
  params: number;
  bytes: number;
  inferMs: Record<1 | 16, number>;
  /** Batch 1 with the prepared W and U kept between runs (RecurrentCell.keepPrepared). */
  inferKeptMs: number;
  trainMs: number;
  path: string;
}

const T_INFER = 64;

/**
 * Per model: ms per time step of inference (a run over 64 steps, divided by 64) at batch 1 and 16,
 * at batch 1 also with W and U kept prepared between runs (a second cell with the same weights and
 * keepPrepared), and ms of one training step (forward + backward over 16 sequences of 64 steps). All models are
 * measured in the same alternating rounds (see msPerCallEach), so that drifts of a shared machine
 * hit them alike and their ratios hold.
 */
export function runCellSpeed(options: { minMs?: number; onRow?: (row: CellSpeedRow) => void } = {}): CellSpeedRow[] {
  const x1 = tf.randomNormal([1, T_INFER, 256], 0, 1, 'float32', 1) as tf.Tensor3D;
  const x16 = tf.randomNormal([16, T_INFER, 256], 0, 1, 'float32', 2) as tf.Tensor3D;
  const probe = tf.randomNormal([16, T_INFER, 512], 0, 1, 'float32', 3);
  const cells = CELL_MODELS.map(
    ([, model, opts]) => createCell(paperCellConfig(model, { ...opts, seed: 1 })) as RecurrentCell,
  );
  const kept = CELL_MODELS.map(([, model, opts]) => {
    const cell = createCell(paperCellConfig(model, { ...opts, seed: 1 })) as RecurrentCell;
    cell.keepPrepared();
    return cell;
  });
  const fns: Record<string, () => tf.Tensor> = {};
  cells.forEach((cell, i) => {
    const vars = cell.trainableVariables;
    fns[`infer1-${i}`] = () => tf.tidy(() => cell.run(x1).outputs);
    fns[`infer16-${i}`] = () => tf.tidy(() => cell.run(x16).outputs);
    fns[`infer1kept-${i}`] = () => tf.tidy(() => kept[i]!.run(x1).outputs);
    fns[`train-${i}`] = () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.mul(cell.run(x16).outputs, probe)), vars);
        tf.dispose(Object.values(grads));
        return value;
      });
  });
  const timing = msPerCallEach(fns, { minMs: options.minMs ?? 1000, rounds: 6 });
  const rows: CellSpeedRow[] = cells.map((cell, i) => {
    const row: CellSpeedRow = {
      model: CELL_MODELS[i]![0],
      params: cell.paramCount(),
      bytes: 4 * cell.paramCountFull(),
      inferMs: { 1: timing[`infer1-${i}`]! / T_INFER, 16: timing[`infer16-${i}`]! / T_INFER },
      inferKeptMs: timing[`infer1kept-${i}`]! / T_INFER,
      trainMs: timing[`train-${i}`]!,
      path: uPathText(cell),
    };
    options.onRow?.(row);
    return row;
  });
  tf.dispose([x1, x16, probe]);
  for (const cell of [...cells, ...kept]) cell.dispose();
  return rows;
}

/** U's path in a training step: dense, rebuilt or factorised (with the TT cores merged), and for a
 * factorised U whether its gradient comes from the summed dU or factor by factor (see gruSequence). */
function uPathText(cell: RecurrentCell): string {
  const fused = cell.kind === 'gru';
  const path = cell.U.plannedPath(16, T_INFER, 'auto', true, fused);
  if (path !== 'factorised') return path;
  const groups = cell.U.plannedGroups(16, T_INFER, 'auto', true, fused);
  const route = cell.U.plannedWeightGradient(16, T_INFER) === 'dense' ? 'gradient from dU' : 'gradient per factor';
  return `factorised${groups ? ` (cores ${groups.join('+')})` : ''}, ${route}`;
}

export function cellSpeedTable(rows: readonly CellSpeedRow[]): string {
  const dense = rows[0]!;
  const ratios = (f: (r: CellSpeedRow) => number) =>
    rows
      .slice(1)
      .map((r) => `${r.model.split(' ')[0]} ${(f(r) / f(dense)).toFixed(2)}x`)
      .join(', ');
  const table = markdownTable(
    [
      'model',
      'RNN params',
      'weight bytes',
      'U in training (B=16, T=64)',
      'infer ms/step B=1',
      'B=1, prepared kept',
      'infer ms/step B=16',
      'train ms/step B=16 T=64',
      'train vs dense',
    ],
    rows.map((r) => [
      r.model,
      r.params,
      r.bytes,
      r.path,
      ms(r.inferMs[1]),
      ms(r.inferKeptMs),
      ms(r.inferMs[16]),
      ms(r.trainMs),
      `${(r.trainMs / dense.trainMs).toFixed(2)}x`,
    ]),
  );
  return `${table}

inference at batch 1 per step against the dense GRU: ${ratios((r) => r.inferMs[1])}; with the prepared W and U kept: ${ratios((r) => r.inferKeptMs)}`;
}
