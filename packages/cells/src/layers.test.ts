import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describeEachBackend, expectClose } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { paperCellConfig } from './index.js';
import { TensorizedRNNCell } from './layers.js';

describeEachBackend('tfjs-layers adapter', () => {
  it('a tf.sequential with an RNN over a TT-GRU cell fits, saves to memory, loads and predicts identically', async () => {
    const config = paperCellConfig('tt-gru', { inputSize: 8, inputModes: [2, 4], hiddenSize: 16, hiddenModes: [4, 4], ranks: [1, 3, 1], seed: 2, init: 'glorot' });
    const cell = new TensorizedRNNCell({ cell: config });
    const model = tfl.sequential();
    model.add(tfl.layers.rnn({ cell, inputShape: [5, 8], returnSequences: false }));
    model.add(tfl.layers.dense({ units: 1 }));
    model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
    // Target: the sum of the first feature over time.
    const x = tf.randomNormal([32, 5, 8], 0, 1, 'float32', 3);
    const y = tf.sum(tf.slice(x, [0, 0, 0], [-1, -1, 1]), 1);
    const history = await model.fit(x, y, { epochs: 25, batchSize: 32, verbose: 0 });
    const losses = history.history['loss'] as number[];
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
    // The layer's weights are the cell's variables: 4 TT cores + 2 biases.
    expect(model.layers[0]!.getWeights().length).toBe(6);
    expect(cell.recurrentCell.paramCount()).toBe(config && cell.recurrentCell.W.paramCount() + cell.recurrentCell.U.paramCount() + 48);

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const topology = JSON.stringify(saved!.modelTopology);
    expect(topology).toContain('TensorizedRNNCell');
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
    const before = model.predict(x) as tf.Tensor;
    const after = loaded.predict(x) as tf.Tensor;
    expectClose(after, before, { rtol: 0, atol: 0 });
    tf.dispose([x, y, before, after]);
    model.dispose();
    loaded.dispose();
  });

  it('rejects a bad cell configuration when the layer is made', () => {
    expect(() => new TensorizedRNNCell({ cell: paperCellConfig('tt-gru', { ranks: [1, 11, 11, 1] }) })).toThrow(/ranks must have d \+ 1 = 5 entries/);
  });
});
