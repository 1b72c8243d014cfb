// A real converted model from a public repository: whitead/molecule-dream (ISC), a Keras 2.5 GRU
// language model over SELFIES tokens converted by the TensorFlow.js converter 3.8 (Embedding 108 x
// 256 with mask_zero, a stateful GRU of 128 units with reset_after=False, Dense to 108 logits; see
// test/fixtures/molecule-dream/README.md). Its trained weights, not ones made up for the test.
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { compressCell, createCell } from './index.js';
import { fromLayersRnn, loadLayersModel, TensorizedRNNCell } from './layers.js';

const dir = new URL('../test/fixtures/molecule-dream/', import.meta.url);

function artifacts(): tf.io.ModelArtifacts {
  const json = JSON.parse(readFileSync(new URL('model.json', dir), 'utf8'));
  const bin = readFileSync(new URL('group1-shard1of1.bin', dir));
  return {
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
  };
}

/** Token sequences (ids 1..107: 0 is the padding the embedding masks), deterministic. */
function tokens(batch: number, steps: number, seed: number): tf.Tensor2D {
  let s = seed >>> 0;
  const ids = Array.from({ length: batch * steps }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 1 + (s % 107);
  });
  return tf.tensor2d(ids, [batch, steps], 'float32');
}

describeEachBackend('a real converted Keras GRU (whitead/molecule-dream)', () => {
  it("the GRU as a tensorized cell gives the model's own logits; our loader leaves the reset_after=False GRU to tfjs-layers", async () => {
    const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts()));
    const ours = await loadLayersModel(artifacts());
    const gru = model.getLayer('gru_1');
    const x = tokens(1, 24, 5);
    // The stateful GRUs make their state tensors on the first call; each call replaces them.
    tf.dispose([model.predict(x) as tf.Tensor, ours.predict(x) as tf.Tensor]);
    await expectNoLeak(() => {
      model.resetStates();
      const logits = model.predict(x) as tf.Tensor;
      ours.resetStates();
      const loaded = ours.predict(x) as tf.Tensor;
      expectClose(loaded, logits.dataSync(), { atol: 1e-6 });
      loaded.dispose();
      const cell = fromLayersRnn(gru as never);
      expect(cell.config).toMatchObject({ inputSize: 256, hiddenSize: 128, resetAfter: false });
      tf.tidy(() => {
        const embedded = model.getLayer('embedding_2').apply(x) as tf.Tensor3D;
        const { outputs, state } = cell.run(embedded);
        const mine = model.getLayer('dense_1').apply(state[0]!) as tf.Tensor;
        // The logits of the next token after the 24 given, both ways.
        expectClose(mine, logits.dataSync(), { atol: 2e-4, rtol: 1e-4 });
        expect(outputs.shape).toEqual([1, 24, 128]);
      });
      cell.dispose();
      tf.dispose(logits);
    });
    model.dispose();
    ours.dispose();
    x.dispose();
  });

  it('compressed to TT, it is closer to the model than a fresh TT cell of the same ranks, and fine-tuning brings it closer still', async () => {
    const model = await tfl.loadLayersModel(tf.io.fromMemory(artifacts()));
    const [B, T] = [24, 12];
    const x = tokens(B, T, 9);
    const embedded = tf.tidy(() => model.getLayer('embedding_2').apply(x) as tf.Tensor3D);
    // The original model's hidden state after T tokens, per sequence (stateful: reset first).
    const target = tf.tidy(() => {
      const cell = fromLayersRnn(model.getLayer('gru_1') as never);
      const { state } = cell.run(embedded);
      cell.dispose();
      return state[0]!;
    });
    const dense = fromLayersRnn(model.getLayer('gru_1') as never);
    const spec = { format: 'tt' as const, ranks: [1, 8, 8, 8, 1] };
    const { cell: small, reports } = compressCell(dense, {
      input: spec,
      recurrent: spec,
      inputModes: [4, 4, 4, 4],
      hiddenModes: [2, 4, 4, 4],
    });
    expect(small.paramCount()).toBeLessThan(dense.paramCount() / 10);
    expect(reports.W!.relativeError).toBeLessThan(1);
    const fresh = createCell({ ...small.config, seed: 3 });
    const mse = (cell: typeof small): number =>
      tf.tidy(() => tf.mean(tf.squaredDifference(cell.run(embedded).state[0]!, target)).dataSync()[0]!);
    const converted = mse(small);
    expect(converted).toBeLessThan(mse(fresh));
    // Fine-tune the compressed GRU inside a tfjs-layers model towards the original's states.
    const rnn = tfl.layers.rnn({ cell: new TensorizedRNNCell({ cell: small.config }), inputShape: [T, 256] });
    const tuned = tfl.sequential({ layers: [rnn] });
    rnn.setWeights(small.namedVariables().map(([, v]) => v));
    expectClose(tuned.predict(embedded) as tf.Tensor, small.run(embedded).state[0]!, { atol: 1e-5, rtol: 1e-4 });
    tuned.compile({ optimizer: tf.train.adam(3e-3), loss: 'meanSquaredError' });
    const history = await tuned.fit(embedded, target, { epochs: 8, batchSize: B, verbose: 0 });
    const losses = history.history['loss'] as number[];
    expect(losses[0]).toBeCloseTo(converted, 4);
    expect(losses.at(-1)!).toBeLessThan(0.8 * losses[0]!);
    tf.dispose([x, embedded, target]);
    for (const c of [dense, small, fresh]) c.dispose();
    tuned.dispose();
    model.dispose();
  });
});
