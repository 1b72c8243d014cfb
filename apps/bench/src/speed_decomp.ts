import * as tf from '@tensorflow/tfjs-core';
import { calibrate, prepareMatmul, paramCount, planMatmul, ttMatrixInit, ttMatrixToDense } from '@tensorized/decomp';
import { matmulCost, totalCost } from '@tensorized/decomp/stages';
import { msPerCallEach } from './measure.js';
import { markdownTable, ms, si } from './table.js';

/** The matrices of the benchmark: the paper's W and U (gates folded into the last mode), and a larger one. */
export const DECOMP_MATRICES = [
  { name: '256x1536', inModes: [4, 4, 4, 4], outModes: [8, 4, 4, 12] },
  { name: '512x1536', inModes: [8, 4, 4, 4], outModes: [8, 4, 4, 12] },
  { name: '1024x3072', inModes: [8, 4, 8, 4], outModes: [8, 4, 8, 12] },
];
export const DECOMP_RANKS = [2, 4, 8, 16];
export const DECOMP_BATCHES = [1, 16, 128];

export interface DecompSpeedRow {
  matrix: string;
  rank: number;
  batch: number;
  params: number;
  flops: { dense: number; factorised: number; rebuild: number };
  ms: { dense: number; factorised: number; rebuild: number };
  pick: 'factorised' | 'rebuild';
  /** How the planner merges the TT cores for the contraction, e.g. '2+2'. */
  groups: string;
  pickWithin10: boolean;
}

/**
 * ms per call and FLOPs of: dense matMul, TT contraction, rebuild + dense matMul, and the planner's
 * pick (which of the two factorised-format paths it chose, and whether its measured time is within
 * 10% of the faster one).
 */
export function runDecompSpeed(
  options: { minMs?: number; onRow?: (row: DecompSpeedRow) => void } = {},
): DecompSpeedRow[] {
  // The planner as a model uses it: the checked-in profile of the backend (measured where there is none).
  const calibration = calibrate();
  const rows: DecompSpeedRow[] = [];
  for (const m of DECOMP_MATRICES) {
    for (const r of DECOMP_RANKS) {
      const spec = { inModes: m.inModes, outModes: m.outModes, ranks: [1, r, r, r, 1] };
      const w = ttMatrixInit(spec, { seed: 1 });
      const dense = ttMatrixToDense(w);
      const shape = { kind: 'tt-matrix' as const, ...spec };
      for (const batch of DECOMP_BATCHES) {
        const x = tf.randomNormal([batch, dense.shape[0]], 0, 1, 'float32', 2) as tf.Tensor2D;
        // The TT contraction with the cores merged as the planner would merge them.
        const plan = planMatmul(shape, { batch, calibration });
        const groups = plan.groups ? { groups: plan.groups } : {};
        const timing = msPerCallEach(
          {
            dense: () => tf.matMul(x, dense),
            factorised: () => tf.tidy(() => prepareMatmul(w, 'factorised', groups).apply(x)),
            rebuild: () => tf.tidy(() => tf.matMul(x, ttMatrixToDense(w))),
          },
          options,
        );
        const best = Math.min(timing.factorised, timing.rebuild);
        const row: DecompSpeedRow = {
          matrix: m.name,
          rank: r,
          batch,
          params: paramCount(w),
          flops: {
            dense: 2 * batch * dense.shape[0] * dense.shape[1],
            factorised: totalCost(matmulCost(shape, 'factorised', batch, groups)).flops,
            rebuild: totalCost(matmulCost(shape, 'rebuild', batch)).flops,
          },
          ms: timing,
          pick: plan.path,
          groups: plan.groups?.join('+') ?? '',
          pickWithin10: timing[plan.path] <= 1.1 * best,
        };
        rows.push(row);
        options.onRow?.(row);
        x.dispose();
      }
      tf.dispose([dense, ...w.cores]);
    }
  }
  return rows;
}

export function decompSpeedTable(rows: readonly DecompSpeedRow[]): string {
  return markdownTable(
    [
      'matrix',
      'TT rank',
      'B',
      'TT params',
      'TT groups',
      'dense FLOPs',
      'TT FLOPs',
      'rebuild FLOPs',
      'dense ms',
      'TT ms',
      'rebuild+dense ms',
      'pick',
      'pick ms',
      'pick ok',
    ],
    rows.map((r) => [
      r.matrix,
      r.rank,
      r.batch,
      r.params,
      r.groups,
      si(r.flops.dense),
      si(r.flops.factorised),
      si(r.flops.rebuild),
      ms(r.ms.dense),
      ms(r.ms.factorised),
      ms(r.ms.rebuild),
      r.pick === 'factorised' ? 'TT' : 'rebuild',
      ms(r.ms[r.pick]),
      r.pickWithin10 ? 'yes' : 'NO',
    ]),
  );
}
