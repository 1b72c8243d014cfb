import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type Calibration,
  calibrate,
  type MatrixShape,
  planMatmul,
  prepareMatmul,
  setCalibration,
  ttMatrixInit,
} from './index.js';
import { estimateMs, matmulCost, totalCost } from './stages.js';

const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
const paperW: MatrixShape = {
  kind: 'tt-matrix',
  inModes: [4, 4, 4, 4],
  outModes: [8, 4, 4, 12],
  ranks: [1, 11, 11, 11, 1],
};

describe('cost model', () => {
  it('TT contraction FLOPs: sum_k 2 B r_{k-1} r_k n_k m_k (product of the other open modes) (PAPER.md)', () => {
    for (const batch of [1, 16]) {
      const { inModes: n, outModes: m, ranks: r } = paperW as Extract<MatrixShape, { kind: 'tt-matrix' }>;
      // Cores are contracted first to last: at core k the open modes are j_<k and i_>k.
      let expected = 0;
      for (let k = 0; k < 4; k++) {
        expected += 2 * batch * r[k]! * r[k + 1]! * n[k]! * m[k]! * prod(m.slice(0, k)) * prod(n.slice(k + 1));
      }
      const cost = matmulCost(paperW, 'factorised', batch);
      expect(cost.apply.flops).toBe(expected);
      expect(cost.prepare.flops).toBe(0);
    }
  });

  it('TT with cores merged by groups: merging FLOPs once, then the merged cores contracted per use', () => {
    // Groups (2, 2): cores (1, 16, 32, 11) and (11, 16, 48, 1).
    const cost = matmulCost(paperW, 'factorised', 16, { groups: [2, 2] });
    expect(cost.prepare.flops).toBe(2 * (4 * 8) * 11 * (4 * 4 * 11) + 2 * (11 * 4 * 4) * 11 * (4 * 12));
    // Core 1 sees rows (B, i_34), core 2 rows (B, j_12).
    expect(cost.apply.flops).toBe(2 * (16 * 16) * (16 * 32 * 11) + 2 * (16 * 32) * (16 * 11 * 48));
    expect(cost.prepare.packed).toBe(16 * 32 * 11 + 11 * 16 * 48);
    // Four groups of one is the default.
    expect(matmulCost(paperW, 'factorised', 16, { groups: [1, 1, 1, 1] })).toEqual(
      matmulCost(paperW, 'factorised', 16),
    );
  });

  it('rebuild FLOPs: forming W once (cores merged by halves), then 2 B N M per use', () => {
    const cost = matmulCost(paperW, 'rebuild', 16);
    expect(cost.apply.flops).toBe(2 * 16 * 256 * 1536);
    // Merged by halves: (n1 m1 x r1)(r1 x n2 m2 r2), (r2 n3 m3 x r3)(r3 x n4 m4), then
    // (n1n2 m1m2 x r2)(r2 x n3n4 m3m4).
    const expected =
      2 * (4 * 8) * 11 * (4 * 4 * 11) + 2 * (11 * 4 * 4) * 11 * (4 * 12) + 2 * (16 * 32) * 11 * (16 * 48);
    expect(cost.prepare.flops).toBe(expected);
    expect(totalCost(cost, 3).flops).toBe(expected + 3 * 2 * 16 * 256 * 1536);
  });

  it('CP and Tucker: the bottleneck FLOPs', () => {
    const cp: MatrixShape = { kind: 'cp-matrix', inModes: [4, 4, 4, 4], outModes: [8, 4, 4, 12], rank: 50 };
    expect(matmulCost(cp, 'factorised', 8).apply.flops).toBe(2 * 8 * 50 * (256 + 1536));
    const tucker: MatrixShape = { kind: 'tucker-matrix', inModes: [4, 4], outModes: [8, 6], inRanks: [2, 3] };
    // x (B x 16) times K_A (16 x 6), then times C K_B^T (6 x 48).
    const b = 5;
    const expected = 2 * b * 16 * 6 + 2 * b * 6 * 48;
    expect(matmulCost(tucker, 'factorised', b).apply.flops).toBe(expected);
  });
});

