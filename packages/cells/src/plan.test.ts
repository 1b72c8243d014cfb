import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { createCell, paperCellConfig } from './index.js';

beforeAll(async () => {
  await useBackend('wasm');
});

it('WeightMatrix.plan decides path, grouping and gradient route from sizes alone (no tensor), and prepare follows it', () => {
  for (const model of ['gru', 'tt-gru', 'cp-gru', 'tucker-gru'] as const) {
    const cell = createCell(paperCellConfig(model, { seed: 1 }));
    const before = tf.memory().numTensors;
    const plan = cell.U.plan(16, 64, { backward: true, fusedGradient: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(plan.gradient === 'dense' || plan.gradient === 'stages').toBe(true);
    // Inside a gradient tape, prepare plans for a training step: the same plan, carried with it.
    const x = tf.randomNormal([16, 512]) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(
      () => {
        const u = cell.U.prepare(16, 64, 'auto', { fusedGradient: true });
        expect(u.plan?.path).toBe(plan.path);
        expect(u.plan?.groups).toEqual(plan.groups);
        expect(u.plan?.gradient).toBe(plan.gradient);
        expect(u.path).toBe(plan.path);
        const y = tf.sum(u.apply(x));
        u.dispose();
        return y as tf.Scalar;
      },
      cell.U.variables.map(([, v]) => v),
    );
    tf.dispose([value, x, ...Object.values(grads)]);
    // A forced path is taken (a dense matrix has only its own), with the route for that path.
    const other = plan.path === 'rebuild' ? 'factorised' : 'rebuild';
    const forced = cell.U.plan(16, 64, { path: other, backward: true, fusedGradient: true });
    expect(forced.path).toBe(model === 'gru' ? 'dense' : other);
    expect(forced.gradient === 'dense' || forced.gradient === 'stages').toBe(true);
    expect(cell.U.plannedWeightGradient(16, 64)).toBe(plan.gradient);
    cell.dispose();
  }
});
