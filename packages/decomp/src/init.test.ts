import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import {
  cpFactorStd,
  cpMatrixInit,
  type MatrixFormat,
  matrixToDense,
  ttCoreStd,
  ttMatrixInit,
  tuckerFactorStd,
  tuckerMatrixInit,
  definitionOf,
  trCoreStd,
  trMatrixInit,
  btFactorStd,
  btMatrixInit,
} from './index.js';

function empiricalStd(w: MatrixFormat): number {
  return tf.tidy(() => {
    const dense = matrixToDense(w);
    return tf.sqrt(tf.moments(dense).variance).dataSync()[0]!;
  });
}

function dispose(w: MatrixFormat): void {
  tf.dispose(definitionOf(w).tensors(w));
}

it("the authors' per-factor std formulas of PAPER.md", () => {
  // TT: s = ((0.05^2 / prod r)^(1/d))^0.5
  expect(ttCoreStd([1, 11, 11, 11, 1])).toBeCloseTo(((0.05 ** 2 / 11 ** 3) ** (1 / 4)) ** 0.5, 14);
  // CP: s = (0.05 / sqrt(R))^(1/(2d))
  expect(cpFactorStd(50, 4)).toBeCloseTo((0.05 / Math.sqrt(50)) ** (1 / 8), 14);
  // Tucker: s = (0.05 / sqrt(prod of the 2d core dims))^(1/(2d+1))
  expect(tuckerFactorStd([2, 4, 2, 4, 2, 4, 2, 4])).toBeCloseTo((0.05 / Math.sqrt(64 * 64)) ** (1 / 9), 14);
  // TR: s = (0.05^2 / prod_{k=1..d} r_k)^(1/(2d)); r_0 = r_d counted once.
  expect(trCoreStd([3, 5, 5, 5, 3])).toBeCloseTo((0.05 ** 2 / (5 * 5 * 5 * 3)) ** (1 / 8), 14);
  // BT: s = (0.05^2 / (N prod r_k))^(1/(2(d+1))).
  expect(btFactorStd([2, 3, 2, 2], 4)).toBeCloseTo((0.05 ** 2 / (4 * 24)) ** (1 / 10), 14);
});

describeEachBackend('initialisers', () => {
  // E[var(W)] = target^2 exactly; one draw of var(W) fluctuates with the few random column norms of
  // the factors, so the test averages the empirical variance over 8 seeds of a large matrix
  // (1024 x 1536) and asks for sqrt(mean variance) within 5% of the target.
  const big = { inModes: [32, 32], outModes: [32, 48] };
  const makers: Array<[string, (o: { std?: number | 'authors' | 'glorot'; seed: number }) => MatrixFormat]> = [
    ['tt', (o) => ttMatrixInit({ ...big, ranks: [1, 32, 1] }, o)],
    ['cp', (o) => cpMatrixInit({ ...big, rank: 64 }, o)],
    ['tucker', (o) => tuckerMatrixInit({ ...big, inRanks: [16, 16] }, o)],
    ['tr', (o) => trMatrixInit({ ...big, ranks: [4, 8, 4] }, o)],
    ['bt', (o) => btMatrixInit({ ...big, ranks: [8, 8], blocks: 4 }, o)],
  ];
  for (const [name, make] of makers) {
    for (const std of ['authors', 'glorot'] as const) {
      it(`${name}, std ${std}: rebuilt matrix std within 5% of the target`, async () => {
        const target = std === 'authors' ? 0.05 : Math.sqrt(2 / (1024 + 1536));
        await expectNoLeak(() => {
          let sumVar = 0;
          const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
          for (const seed of seeds) {
            const w = make({ std, seed: seed * 100 });
            sumVar += empiricalStd(w) ** 2;
            dispose(w);
          }
          expect(Math.abs(Math.sqrt(sumVar / seeds.length) / target - 1)).toBeLessThan(0.05);
        });
      });
    }
  }

  it('the same seed gives the same weights', () => {
    const a = ttMatrixInit({ inModes: [4, 4], outModes: [4, 4], ranks: [1, 3, 1] }, { seed: 5 });
    const b = ttMatrixInit({ inModes: [4, 4], outModes: [4, 4], ranks: [1, 3, 1] }, { seed: 5 });
    expect(Array.from(a.cores[1]!.dataSync())).toEqual(Array.from(b.cores[1]!.dataSync()));
    dispose(a);
    dispose(b);
  });

  it('rejects a bad std', () => {
    expect(() => ttMatrixInit({ inModes: [4], outModes: [4], ranks: [1, 1] }, { std: -1 })).toThrow(
      /init: std must be a positive finite number, 'authors' or 'glorot', got -1/,
    );
  });
});