describe('planMatmul', () => {
  const flopsOnly: Calibration = {
    backend: 'test',
    overheadMs: 0,
    flopsPerMs: 1e6,
    movedPerMs: Infinity,
    readPerMs: Infinity,
    packPerMs: Infinity,
  };
  const overheadOnly: Calibration = {
    backend: 'test',
    overheadMs: 1,
    flopsPerMs: Infinity,
    movedPerMs: Infinity,
    readPerMs: Infinity,
    packPerMs: Infinity,
  };

  it('picks the path with fewer FLOPs when op overhead is free', () => {
    const plan = planMatmul(paperW, { batch: 1, calibration: flopsOnly });
    expect(plan.cost.factorised.flops).toBeLessThan(plan.cost.rebuild.flops);
    expect(plan.path).toBe('factorised');
    expect(plan.ms.factorised).toBeCloseTo(plan.cost.factorised.flops / 1e6, 12);
  });

  it('picks the path with fewer ops when only overhead counts, and amortises the rebuild over uses', () => {
    const plan = planMatmul(paperW, { batch: 16, uses: 64, calibration: overheadOnly });
    expect(plan.cost.rebuild.ops).toBeLessThan(plan.cost.factorised.ops);
    expect(plan.path).toBe('rebuild');
    expect(plan.ms.rebuild).toBe(estimateMs(plan.cost.rebuild, overheadOnly));
  });

  it('plans a TT-matrix with the grouping of its cores that it predicts fastest', () => {
    for (const calibration of [flopsOnly, overheadOnly]) {
      const plan = planMatmul(paperW, { batch: 16, uses: 64, calibration });
      expect(plan.groups).toBeDefined();
      expect(plan.groups!.reduce((a, b) => a + b, 0)).toBe(4);
      for (const groups of [
        [1, 1, 1, 1],
        [2, 2],
        [1, 3],
        [3, 1],
        [1, 1, 2],
        [2, 1, 1],
        [1, 2, 1],
      ]) {
        const other = estimateMs(totalCost(matmulCost(paperW, 'factorised', 16, { groups }), 64), calibration);
        expect(plan.ms.factorised).toBeLessThanOrEqual(other);
      }
    }
    // Only overhead: the fewest ops is two merged halves' worth of stages, never four.
    expect(planMatmul(paperW, { batch: 1, uses: 64, calibration: overheadOnly }).groups!.length).toBe(2);
    // CP and Tucker have no grouping.
    expect(
      planMatmul(
        { kind: 'cp-matrix', inModes: [4, 4], outModes: [4, 4], rank: 3 },
        { batch: 1, calibration: flopsOnly },
      ).groups,
    ).toBeUndefined();
  });

  it('rejects a bad batch or uses', () => {
    expect(() => planMatmul(paperW, { batch: 0, calibration: flopsOnly })).toThrow(
      /planMatmul: batch must be a positive integer, got 0/,
    );
    expect(() => planMatmul(paperW, { batch: 2, uses: 1.5, calibration: flopsOnly })).toThrow(
      /uses must be a positive integer/,
    );
  });
});

describeEachBackend('calibrate', () => {
  it('setCalibration pins the calibration (validated); calibrate({ force }) measures again', () => {
    const pinned: Calibration = {
      backend: tf.getBackend(),
      overheadMs: 0.01,
      flopsPerMs: 1e7,
      movedPerMs: 1e6,
      readPerMs: 1e7,
      packPerMs: 1e5,
    };
    setCalibration(pinned);
    expect(calibrate()).toEqual(pinned);
    expect(() => setCalibration({ ...pinned, flopsPerMs: -1 })).toThrow(
      /setCalibration: expected \{ backend, overheadMs, flopsPerMs/,
    );
    expect(() => setCalibration({ ...pinned, widePerMs: 0 })).toThrow(/widePerMs \(optional\)/);
    // A calibration saved before widePerMs existed: layout transposes' speed stands in for it.
    const wideCost = { flops: 0, ops: 0, moved: 0, read: 0, packed: 0, wide: 1e6 };
    expect(estimateMs(wideCost, pinned)).toBeCloseTo(1, 10);
    expect(estimateMs(wideCost, { ...pinned, widePerMs: 2e5 })).toBeCloseTo(5, 10);
    expect(calibrate({ force: true })).not.toEqual(pinned);
  });

  it('measures the same inside a gradient scope as outside (the tape is off while it measures), without leaking', () => {
    const outside = calibrate({ force: true });
    const before = tf.memory().numTensors;
    const x = tf.tensor1d([1, 2, 3]);
    let inside: Calibration | undefined;
    const g = tf.grad((v: tf.Tensor) => {
      inside = calibrate({ force: true });
      return tf.sum(tf.square(v));
    })(x);
    expect(Array.from(g.dataSync())).toEqual([2, 4, 6]);
    tf.dispose([x, g]);
    expect(tf.memory().numTensors).toBe(before);
    // Recorded on the tape, single-row products measured about 100x slower.
    for (const k of ['flopsPerMs', 'readPerMs', 'packPerMs'] as const)
      expect(inside![k]).toBeGreaterThan(outside[k] / 10);
  });

  it('measures positive speeds once per backend, without leaking', () => {
    const before = tf.memory().numTensors;
    const c = calibrate({ force: true });
    expect(c.backend).toBe(tf.getBackend());
    for (const v of [c.overheadMs, c.flopsPerMs, c.movedPerMs, c.readPerMs, c.packPerMs, c.widePerMs])
      expect(v).toBeGreaterThan(0);
    expect(calibrate()).toBe(c);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('prepareMatmul refuses an unknown path', () => {
    const w = ttMatrixInit({ inModes: [2, 2], outModes: [2, 2], ranks: [1, 2, 1] }, { seed: 1 });
    expect(() => prepareMatmul(w, 'fast' as never)).toThrow(
      /prepareMatmul: path must be 'factorised' or 'rebuild', got "fast"/,
    );
    tf.dispose([...w.cores]);
  });
});
