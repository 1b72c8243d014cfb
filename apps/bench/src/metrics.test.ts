import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { batchSums, summarise } from './metrics.js';

describeEachBackend('metrics', () => {
  it('NLL per frame and accuracy equal a direct computation, with masked and empty frames', () => {
    // 3 frames of 88 keys: frame 0 has notes 0 and 5, frame 1 is empty (a rest), frame 2 is masked.
    const K = 88;
    const z = Array.from({ length: 3 * K }, (_, i) => ((i * 37) % 11) - 5 + 0.25);
    const y = new Array<number>(3 * K).fill(0);
    y[0] = 1;
    y[5] = 1;
    y[2 * K + 3] = 1;
    const mask = [1, 1, 0];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    let nll = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (let f = 0; f < 2; f++) {
      for (let k = 0; k < K; k++) {
        const p = sig(z[f * K + k]!);
        const t = y[f * K + k]!;
        nll -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
        const on = p > 0.5;
        if (on && t) tp++;
        else if (on) fp++;
        else if (t) fn++;
      }
    }
    const before = tf.memory().numTensors;
    const logits = tf.tensor2d(z, [3, K]);
    const targets = tf.tensor2d(y, [3, K]);
    const m = tf.tensor1d(mask);
    const sums = batchSums(logits, targets, m);
    tf.dispose([logits, targets, m]);
    expect(tf.memory().numTensors).toBe(before);
    expect(sums.frames).toBe(2);
    expect(sums.nll).toBeCloseTo(nll, 2);
    expect([sums.tp, sums.fp, sums.fn]).toEqual([tp, fp, fn]);
    const s = summarise(sums);
    expect(s.nll).toBeCloseTo(nll / 2, 3);
    expect(s.accuracy).toBeCloseTo(tp / (tp + fp + fn), 10);
  });

  it('a confident correct prediction costs almost nothing, a confident wrong one a lot', () => {
    const K = 88;
    const y = tf.tensor2d([Array.from({ length: K }, (_, k) => (k < 3 ? 1 : 0))]);
    const good = tf.tensor2d([Array.from({ length: K }, (_, k) => (k < 3 ? 20 : -20))]);
    const bad = tf.neg(good) as tf.Tensor2D;
    const m = tf.tensor1d([1]);
    expect(batchSums(good, y, m).nll).toBeLessThan(1e-6);
    expect(batchSums(bad, y, m).nll).toBeCloseTo(20 * K, 0);
    expect(summarise(batchSums(good, y, m)).accuracy).toBe(1);
    tf.dispose([y, good, bad, m]);
  });
});
