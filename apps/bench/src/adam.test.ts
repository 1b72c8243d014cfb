import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { FUSED_KERNELS } from '@tensorized/backends';
import { Adam } from './adam.js';

/** torch.optim.Adam's update with gradient-norm clipping, in float64: the reference. */
function adamRef(
  w: number[][],
  grads: number[][][],
  {
    lr,
    clip,
    beta1 = 0.9,
    beta2 = 0.999,
    eps = 1e-8,
  }: { lr: number; clip: number; beta1?: number; beta2?: number; eps?: number },
): number[][] {
  const m = w.map((x) => x.map(() => 0));
  const v = w.map((x) => x.map(() => 0));
  grads.forEach((gs, step) => {
    const t = step + 1;
    const norm = Math.sqrt(gs.flat().reduce((p, g) => p + g * g, 0));
    const scale = norm > clip ? clip / (norm + 1e-6) : 1;
    for (const [i, g] of gs.entries()) {
      for (const [j, gij] of g.entries()) {
        const s = gij * scale;
        m[i]![j] = beta1 * m[i]![j]! + (1 - beta1) * s;
        v[i]![j] = beta2 * v[i]![j]! + (1 - beta2) * s * s;
        w[i]![j]! -= (lr * (m[i]![j]! / (1 - beta1 ** t))) / (Math.sqrt(v[i]![j]! / (1 - beta2 ** t)) + eps);
      }
    }
  });
  return w;
}

describeEachBackend('Adam', () => {
  it('fused kernel and op by op both equal the float64 update over steps with and without clipping', async () => {
    const shapes = [[3, 4], [5], [2, 2, 2]];
    const init = shapes.map((s, i) => Array.from({ length: s.reduce((p, q) => p * q, 1) }, (_, j) => Math.sin(i + j)));
    // Three steps; the second one's gradients are large enough to be clipped.
    const grads = [1, 40, 0.3].map((k, step) =>
      shapes.map((s, i) =>
        Array.from({ length: s.reduce((p, q) => p * q, 1) }, (_, j) => k * Math.cos(step + 2 * i + j)),
      ),
    );
    const options = { lr: 0.01, clip: 5 };
    const expected = adamRef(
      init.map((x) => [...x]),
      grads,
      options,
    );
    for (const fusedKernel of [true, false]) {
      await expectNoLeak(() => {
        const vars = tf.tidy(() => init.map((x, i) => tf.variable(tf.tensor(x, shapes[i]!))));
        const adam = new Adam(vars, { ...options, fusedKernel });
        const norms: number[] = [];
        for (const gs of grads) {
          const g = gs.map((x, i) => tf.tensor(x, shapes[i]!));
          norms.push(adam.apply(g));
          tf.dispose(g);
        }
        expect(norms[1]).toBeGreaterThan(options.clip);
        for (const [i, v] of vars.entries()) {
          expect(v.shape).toEqual(shapes[i]);
          expectClose(v, expected[i]!, { rtol: 1e-5, atol: 1e-6 });
        }
        adam.dispose();
        tf.dispose(vars);
      });
    }
  });

  it('the fused update is one launch for all variables (TensorizedAdamAll); op by op it is not', async () => {
    const vars = [tf.variable(tf.ones([3, 4])), tf.variable(tf.ones([5]))];
    for (const fusedKernel of [true, false]) {
      const adam = new Adam(vars, { lr: 0.01, clip: 5, fusedKernel });
      const grads = [tf.fill([3, 4], 2), tf.fill([5], -3)];
      const info = await tf.profile(() => void adam.apply(grads));
      const names = info.kernels.map((k) => k.name);
      if (fusedKernel) expect(names).toEqual([FUSED_KERNELS.adamAll]);
      else expect(names).not.toContain(FUSED_KERNELS.adamAll);
      tf.dispose(grads);
      adam.dispose();
    }
    tf.dispose(vars);
  });
});
