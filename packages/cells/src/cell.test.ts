import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import { type CellConfig, CellError, createCell, type RecurrentCell, type WeightSpec } from './index.js';
import { type DenseWeights, referenceRun, referenceStep } from '../test/reference.js';
import { smallConfig } from '../test/small_config.js';

const SPECS: Array<[string, WeightSpec]> = [
  ['tt', { format: 'tt', ranks: [1, 3, 2, 1] }],
  ['cp', { format: 'cp', rank: 5 }],
  ['tucker', { format: 'tucker', ranks: [2, 2, 2] }],
  ['tr', { format: 'tr', ranks: [2, 3, 2, 2] }],
  ['bt', { format: 'bt', ranks: [2, 3, 2], blocks: 2 }],
];

/** The cell's rebuilt dense W, U and biases, in float64. */
function denseWeights(cell: RecurrentCell): DenseWeights {
  const [w, u] = [cell.W.toDense(), cell.U.toDense()];
  const out = {
    W: Float64Array.from(w.dataSync()),
    U: Float64Array.from(u.dataSync()),
    bW: Float64Array.from(cell.bW.dataSync()),
    bU: Float64Array.from(cell.bU.dataSync()),
    N: cell.inputSize,
    H: cell.hiddenSize,
  };
  tf.dispose([w, u]);
  return out;
}

/** Non-zero biases, so that the test sees both of them. */
function randomiseBiases(cell: RecurrentCell): void {
  tf.tidy(() =>
    cell.setWeights({
      bW: tf.randomNormal(cell.bW.shape, 0, 0.3, 'float32', 1),
      bU: tf.randomNormal(cell.bU.shape, 0, 0.3, 'float32', 2),
    }),
  );
}

describeEachBackend('cells', (ctx) => {
  for (const kind of ['gru', 'lstm'] as const) {
    for (const [name, spec] of SPECS) {
      it(`${name}-${kind}: step equals the float64 reference and a dense cell with the rebuilt W and U`, async () => {
        const cell = createCell(smallConfig(kind, spec));
        randomiseBiases(cell);
        const ref = denseWeights(cell);
        const dense = createCell({
          kind,
          inputSize: 12,
          hiddenSize: 8,
          input: { format: 'dense' },
          recurrent: { format: 'dense' },
        });
        tf.tidy(() => {
          const [w, u] = [cell.W.toDense(), cell.U.toDense()];
          dense.setWeights({ W: w, U: u, bW: cell.bW, bU: cell.bU });
        });
        await expectNoLeak(() => {
          tf.tidy(() => {
            const x = tf.randomNormal([3, 12], 0, 1, 'float32', 4) as tf.Tensor2D;
            const state = cell.stateSize.map(
              (s, i) => tf.randomNormal([3, s], 0, 0.5, 'float32', 10 + i) as tf.Tensor2D,
            );
            const got = cell.step(x, state);
            const viaDense = dense.step(x, state);
            const xs = x.arraySync();
            const ss = state.map((s) => s.arraySync());
            const expected = xs.flatMap((row, b) =>
              Array.from(
                referenceStep(
                  kind,
                  ref,
                  row,
                  ss.map((s) => Float64Array.from(s[b]!)),
                )[0]!,
              ),
            );
            expectClose(got.output, expected, { rtol: ctx.tol * 10, atol: ctx.tol * 10 });
            expectClose(viaDense.output, got.output, { rtol: ctx.tol * 10, atol: ctx.tol * 10 });
            expect(got.state.length).toBe(kind === 'gru' ? 1 : 2);
          });
        });
        cell.dispose();
        dense.dispose();
      });

      it(`${name}-${kind}: a masked sequence equals the reference on both matmul paths`, async () => {
        const B = 3;
        const T = 5;
        const maskValues = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1];
        const outputs: tf.Tensor[] = [];
        for (const matmulPath of ['factorised', 'rebuild', 'auto'] as const) {
          const cell = createCell(smallConfig(kind, spec, { matmulPath }));
          randomiseBiases(cell);
          const ref = denseWeights(cell);
          const inputs = tf.randomNormal([B, T, 12], 0, 1, 'float32', 7) as tf.Tensor3D;
          const mask = tf.tensor2d(maskValues, [B, T]);
          const expected = referenceRun(kind, ref, inputs.dataSync(), maskValues, B, T);
          const result = await expectNoLeak(() => cell.run(inputs, { mask }), 1 + cell.stateSize.length);
          expect(result.outputs.shape).toEqual([B, T, 8]);
          expectClose(result.outputs, expected, { rtol: ctx.tol * 10, atol: ctx.tol * 10 });
          // The final state is the last output (a padded last step keeps the state).
          expectClose(
            tf.tidy(() => tf.squeeze(tf.slice(result.outputs, [0, T - 1, 0], [-1, 1, -1]), [1])),
            result.state[0]!,
            { rtol: 0, atol: 0 },
          );
          outputs.push(result.outputs);
          tf.dispose([...result.state, inputs, mask]);
          cell.dispose();
        }
        expectClose(outputs[0]!, outputs[1]!, { rtol: ctx.tol * 10, atol: ctx.tol * 10 });
        tf.dispose(outputs);
      });
    }
  }

  it('run with an initial state continues where a first run stopped', () => {
    const cell = createCell(smallConfig('lstm', SPECS[0]![1]));
    tf.tidy(() => {
      const inputs = tf.randomNormal([2, 6, 12], 0, 1, 'float32', 9) as tf.Tensor3D;
      const whole = cell.run(inputs);
      const first = cell.run(tf.slice(inputs, [0, 0, 0], [-1, 3, -1]) as tf.Tensor3D);
      const second = cell.run(tf.slice(inputs, [0, 3, 0], [-1, 3, -1]) as tf.Tensor3D, { initialState: first.state });
      expectClose(tf.concat([first.outputs, second.outputs], 1), whole.outputs, { atol: 1e-5, rtol: 1e-5 });
    });
    cell.dispose();
  });

  it('rejects inputs, masks and states of the wrong shape, leaving nothing behind', () => {
    const cell = createCell(smallConfig('gru', SPECS[0]![1]));
    const before = tf.memory().numTensors;
    const x = tf.zeros([2, 5, 11]) as tf.Tensor3D;
    const good = tf.zeros([2, 5, 12]) as tf.Tensor3D;
    const mask = tf.ones([2, 4]) as tf.Tensor2D;
    expect(() => cell.run(x)).toThrow(/run: input must have shape \[B, T, 12\], got \[2, 5, 11\]/);
    expect(() => cell.run(good, { mask })).toThrow(/run: mask must have shape \[2, 5\] \(B, T\), got \[2, 4\]/);
    expect(() => cell.step(tf.zeros([2, 12]) as tf.Tensor2D, [tf.zeros([2, 7]) as tf.Tensor2D])).toThrow(CellError);
    tf.dispose([x, good, mask]);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 2); // the two zeros of the step call
    cell.dispose();
  });
});

