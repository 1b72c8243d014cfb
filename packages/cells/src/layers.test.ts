import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { compressCell, paperCellConfig } from './index.js';
import { fromLayersRnn, TensorizedRNN, TensorizedRNNCell, tensorizedGru, tensorizedLstm } from './layers.js';

describeEachBackend('tfjs-layers adapter', () => {
  it('a tf.sequential with an RNN over a TT-GRU cell fits, saves to memory, loads and predicts identically', async () => {
    const config = paperCellConfig('tt-gru', {
      inputSize: 8,
      inputModes: [2, 4],
      hiddenSize: 16,
      hiddenModes: [4, 4],
      ranks: [1, 3, 1],
      seed: 2,
      init: 'glorot',
    });
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
    expect(cell.recurrentCell.paramCount()).toBe(
      config && cell.recurrentCell.W.paramCount() + cell.recurrentCell.U.paramCount() + 48,
    );

    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (artifacts) => {
        saved = artifacts;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
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
    expect(() => new TensorizedRNNCell({ cell: paperCellConfig('tt-gru', { ranks: [1, 11, 11, 1] }) })).toThrow(
      /ranks must have d \+ 1 = 5 entries/,
    );
  });
});

describeEachBackend('fromLayersRnn', () => {
  for (const [kind, make] of [
    ['gru', (o: Record<string, unknown>) => tfl.layers.gru(o as never)],
    ['lstm', (o: Record<string, unknown>) => tfl.layers.lstm(o as never)],
  ] as const) {
    for (const [seed, units, inputs, activation] of [
      [1, 6, 5, 'hardSigmoid'],
      [2, 9, 3, 'sigmoid'],
      [3, 4, 8, 'hardSigmoid'],
    ] as const) {
      it(`${kind}, ${units} units, ${inputs} inputs, ${activation}: the cell's outputs equal the layer's predict`, () => {
        const layer = make({
          units,
          returnSequences: true,
          recurrentActivation: activation,
          inputShape: [7, inputs],
          kernelInitializer: tfl.initializers.randomNormal({ stddev: 0.6, seed }),
          recurrentInitializer: tfl.initializers.randomNormal({ stddev: 0.6, seed: seed + 1 }),
          biasInitializer: tfl.initializers.randomNormal({ stddev: 0.4, seed: seed + 2 }),
        });
        const model = tfl.sequential({ layers: [layer] });
        const x = tf.randomNormal([4, 7, inputs], 0, 1, 'float32', seed + 3) as tf.Tensor3D;
        const expected = model.predict(x) as tf.Tensor;
        const cell = fromLayersRnn(layer);
        expect(cell.config.recurrentActivation).toBe(activation);
        if (kind === 'gru') expect(cell.config.resetAfter).toBe(false);
        const { outputs, state } = cell.run(x);
        expectClose(outputs, expected, { atol: 1e-5, rtol: 1e-4 });
        tf.dispose([x, expected, outputs, ...state]);
        cell.dispose();
        model.dispose();
      });
    }
  }

  it('refuses what it cannot represent: another layer, another activation, an unbuilt layer', () => {
    expect(() => fromLayersRnn(tfl.layers.dense({ units: 3 }) as never)).toThrow(
      /must be a tf.layers.gru, tf.layers.lstm or an RNN over a GRUCell\/LSTMCell, got "Dense"/,
    );
    const relu = tfl.layers.gru({ units: 3, activation: 'relu', inputShape: [2, 2] });
    tfl.sequential({ layers: [relu] });
    expect(() => fromLayersRnn(relu)).toThrow(/activation must be tanh, got "relu"/);
    expect(() => fromLayersRnn(tfl.layers.gru({ units: 3 }))).toThrow(/the layer has no weights yet/);
  });
});

describeEachBackend('a tf.layers.gru, compressed, back in a model', () => {
  it('fromLayersRnn + compressCell + TensorizedRNNCell: same outputs as the compressed cell, then model.fit lowers the loss', async () => {
    const gru = tfl.layers.gru({
      units: 8,
      returnSequences: true,
      inputShape: [6, 12],
      kernelInitializer: tfl.initializers.randomNormal({ stddev: 0.4, seed: 1 }),
    });
    const original = tfl.sequential({ layers: [gru] });
    const x = tf.randomNormal([16, 6, 12], 0, 1, 'float32', 4) as tf.Tensor3D;
    (original.predict(x) as tf.Tensor).dispose();
    const dense = fromLayersRnn(gru);
    const { cell: small } = compressCell(dense, {
      input: { format: 'tt', ranks: [1, 2, 2, 1] },
      recurrent: { format: 'tt', ranks: [1, 2, 2, 1] },
      inputModes: [2, 3, 2],
      hiddenModes: [2, 2, 2],
    });
    const layer = new TensorizedRNNCell({ cell: small.config });
    const model = tfl.sequential({
      layers: [tfl.layers.rnn({ cell: layer, returnSequences: true, inputShape: [6, 12] })],
    });
    model.layers[0]!.setWeights(small.namedVariables().map(([, v]) => v));
    const fromModel = model.predict(x) as tf.Tensor;
    const { outputs, state } = small.run(x);
    expectClose(fromModel, outputs, { atol: 1e-5, rtol: 1e-4 });
    // Fine-tune towards the original layer's outputs.
    const target = original.predict(x) as tf.Tensor;
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
    const history = await model.fit(x, target, { epochs: 15, batchSize: 16, verbose: 0 });
    const losses = history.history['loss'] as number[];
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    tf.dispose([x, fromModel, outputs, ...state, target]);
    dense.dispose();
    small.dispose();
    model.dispose();
    original.dispose();
  });
});

describeEachBackend('TensorizedRNNCell options', () => {
  it('refuses options it would ignore, naming them (units: 32 left the size at 16 before)', () => {
    const cell = paperCellConfig('tt-gru', {
      inputSize: 8,
      inputModes: [2, 4],
      hiddenSize: 16,
      hiddenModes: [4, 4],
      ranks: [1, 3, 1],
    });
    expect(() => new TensorizedRNNCell({ cell, units: 32 } as never)).toThrow(
      /'units' is not an option of this cell .*: units is cell.hiddenSize \(16\)/,
    );
    expect(() => new TensorizedRNNCell({ cell, activation: 'relu', returnSequences: true } as never)).toThrow(
      /'activation', 'returnSequences' are not an option/,
    );
  });
});

describeEachBackend('tensorizedGru and tensorizedLstm', () => {
  for (const [name, make, format] of [
    ['tensorizedGru', tensorizedGru, { format: 'tt', ranks: [1, 2, 2, 1] }],
    ['tensorizedLstm', tensorizedLstm, { format: 'tt', ranks: [1, 2, 2, 1] }],
    ['tensorizedGru, TR', tensorizedGru, { format: 'tr', ranks: [2, 2, 1, 2] }],
  ] as const) {
    it(`${name}: used like tf.layers.gru, it fits, saves, loads and predicts identically; the input size comes from the input`, async () => {
      const layer = make({
        units: 8,
        ...format,
        ranks: [...format.ranks],
        returnSequences: false,
        seed: 3,
        init: 'glorot',
      });
      const model = tfl.sequential({
        layers: [tfl.layers.inputLayer({ inputShape: [5, 12] }), layer, tfl.layers.dense({ units: 1 })],
      });
      const cell = (layer as unknown as { cell: TensorizedRNNCell }).cell;
      expect(cell.cellConfig.inputSize).toBe(12);
      expect(cell.cellConfig.inputModes).toEqual([3, 2, 2]);
      expect(cell.cellConfig.hiddenModes).toEqual([2, 2, 2]);
      model.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
      const x = tf.randomNormal([32, 5, 12], 0, 1, 'float32', 3);
      const y = tf.sum(tf.slice(x, [0, 0, 0], [-1, -1, 1]), 1);
      const h = await model.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0 });
      expect((h.history['loss'] as number[]).at(-1)!).toBeLessThan((h.history['loss'] as number[])[0]!);
      let saved: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          saved = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      expect(loaded.layers.filter((l) => l instanceof TensorizedRNN)).toHaveLength(1);
      const [a, b] = [model.predict(x) as tf.Tensor, loaded.predict(x) as tf.Tensor];
      expectClose(b, a, { atol: 0, rtol: 0 });
      tf.dispose([x, y, a, b]);
      model.dispose();
      loaded.dispose();
    });
  }

  const specs: Array<{ format: 'cp'; rank: number } | { format: 'tucker' | 'tt' | 'tr'; ranks: number[] }> = [
    { format: 'cp', rank: 3 },
    { format: 'tucker', ranks: [2, 2, 2] },
    { format: 'tt', ranks: [1, 2, 2, 1] },
    { format: 'tr', ranks: [2, 2, 1, 2] },
  ];
  for (const spec of specs) {
    it(`${spec.format}: the layer prepares W and U once per predict, not per step: the same outputs as tf.layers.rnn over the same cell, fewer kernels, nothing left behind`, async () => {
      const cellArgs = {
        units: 8,
        ...spec,
        seed: 4,
        inputShape: [6, 12],
      };
      const ours = tfl.sequential({ layers: [tensorizedGru({ ...cellArgs, returnSequences: true })] });
      const same = (ours.layers[0] as unknown as { cell: TensorizedRNNCell }).cell.cellConfig;
      const plain = tfl.sequential({
        layers: [
          tfl.layers.rnn({ cell: new TensorizedRNNCell({ cell: same }), returnSequences: true, inputShape: [6, 12] }),
        ],
      });
      const x = tf.randomNormal([2, 6, 12], 0, 1, 'float32', 5);
      const want = plain.predict(x) as tf.Tensor;
      const got = await expectNoLeak(() => ours.predict(x) as tf.Tensor, 1);
      // Prepared once, W and U are planned for many uses (see keepPrepared): the same to rounding.
      expectClose(got, want, { atol: 1e-6, rtol: 1e-5 });
      const kernels = async (m: tfl.Sequential) =>
        (
          await tf.profile(() => {
            tf.dispose(m.predict(x) as tf.Tensor);
          })
        ).kernels.length;
      expect(await kernels(ours)).toBeLessThan(await kernels(plain));
      tf.dispose([x, want, got]);
      ours.dispose();
      plain.dispose();
    });
  }

  it('refuses options that do not apply and missing ranks, naming them', () => {
    expect(() =>
      tensorizedGru({ units: 8, format: 'tt', ranks: [1, 2, 1], kernelInitializer: 'zeros' } as never),
    ).toThrow(/tensorizedGru: 'kernelInitializer' is not an option of this layer; it takes units, format/);
    expect(() => tensorizedGru({ units: 8, format: 'cp' })).toThrow(/format 'cp' needs rank/);
    expect(() => tensorizedGru({ units: 8, format: 'cp', rank: 3, ranks: [1, 2, 1] })).toThrow(
      /ranks does not apply to format 'cp' \(it takes rank\)/,
    );
    expect(() => tensorizedGru({ units: 8, format: 'dense', rank: 3 })).toThrow(
      /rank does not apply to format 'dense'/,
    );
    expect(() => tensorizedGru({ units: 8, format: 'svd' as never, ranks: [2, 2] })).toThrow(
      /format must be 'dense', 'tt', 'cp', 'tucker', 'tr' or 'bt', got "svd"/,
    );
    expect(() => tensorizedLstm({ units: 8, format: 'dense', resetAfter: false })).toThrow(
      /resetAfter applies to a GRU only/,
    );
    expect(() => tensorizedGru({ units: 0, format: 'dense' })).toThrow(/units must be a positive integer, got 0/);
  });
});
