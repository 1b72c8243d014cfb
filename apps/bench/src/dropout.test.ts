import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectNoLeak } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import { dropout, dropoutMultipliers } from './dropout.js';
import { FUSED_KERNELS } from '@tensorized/backends';

/** |observed - expected| for a count of n Bernoulli(p) trials, in standard deviations. */
const sigmas = (hits: number, n: number, p: number): number => Math.abs(hits - n * p) / Math.sqrt(n * p * (1 - p));

describe('dropoutMultipliers', () => {
  it('keeps each value with probability 1 - rate, as exactly 1 / (1 - rate), and drops the rest to 0', () => {
    const n = 1 << 20;
    for (const rate of [0.2, 0.5, 0.9]) {
      const m = dropoutMultipliers(n, rate, 7);
      const scale = Math.fround(1 / (1 - rate));
      let kept = 0;
      let dropped = 0;
      for (const v of m) {
        if (v === scale) kept++;
        else if (v === 0) dropped++;
      }
      expect(kept + dropped, `rate ${rate}: values neither 0 nor 1 / (1 - rate)`).toBe(n);
      expect(sigmas(kept, n, 1 - rate), `rate ${rate}`).toBeLessThan(5);
    }
  });

  it('neighbours, rows apart and seeds are independent; the same seed gives the same mask', () => {
    const n = 1 << 20;
    const keep = 0.8;
    const a = dropoutMultipliers(n, 0.2, 11);
    const b = dropoutMultipliers(n, 0.2, 12);
    const again = dropoutMultipliers(n, 0.2, 11);
    expect(again.every((v, i) => v === a[i])).toBe(true);
    // Both kept: probability keep^2 for independent decisions.
    const bothKept = (x: Float32Array, y: Float32Array, shift: number): number => {
      let count = 0;
      for (let i = 0; i + shift < n; i++) if (x[i + shift] !== 0 && y[i] !== 0) count++;
      return count;
    };
    expect(sigmas(bothKept(a, a, 1), n - 1, keep * keep), 'next value').toBeLessThan(5);
    expect(sigmas(bothKept(a, a, 512), n - 512, keep * keep), '512 apart (next row)').toBeLessThan(5);
    expect(sigmas(bothKept(a, b, 0), n, keep * keep), 'seed + 1').toBeLessThan(5);
  });

  it('names a bad argument', () => {
    expect(() => dropoutMultipliers(-1, 0.2, 1)).toThrow(/count must be a non-negative integer, got -1/);
    expect(() => dropoutMultipliers(4, 1, 1)).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(() => dropoutMultipliers(4, Number.NaN, 1)).toThrow(/rate must be in \[0, 1\), got NaN/);
    expect(() => dropoutMultipliers(4, 0.2, 1.5)).toThrow(/seed must be an integer, got 1.5/);
  });
});

describeEachBackend('dropout', () => {
  it.each([
    [6, 40],
    [3, 7],
  ])(
    'is x times the multipliers, its gradient dy times them; rate 0 is x itself; nothing leaks (%i x %i)',
    async (rows, cols) => {
      const x = tf.randomNormal([rows, cols], 0, 1, 'float32', 3);
      const w = tf.randomNormal([rows, cols], 0, 1, 'float32', 4);
      const m = dropoutMultipliers(rows * cols, 0.3, 5);
      await expectNoLeak(() => {
        const y = dropout(x, 0.3, 5);
        const xs = x.dataSync();
        expect(Array.from(y.dataSync())).toEqual(Array.from(xs, (v, i) => Math.fround(v * m[i]!)));
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(dropout(t, 0.3, 5), w)))(x);
        const ws = w.dataSync();
        expect(Array.from(g.dataSync())).toEqual(Array.from(ws, (v, i) => Math.fround(v * m[i]!)));
        expect(dropout(x, 0, 5)).toBe(x);
        tf.dispose([y, g]);
      });
      tf.dispose([x, w]);
    },
  );

  it('runs as one TensorizedDropout each way where the backend has it, no Multiply', async () => {
    const x = tf.randomNormal([4, 8], 0, 1, 'float32', 3);
    const dy = tf.onesLike(x);
    const info = await tf.profile(() => {
      const g = tf.grad((t: tf.Tensor) => dropout(t, 0.5, 2))(x, dy);
      g.dispose();
    });
    const names = info.kernels.map((k) => k.name);
    if (tf.getKernel(FUSED_KERNELS.dropout, tf.getBackend())) {
      expect(names.filter((n) => n === FUSED_KERNELS.dropout)).toHaveLength(2);
      expect(names).not.toContain('Multiply');
    } else expect(names).toContain('Multiply');
    tf.dispose([x, dy]);
  });

  it('names a bad argument', () => {
    const x = tf.zeros([2]);
    expect(() => dropout(x, 1, 1)).toThrow(/rate must be in \[0, 1\), got 1/);
    expect(() => dropout(x, 0.2, 0.5)).toThrow(/seed must be an integer, got 0.5/);
    x.dispose();
  });
});
