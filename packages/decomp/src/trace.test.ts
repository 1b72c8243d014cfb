import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import {
  type MatrixFormat,
  type MatrixShape,
  cpMatrixInit,
  prepareMatmul,
  ttMatrixInit,
  tuckerMatrixInit,
  trMatrixInit,
  btMatrixInit,
  definitionOf,
} from './index.js';
import { type Trace, traceApply, tracePrepare } from './trace.js';

/** Kernel launches by name, matMul FLOPs and transposed elements, as tf.profile saw them run. */
async function executed(fn: () => void): Promise<{ counts: Record<string, number>; flops: number; moved: number }> {
  const info = await tf.profile(fn);
  const counts: Record<string, number> = {};
  let flops = 0;
  let moved = 0;
  for (const k of info.kernels) {
    counts[k.name] = (counts[k.name] ?? 0) + 1;
    const [a, b] = k.inputShapes as number[][];
    // Forward products transpose at most their right-hand side: 2 m (k n) FLOPs either way.
    if (k.name === 'BatchMatMul') flops += 2 * a![0]! * b!.reduce((p, q) => p * q, 1);
    if (k.name === 'Transpose') moved += a!.reduce((p, q) => p * q, 1);
  }
  return { counts, flops, moved };
}

function traced(t: Trace): { counts: Record<string, number>; flops: number; moved: number } {
  const c = t.cost();
  // The trace counts an elementwise product's elements as FLOPs; the profile check counts matMuls.
  const matmulFlops = t.kernels.filter((k) => k.name === 'BatchMatMul').reduce((s, k) => s + k.flops, 0);
  return { counts: t.counts(), flops: matmulFlops, moved: c.moved };
}

const modes = { inModes: [8, 4, 4, 4], outModes: [8, 4, 4, 12] };
const cases: Array<[string, MatrixShape, () => MatrixFormat, number[] | undefined]> = [
  [
    'TT ranks 11',
    { kind: 'tt-matrix', ...modes, ranks: [1, 11, 11, 11, 1] },
    () => ttMatrixInit({ ...modes, ranks: [1, 11, 11, 11, 1] }, { seed: 1 }),
    undefined,
  ],
  [
    'TT ranks 11, cores 2+2',
    { kind: 'tt-matrix', ...modes, ranks: [1, 11, 11, 11, 1] },
    () => ttMatrixInit({ ...modes, ranks: [1, 11, 11, 11, 1] }, { seed: 1 }),
    [2, 2],
  ],
  [
    'TT ranks 3, cores 1+2+1',
    { kind: 'tt-matrix', ...modes, ranks: [1, 3, 3, 3, 1] },
    () => ttMatrixInit({ ...modes, ranks: [1, 3, 3, 3, 1] }, { seed: 1 }),
    [1, 2, 1],
  ],
  [
    'CP R=80',
    { kind: 'cp-matrix', ...modes, rank: 80 },
    () => cpMatrixInit({ ...modes, rank: 80 }, { seed: 1 }),
    undefined,
  ],
  [
    'Tucker 2,4,2,4',
    { kind: 'tucker-matrix', ...modes, inRanks: [2, 4, 2, 4], outRanks: [2, 4, 2, 4] },
    () => tuckerMatrixInit({ ...modes, inRanks: [2, 4, 2, 4] }, { seed: 1 }),
    undefined,
  ],
  [
    'TR ranks 4',
    { kind: 'tr-matrix', ...modes, ranks: [4, 4, 4, 4, 4] },
    () => trMatrixInit({ ...modes, ranks: [4, 4, 4, 4, 4] }, { seed: 1 }),
    undefined,
  ],
  [
    'BT ranks 2, 2 blocks, split 2+2',
    { kind: 'bt-matrix', ...modes, ranks: [2, 2, 2, 2], blocks: 2 },
    () => btMatrixInit({ ...modes, ranks: [2, 2, 2, 2], blocks: 2 }, { seed: 1 }),
    [2, 2],
  ],
];

describeEachBackend('the trace of a product equals what runs', () => {
  for (const [name, shape, make, groups] of cases) {
    for (const path of ['factorised', 'rebuild'] as const) {
      it(`${name}, ${path}: the kernels, matMul FLOPs and transposed elements of prepare and of apply`, async () => {
        const w = make();
        const x = tf.randomNormal([16, 512]) as tf.Tensor2D;
        const options = groups && path === 'factorised' ? { groups } : {};
        let prepared: ReturnType<typeof prepareMatmul> | undefined;
        const prep = await executed(() => {
          prepared = prepareMatmul(w, path, options);
        });
        let y: tf.Tensor | undefined;
        const use = await executed(() => {
          y = prepared!.apply(x);
        });
        const { trace, staged } = tracePrepare(shape, path, options);
        expect(traced(trace)).toEqual(prep);
        expect(traced(traceApply(staged, 16))).toEqual(use);
        // The staged product's shapes are the prepared one's.
        expect(staged.stages.map((s) => s.matrix.shape)).toEqual(prepared!.stages.map((s) => s.matrix.shape));
        expect(staged.stages.map((s) => s.view)).toEqual(prepared!.stages.map((s) => s.view));
        expect(y!.shape).toEqual([16, 1536]);
        prepared!.dispose();
        tf.dispose([x, y!]);
        const all = definitionOf(w).tensors(w);
        tf.dispose(all as tf.Tensor[]);
      });
    }
  }
});
