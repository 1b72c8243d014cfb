import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { batchSums, frameNll, summarise } from './metrics.js';
import { FUSED_KERNELS } from '@tensorized/backends';

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
  it('frameNll and its gradient equal the float64 formula; one kernel each way where the backend has it', async () => {
    const [N, K] = [4, 88];
    const z = Array.from({ length: N * K }, (_, i) => Math.sin(i * 1.7) * (i % 9 === 0 ? 25 : 3));
    const y = Array.from({ length: N * K }, (_, i) => ((i * 5) % 7 === 0 ? 1 : 0));
    const mask = [1, 0, 1, 1];
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    const before = tf.memory().numTensors;
    const [zt, yt, mt] = [tf.tensor2d(z, [N, K]), tf.tensor2d(y, [N, K]), tf.tensor1d(mask)];
    const dy = tf.onesLike(mt);
    const zs = zt.dataSync();
    const info = await tf.profile(() => {
      const nll = frameNll(zt, yt, mt);
      const g = tf.grad((l: tf.Tensor) => frameNll(l as tf.Tensor2D, yt, mt))(zt, dy);
      const [nv, gv] = [nll.dataSync(), g.dataSync()];
      for (let n = 0; n < N; n++) {
        let sum = 0;
        for (let k = n * K; k < (n + 1) * K; k++) {
          const v = zs[k]!;
          sum += Math.max(v, 0) - v * y[k]! + Math.log1p(Math.exp(-Math.abs(v)));
          expect(gv[k]).toBeCloseTo(mask[n]! * (sig(v) - y[k]!), 6);
        }
        expect(nv[n]).toBeCloseTo(mask[n]! * sum, 4);
      }
      tf.dispose([nll, g]);
    });
    const names = info.kernels.map((k) => k.name);
    if (tf.getKernel(FUSED_KERNELS.sigmoidCrossEntropy, tf.getBackend())) {
      expect(names.filter((n) => n === FUSED_KERNELS.sigmoidCrossEntropy)).toHaveLength(2);
      expect(names.filter((n) => n === FUSED_KERNELS.sigmoidCrossEntropyGrad)).toHaveLength(1);
      expect(names).not.toContain('Log1p');
    }
    tf.dispose([zt, yt, mt, dy]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
