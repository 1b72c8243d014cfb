import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { createCell, type RecurrentCell, type WeightSpec } from './index.js';
import { smallConfig } from '../test/small_config.js';

// Every factorised path that prepare() makes something for: CP's and Tucker's bottleneck factors,
// a TT-matrix's merged cores (and its batch-1 pair), TR and BT; the dense cell keeps nothing.
const SPECS: Array<[string, WeightSpec]> = [
  ['dense', { format: 'dense' }],
  ['tt', { format: 'tt', ranks: [1, 3, 2, 1] }],
  ['cp', { format: 'cp', rank: 5 }],
  ['tucker', { format: 'tucker', ranks: [2, 2, 2] }],
  ['tr', { format: 'tr', ranks: [2, 3, 2, 2] }],
  ['bt', { format: 'bt', ranks: [2, 3, 2], blocks: 2 }],
];

// Kept products are planned for many uses, so their path may differ from a single call's: the same
// results to float32 rounding (the paths themselves are tested against each other in weight tests).
const TOL = { atol: 1e-6, rtol: 1e-5 };

const config = (kind: 'gru' | 'lstm', spec: WeightSpec) => smallConfig(kind, spec, { seed: 5 });

/** The cell's outputs and last state over x, read back and disposed. */
function runValues(cell: RecurrentCell, x: tf.Tensor3D): Float32Array[] {
  const r = cell.run(x);
  const out = [r.outputs, ...r.state].map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose([r.outputs, ...r.state]);
  return out;
}

/** Kernels that fn runs (what tf.profile lists), with fn's result disposed. */
async function kernelsRun(fn: () => tf.TensorContainer): Promise<number> {
  const info = await tf.profile(() => {
    tf.dispose(fn());
  });
  return info.kernels.length;
}

/** A run's outputs and state, disposed. */
const runAndDispose = (cell: RecurrentCell, x: tf.Tensor3D): void => {
  const r = cell.run(x);
  tf.dispose([r.outputs, ...r.state]);
};

describeEachBackend('keepPrepared', () => {
  for (const kind of ['gru', 'lstm'] as const) {
    for (const [name, spec] of SPECS) {
      it(`${name}-${kind}: kept W and U give the same run, step and stepper (to rounding), are made once, and are freed by releasePrepared and dispose`, async () => {
        const start = tf.memory().numTensors;
        const x = tf.randomNormal([1, 6, 12], 0, 1, 'float32', 7) as tf.Tensor3D;
        const x2 = tf.randomNormal([3, 6, 12], 0, 1, 'float32', 8) as tf.Tensor3D;
        const plain = createCell(config(kind, spec));
        const kept = createCell(config(kind, spec));
        const before = tf.memory().numTensors;
        kept.keepPrepared();
        for (const input of [x, x2, x, x2]) {
          const want = runValues(plain, input);
          const got = runValues(kept, input);
          got.forEach((g, i) => {
            expectClose(g, want[i]!, TOL);
          });
        }
        const held = tf.memory().numTensors - before;
        if (name === 'dense') expect(held).toBe(0);
        else {
          expect(held).toBeGreaterThan(0);
          // A later run launches fewer kernels than the same run without kept products.
          expect(await kernelsRun(() => runAndDispose(kept, x))).toBeLessThan(
            await kernelsRun(() => runAndDispose(plain, x)),
          );
        }
        // Run, step and a stepper (each may take its own path: one kept product per path), then
        // again: the repeats add nothing past what is kept.
        const everyCall = (): void => {
          runAndDispose(kept, x);
          tf.tidy(() => {
            const s = kept.initialState(1);
            const step = kept.step(tf.zeros([1, 12]) as tf.Tensor2D, s);
            const plainStep = plain.step(tf.zeros([1, 12]) as tf.Tensor2D, s);
            expectClose(step.output.dataSync(), plainStep.output.dataSync(), TOL);
          });
          const stepper = kept.stepper(1);
          tf.tidy(() => {
            stepper.step(tf.zeros([1, 12]) as tf.Tensor2D, kept.initialState(1));
          });
          stepper.dispose();
        };
        everyCall();
        await expectNoLeak(() => {
          for (let i = 0; i < 3; i++) everyCall();
        });
        // The stepper's dispose left the kept products alone: a run still works and still agrees.
        const again = runValues(plain, x);
        runValues(kept, x).forEach((g, i) => {
          expectClose(g, again[i]!, TOL);
        });
        kept.releasePrepared();
        expect(tf.memory().numTensors).toBe(before);
        kept.keepPrepared();
        runValues(kept, x);
        kept.dispose();
        plain.dispose();
        tf.dispose([x, x2]);
        expect(tf.memory().numTensors).toBe(start);
      });
    }
  }

  it('refuses an argument that is not true or false, naming it', () => {
    const cell = createCell(config('gru', SPECS[1]![1]));
    expect(() => cell.keepPrepared('yes' as never)).toThrow(/keepPrepared: on must be true or false, got "yes"/);
    expect(cell.keepsPrepared).toBe(false);
    cell.dispose();
  });

  it('an assign (new weights, an optimiser step) replaces the kept products: the run follows the new weights', async () => {
    for (const [, spec] of SPECS.slice(1)) {
      const x = tf.randomNormal([1, 5, 12], 0, 1, 'float32', 9) as tf.Tensor3D;
      const kept = createCell(config('gru', spec));
      const fresh = createCell(config('gru', spec));
      kept.keepPrepared();
      const old = runValues(kept, x)[0]!;
      const before = tf.memory().numTensors;
      // New values for every variable, the same in both cells.
      tf.tidy(() => {
        for (const cell of [kept, fresh]) for (const v of cell.trainableVariables) v.assign(tf.mul(v, 1.5));
      });
      const now = runValues(kept, x)[0]!;
      expectClose(now, runValues(fresh, x)[0]!, TOL);
      expect(Array.from(now)).not.toEqual(Array.from(old));
      // The stale products were freed when the new ones were made: as many tensors as before.
      expect(tf.memory().numTensors).toBe(before);
      kept.dispose();
      fresh.dispose();
      x.dispose();
    }
  });

  it('under a gradient tape nothing is kept and the gradients are those of a cell without keepPrepared', async () => {
    for (const [, spec] of SPECS.slice(1)) {
      const x = tf.randomNormal([2, 4, 12], 0, 1, 'float32', 10) as tf.Tensor3D;
      const kept = createCell(config('gru', spec));
      const plain = createCell(config('gru', spec));
      kept.keepPrepared();
      const grads = (cell: RecurrentCell) =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(
            () => tf.sum(cell.run(x).outputs) as tf.Scalar,
            cell.trainableVariables,
          );
          return [value, ...cell.trainableVariables.map((v) => grads[v.name]!)];
        });
      const before = tf.memory().numTensors;
      const g = grads(kept);
      expect(tf.memory().numTensors - before).toBe(g.length);
      const p = grads(plain);
      expect(g.map((t) => Array.from(t.dataSync()))).toEqual(p.map((t) => Array.from(t.dataSync())));
      tf.dispose([...g, ...p, x]);
      kept.dispose();
      plain.dispose();
    }
  });
});