describe('bad configurations', () => {
  const base = smallConfig('gru', { format: 'tt', ranks: [1, 3, 2, 1] });
  it.each<[string, Partial<CellConfig>, RegExp]>([
    [
      'input modes that do not multiply to the size',
      { inputModes: [2, 3, 3] },
      /inputModes \[2,3,3\] multiply to 18, expected inputSize = 12/,
    ],
    [
      'hidden modes that do not match the state',
      { hiddenModes: [2, 2, 3] },
      /hiddenModes \[2,2,3\] multiply to 12, but the state \(hiddenSize\) is 8/,
    ],
    [
      'the wrong number of TT ranks',
      { input: { format: 'tt', ranks: [1, 3, 1] } },
      /ranks must have d \+ 1 = 4 entries/,
    ],
    [
      'a rank of 0',
      { recurrent: { format: 'tt', ranks: [1, 0, 2, 1] } },
      /recurrent weight U.*ranks\[1\] must be a positive integer, got 0/,
    ],
    ['CP rank 0', { input: { format: 'cp', rank: 0 } }, /rank must be a positive integer, got 0/],
    [
      'Tucker ranks of the wrong length',
      { input: { format: 'tucker', ranks: [2, 2] } },
      /inRanks must have d = 3 entries/,
    ],
    [
      'an unknown format',
      { input: { format: 'svd' } as never },
      /input.format must be 'dense', 'tt', 'cp', 'tucker', 'tr' or 'bt', got "svd"/,
    ],
    ['missing modes', { inputModes: undefined }, /inputModes are needed for a tt input weight \(W\)/],
    ['an unknown kind', { kind: 'rnn' as never }, /kind must be 'gru' or 'lstm', got "rnn"/],
  ])('%s', (_, change, message) => {
    const before = tf.memory().numTensors;
    expect(() => createCell({ ...base, ...change })).toThrow(CellError);
    expect(() => createCell({ ...base, ...change })).toThrow(message);
    expect(tf.memory().numTensors).toBe(before);
  });
});
