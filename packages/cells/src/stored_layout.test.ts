import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { cellFromSafetensors, createCell, decodeSafetensors, encodeSafetensors, storedShape } from './index.js';

const tucker4 = {
  kind: 'gru' as const,
  inputSize: 16,
  hiddenSize: 16,
  inputModes: [2, 2, 2, 2],
  hiddenModes: [2, 2, 2, 2],
  input: { format: 'tucker' as const, ranks: [2, 2, 2, 2] },
  recurrent: { format: 'tucker' as const, ranks: [2, 2, 2, 2] },
};

describeEachBackend('Tucker core in its natural shape', (ctx) => {
  it('the core is a variable of shape (inRanks..., outRanks...), 8 axes for 4 modes, and an optimizer step on it is right', async () => {
    const cell = createCell({ ...tucker4, seed: 3 });
    const core = new Map(cell.namedVariables()).get('U.core')!;
    expect(core.shape).toEqual([2, 2, 2, 2, 2, 2, 2, 2]);
    const x = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 4) as tf.Tensor3D;
    const probe = tf.randomNormal([3, 5, 16], 0, 1, 'float32', 5);
    const loss = (): tf.Scalar => tf.sum(tf.mul(cell.run(x).outputs, probe));
    await expectNoLeak(() => {
      const before = core.dataSync().slice();
      const { grads, value } = tf.variableGrads(loss, [core]);
      const g = grads[core.name]!.dataSync().slice();
      // Plain SGD: w - 0.5 g elementwise, an 8-axis Sub and Mul (wrong on a wasm backend without the
      // @tensorized/backends fix for more than 6 axes).
      const sgd = tf.train.sgd(0.5);
      sgd.applyGradients(grads);
      sgd.dispose();
      expectClose(
        core,
        Float32Array.from(before, (w, i) => w - 0.5 * g[i]!),
        { rtol: ctx.tol, atol: ctx.tol },
      );
      tf.dispose([value, ...Object.values(grads)]);
    });
    tf.dispose([x, probe]);
    cell.dispose();
  });

  it('a weight file of layout version 1 (the Tucker core as a 2-D matrix) loads with the same values', async () => {
    const cell = createCell({ ...tucker4, seed: 7 });
    const x = tf.randomNormal([2, 4, 16], 0, 1, 'float32', 8) as tf.Tensor3D;
    // The file as version 1 wrote it: every tensor as stored, the cores reshaped to 2-D.
    const named = cell.namedVariables().map(([n, v]) => {
      const shape = n.endsWith('.core')
        ? [v.shape.slice(0, 4).reduce((a, b) => a * b, 1), v.shape.slice(4).reduce((a, b) => a * b, 1)]
        : [...v.shape];
      return [n, { shape, data: v.dataSync() as Float32Array }] as [string, { shape: number[]; data: Float32Array }];
    });
    expect(named.find(([n]) => n === 'W.core')![1].shape).toEqual([16, 16]);
    const bytes = encodeSafetensors(named, {
      format: 'tensorized',
      'tensorized.version': '1',
      'tensorized.config': JSON.stringify(cell.config),
    });
    expect(decodeSafetensors(bytes).tensors.get('U.core')!.shape).toEqual([16, 16]);
    const loaded = cellFromSafetensors(bytes);
    await expectNoLeak(() => {
      const a = cell.run(x);
      const b = loaded.run(x);
      expectClose(b.outputs, a.outputs.dataSync(), { rtol: 1e-6, atol: 1e-6 });
      tf.dispose([a.outputs, ...a.state, b.outputs, ...b.state]);
    });
    // setWeights takes the 2-D core as well; other shapes are still refused.
    const core2d = tf.zeros([16, 16]);
    loaded.setWeights({ 'W.core': core2d });
    expect(new Map(loaded.namedVariables()).get('W.core')!.shape.length).toBe(8);
    const wrong = tf.zeros([8, 32]);
    expect(() => loaded.setWeights({ 'W.core': wrong })).toThrow(
      /'W.core' must have shape \[2, 2, 2, 2, 2, 2, 2, 2\], got \[8, 32\]/,
    );
    tf.dispose([x, core2d, wrong]);
    cell.dispose();
    loaded.dispose();
  });
});

it('storedShape reads only the legacy 2-D Tucker core in the variable shape', () => {
  expect(storedShape('U.core', [16, 8], [2, 2, 2, 2, 2, 2, 2, 1])).toEqual([2, 2, 2, 2, 2, 2, 2, 1]);
  expect(storedShape('adam.m/rnn.W.core', [4, 4], [2, 2, 2, 2])).toEqual([2, 2, 2, 2]);
  // Wrong split of the same size, another name, or a TT core: the stored shape, for the caller to refuse.
  expect(storedShape('U.core', [8, 16], [2, 2, 2, 2, 2, 2, 2, 1])).toEqual([8, 16]);
  expect(storedShape('U.core0', [4, 4], [2, 2, 2, 2])).toEqual([4, 4]);
  expect(storedShape('U', [4, 4], [4, 4])).toEqual([4, 4]);
});
