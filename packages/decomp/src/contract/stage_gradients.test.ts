import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import { randn } from '../../test/reference.js';
import { type Calibration, type NdArray, Rng, toTensor, ttMatrix } from '../index.js';
import {
  applyStages,
  f64Ops,
  hasDenseGradient,
  planWeightGradient,
  type StagedMatmul,
  stageGradientsFromDense,
  tfOps,
  ttStages,
} from '../stages.js';

const identity = (n: number): NdArray => ({
  shape: [n, n],
  data: Float64Array.from({ length: n * n }, (_, i) => (i % (n + 1) === 0 ? 1 : 0)),
});

/** <dW, W(matrices)> with W rebuilt by applying the stages to the identity. */
function pairing(staged: StagedMatmul<NdArray>, matrices: NdArray[], dW: NdArray): number {
  const n = dW.shape[0]!;
  const replaced: StagedMatmul<NdArray> = {
    ...staged,
    stages: staged.stages.map((s, i) => ({ view: s.view, matrix: matrices[i]! })),
  };
  const w = applyStages(f64Ops, identity(n), replaced);
  return w.data.reduce((acc, v, i) => acc + v * dW.data[i]!, 0);
}

/**
 * <dM_i, E> must equal the central difference of <dW, W> along E in M_i: W is linear in each stage
 * matrix, so the difference is exact up to rounding.
 */
function checkAgainstDifferences(staged: StagedMatmul<NdArray>, rng: Rng): void {
  const mats = staged.stages.map((s) => s.matrix);
  const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
  const inSize = staged.tt ? prod(staged.tt.inModes) : mats[0]!.shape[0]!;
  const n = staged.tt ? prod(staged.tt.outModes) : mats[mats.length - 1]!.shape[1]!;
  const dW = randn(rng, [inSize, n]);
  const grads = stageGradientsFromDense(f64Ops, staged, dW);
  expect(grads.map((g) => g.shape)).toEqual(mats.map((m) => m.shape));
  mats.forEach((m, i) => {
    const e = randn(rng, [...m.shape]);
    const shifted = (eps: number): NdArray[] =>
      mats.map((x, j) => (j === i ? { shape: x.shape, data: x.data.map((v, q) => v + eps * e.data[q]!) } : x));
    const fd = (pairing(staged, shifted(1), dW) - pairing(staged, shifted(-1), dW)) / 2;
    const analytic = grads[i]!.data.reduce((acc, v, q) => acc + v * e.data[q]!, 0);
    expect(analytic).toBeCloseTo(fd, 8);
  });
}

function ttCores(rng: Rng, inModes: number[], outModes: number[], ranks: number[]): NdArray[] {
  return inModes.map((n, k) => randn(rng, [ranks[k]!, n, outModes[k]!, ranks[k + 1]!], 0.5));
}

describe('stageGradientsFromDense (float64, against differences of <dW, W>)', () => {
  const ttCases: Array<[number[], number[], number[], number[][]]> = [
    [[5], [3], [1, 1], [[1]]],
    [
      [4, 2],
      [2, 5],
      [1, 4, 1],
      [[1, 1], [2]],
    ],
    [
      [2, 3, 2],
      [3, 2, 2],
      [1, 3, 2, 1],
      [[1, 1, 1], [2, 1], [1, 2], [3]],
    ],
    [
      [2, 2, 2, 2],
      [2, 1, 3, 2],
      [1, 2, 3, 2, 1],
      [
        [1, 1, 1, 1],
        [2, 2],
        [1, 3],
      ],
    ],
  ];
  for (const [inModes, outModes, ranks, groupings] of ttCases) {
    for (const groups of groupings) {
      it(`TT ${inModes.join('x')} -> ${outModes.join('x')} ranks ${ranks.join(',')}, cores grouped ${groups.join('+')}`, () => {
        const rng = new Rng(3);
        const staged = ttStages(f64Ops, ttMatrix(ttCores(rng, inModes, outModes, ranks)), groups);
        expect(hasDenseGradient(staged)).toBe(true);
        checkAgainstDifferences(staged, rng);
      });
    }
  }

  it('a chain of plain matrices: one (dense), two (CP, Tucker), three', () => {
    const rng = new Rng(4);
    for (const shapes of [
      [[6, 5]],
      [
        [6, 3],
        [3, 7],
      ],
      [
        [4, 3],
        [3, 2],
        [2, 5],
      ],
    ]) {
      const staged: StagedMatmul<NdArray> = {
        stages: shapes.map((s) => ({ view: [], matrix: randn(rng, s) })),
        outView: [],
      };
      checkAgainstDifferences(staged, rng);
    }
  });

  it('refuses stages with views that do not come from ttStages, and a dW of the wrong shape', () => {
    const rng = new Rng(5);
    const viewed: StagedMatmul<NdArray> = {
      stages: [{ view: [{ reshape: [-1, 2] }], matrix: randn(rng, [2, 3]) }],
      outView: [{ reshape: [-1, 6] }],
    };
    expect(hasDenseGradient(viewed)).toBe(false);
    expect(() => stageGradientsFromDense(f64Ops, viewed, randn(rng, [4, 6]))).toThrow(
      /must come from ttStages or be plain matrices/,
    );
    const staged = ttStages(f64Ops, ttMatrix(ttCores(rng, [2, 3], [2, 2], [1, 2, 1])));
    expect(() => stageGradientsFromDense(f64Ops, staged, randn(rng, [4, 6]))).toThrow(
      /dW must have shape \[6, 4\].*got \[4, 6\]/,
    );
  });
});

describeEachBackend('stageGradientsFromDense on tensors', () => {
  it('equals the float64 result for TT stages of the paper-like shape 2x4x4 -> 3x4x4, grouped 2+1, without leaking', async () => {
    const rng = new Rng(6);
    const cores = ttCores(rng, [2, 4, 4], [3, 4, 4], [1, 3, 3, 1]);
    const dW = randn(rng, [32, 48]);
    const expected = stageGradientsFromDense(f64Ops, ttStages(f64Ops, ttMatrix(cores), [2, 1]), dW);
    const tensors = cores.map((c) => toTensor(c));
    const dWt = toTensor(dW);
    await expectNoLeak(() => {
      const staged = tf.tidy(
        () => ttStages(tfOps, ttMatrix(tensors), [2, 1]) as unknown as tf.TensorContainer,
      ) as unknown as StagedMatmul<tf.Tensor>;
      const grads = tf.tidy(() => stageGradientsFromDense(tfOps, staged, dWt));
      for (const [i, g] of grads.entries()) expectClose(g, Array.from(expected[i]!.data), { rtol: 1e-4, atol: 1e-4 });
      tf.dispose([...grads, ...staged.stages.map((s) => s.matrix)]);
    });
    tf.dispose([...tensors, dWt]);
  });
});

describe('planWeightGradient', () => {
  // A calibration of the order measured on wasm (see the planner's calibrate).
  const wasmLike: Calibration = {
    backend: 'test',
    overheadMs: 0.01,
    flopsPerMs: 2.5e7,
    movedPerMs: 8e5,
    readPerMs: 3e7,
    packPerMs: 2.5e5,
    widePerMs: 1.7e5,
  };
  // The pure-JS cpu backend: slow FLOPs, transposes of any kind about equally slow.
  const cpuLike: Calibration = {
    backend: 'test',
    overheadMs: 0.01,
    flopsPerMs: 7e5,
    movedPerMs: 1.8e4,
    readPerMs: 1.5e6,
    packPerMs: 3.8e5,
    widePerMs: 2.3e4,
  };
  const shapeOnly = (shape: number[]): NdArray => ({ shape, data: new Float64Array(0) });

  it("the paper's TT U (grouped 2+2) over B = 16, T = 64 keeps per-stage products on wasm and cpu, ranks 64 take the dense route; CP's two factors keep per-stage products", () => {
    // U: 512 = (8x4)(4x4) -> 1536 = (8x4)(4x12), ranks 1, 11, 1 after merging.
    const tt: StagedMatmul<NdArray> = {
      stages: [
        {
          view: [{ reshape: [-1, 32, 16] }, { transpose: [0, 2, 1] }, { reshape: [-1, 32] }],
          matrix: shapeOnly([32, 352]),
        },
        {
          view: [{ reshape: [-1, 16, 1, 32, 11] }, { transpose: [0, 3, 2, 1, 4] }, { reshape: [-1, 176] }],
          matrix: shapeOnly([176, 48]),
        },
      ],
      outView: [{ reshape: [-1, 1536] }],
      tt: { inModes: [32, 16], outModes: [32, 48], ranks: [1, 11, 1] },
    };
    // Measured on wasm (2026-12-04): a training step 259 ms by the stages against 292 by dU, since
    // @tensorized/backends forms each stage's A^T B directly (it was the other way, 30 ms of 400,
    // when A was transposed and B packed first); on cpu the dense route cost 0.7 s of 9.
    expect(planWeightGradient(tt, 16, 64, { calibration: wasmLike }).route).toBe('stages');
    expect(planWeightGradient(tt, 16, 64, { calibration: cpuLike }).route).toBe('stages');
    // Ranks 64: the stage products (2.7G multiply-adds) outgrow dU's 0.8G, whatever the rank.
    const wide: StagedMatmul<NdArray> = {
      stages: [
        {
          view: [{ reshape: [-1, 32, 16] }, { transpose: [0, 2, 1] }, { reshape: [-1, 32] }],
          matrix: shapeOnly([32, 32 * 64]),
        },
        {
          view: [{ reshape: [-1, 16, 1, 32, 64] }, { transpose: [0, 3, 2, 1, 4] }, { reshape: [-1, 16 * 64] }],
          matrix: shapeOnly([16 * 64, 48]),
        },
      ],
      outView: [{ reshape: [-1, 1536] }],
      tt: { inModes: [32, 16], outModes: [32, 48], ranks: [1, 64, 1] },
    };
    expect(planWeightGradient(wide, 16, 64, { calibration: wasmLike }).route).toBe('dense');
    const cp: StagedMatmul<NdArray> = {
      stages: [
        { view: [], matrix: shapeOnly([512, 80]) },
        { view: [], matrix: shapeOnly([80, 1536]) },
      ],
      outView: [],
    };
    const plan = planWeightGradient(cp, 16, 64, { calibration: wasmLike });
    expect(plan.route).toBe('stages');
    expect(plan.ms.dense).toBeGreaterThan(plan.ms.stages);
    // A view that stageGradientsFromDense cannot invert leaves only the per-stage route.
    const viewed: StagedMatmul<NdArray> = {
      stages: [{ view: [{ reshape: [-1, 8] }], matrix: shapeOnly([8, 8]) }],
      outView: [{ reshape: [-1, 16] }],
    };
    expect(planWeightGradient(viewed, 4, 3, { calibration: wasmLike })).toMatchObject({
      route: 'stages',
      ms: { dense: undefined },
    });
  });
});
