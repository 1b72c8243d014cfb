// A Keras GRU with reset_after=True (the TF2 default), in a model.json written to the tfjs-converter's
// layers-model format, against a float64 reference of Keras' equations.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { describeEachBackend, expectClose } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { loadLayersModel } from './layers.js';

const [T, N, H, O] = [7, 4, 5, 2];

function rand(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

/** model.json as tfjs-converter writes it for a Keras 2 Sequential([GRU(reset_after=True), Dense]). */
function modelJson(recurrentActivation: string) {
  return {
    format: 'layers-model',
    generatedBy: 'keras v2.13.1',
    convertedBy: 'TensorFlow.js Converter v4.22.0',
    modelTopology: {
      keras_version: '2.13.1',
      backend: 'tensorflow',
      model_config: {
        class_name: 'Sequential',
        config: {
          name: 'sequential',
          layers: [
            {
              class_name: 'InputLayer',
              config: {
                batch_input_shape: [null, T, N],
                dtype: 'float32',
                sparse: false,
                ragged: false,
                name: 'gru_input',
              },
            },
            {
              class_name: 'GRU',
              config: {
                name: 'gru',
                trainable: true,
                dtype: 'float32',
                return_sequences: true,
                return_state: false,
                go_backwards: false,
                stateful: false,
                unroll: false,
                time_major: false,
                units: H,
                activation: 'tanh',
                recurrent_activation: recurrentActivation,
                use_bias: true,
                kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
                recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1.0, seed: null } },
                bias_initializer: { class_name: 'Zeros', config: {} },
                kernel_regularizer: null,
                recurrent_regularizer: null,
                bias_regularizer: null,
                activity_regularizer: null,
                kernel_constraint: null,
                recurrent_constraint: null,
                bias_constraint: null,
                dropout: 0.0,
                recurrent_dropout: 0.0,
                implementation: 2,
                reset_after: true,
              },
            },
            {
              class_name: 'Dense',
              config: {
                name: 'dense',
                trainable: true,
                dtype: 'float32',
                units: O,
                activation: 'linear',
                use_bias: true,
                kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } },
                bias_initializer: { class_name: 'Zeros', config: {} },
                kernel_regularizer: null,
                bias_regularizer: null,
                activity_regularizer: null,
                kernel_constraint: null,
                bias_constraint: null,
              },
            },
          ],
        },
      },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'gru/gru_cell/kernel', shape: [N, 3 * H], dtype: 'float32' },
          { name: 'gru/gru_cell/recurrent_kernel', shape: [H, 3 * H], dtype: 'float32' },
          { name: 'gru/gru_cell/bias', shape: [2, 3 * H], dtype: 'float32' },
          { name: 'dense/kernel', shape: [H, O], dtype: 'float32' },
          { name: 'dense/bias', shape: [O], dtype: 'float32' },
        ],
      },
    ],
  };
}

/** Keras' GRU with reset_after=True, then the Dense layer, in float64. Gates (z, r, h) in the columns. */
function reference(x: Float32Array, B: number, w: Record<string, Float32Array>, hard: boolean): Float64Array {
  const act = (v: number) => (hard ? Math.max(0, Math.min(1, 0.2 * v + 0.5)) : 1 / (1 + Math.exp(-v)));
  const out = new Float64Array(B * T * O);
  for (let b = 0; b < B; b++) {
    let h = new Float64Array(H);
    for (let t = 0; t < T; t++) {
      const xi = Array.from(
        { length: 3 * H },
        (_, j) =>
          w['bias']![j]! +
          Array.from({ length: N }, (_, i) => x[(b * T + t) * N + i]! * w['kernel']![i * 3 * H + j]!).reduce(
            (a, c) => a + c,
            0,
          ),
      );
      const hu = Array.from(
        { length: 3 * H },
        (_, j) =>
          w['bias']![3 * H + j]! +
          Array.from({ length: H }, (_, i) => h[i]! * w['recurrent_kernel']![i * 3 * H + j]!).reduce(
            (a, c) => a + c,
            0,
          ),
      );
      const next = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        const z = act(xi[j]! + hu[j]!);
        const r = act(xi[H + j]! + hu[H + j]!);
        const n = Math.tanh(xi[2 * H + j]! + r * hu[2 * H + j]!);
        next[j] = z * h[j]! + (1 - z) * n;
      }
      h = next;
      for (let o = 0; o < O; o++)
        out[(b * T + t) * O + o] =
          w['dbias']![o]! +
          Array.from({ length: H }, (_, i) => h[i]! * w['dkernel']![i * O + o]!).reduce((a, c) => a + c, 0);
    }
  }
  return out;
}

describeEachBackend('a converted Keras model with GRU(reset_after=True)', () => {
  for (const activation of ['sigmoid', 'hard_sigmoid']) {
    it(`${activation}: loads (TF.js alone refuses it) and predicts Keras' equations`, async () => {
      const json = modelJson(activation);
      const w = {
        kernel: rand(N * 3 * H, 1, 0.8),
        recurrent_kernel: rand(H * 3 * H, 2, 0.8),
        bias: rand(2 * 3 * H, 3, 0.5),
        dkernel: rand(H * O, 4, 0.7),
        dbias: rand(O, 5, 0.2),
      };
      const data = new Float32Array([...w.kernel, ...w.recurrent_kernel, ...w.bias, ...w.dkernel, ...w.dbias]);
      const artifacts: tf.io.ModelArtifacts = {
        modelTopology: json.modelTopology,
        weightSpecs: json.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[],
        weightData: data.buffer,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
      };
      await expect(tfl.loadLayersModel(tf.io.fromMemory(artifacts))).rejects.toThrow(/reset_after/);
      const model = await loadLayersModel(tf.io.fromMemory(artifacts));
      const B = 3;
      const xData = rand(B * T * N, 6, 1.5);
      const x = tf.tensor3d(xData, [B, T, N]);
      const y = model.predict(x) as tf.Tensor;
      expectClose(y, tf.tensor3d(Float32Array.from(reference(xData, B, w, activation === 'hard_sigmoid')), [B, T, O]), {
        atol: 2e-5,
        rtol: 1e-4,
      });
      // It trains and saves like any LayersModel.
      model.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
      const target = tf.zerosLike(y);
      const h = await model.fit(x, target, { epochs: 5, verbose: 0 });
      expect((h.history['loss'] as number[]).at(-1)!).toBeLessThan((h.history['loss'] as number[])[0]!);
      let saved: tf.io.ModelArtifacts | undefined;
      await model.save(
        tf.io.withSaveHandler(async (a) => {
          saved = a;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const reloaded = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
      const [a, b] = [model.predict(x) as tf.Tensor, reloaded.predict(x) as tf.Tensor];
      expectClose(b, a, { atol: 0, rtol: 0 });
      tf.dispose([x, y, target, a, b]);
      model.dispose();
      reloaded.dispose();
    });
  }

  it('refuses what it cannot represent, naming the layer', async () => {
    const json = modelJson('relu');
    const data = new Float32Array(N * 3 * H + H * 3 * H + 2 * 3 * H + H * O + O);
    const artifacts = {
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0]!.weights as tf.io.WeightsManifestEntry[],
      weightData: data.buffer,
    };
    await expect(loadLayersModel(artifacts)).rejects.toThrow(
      /GRU layer 'gru' has recurrent_activation "relu"; expected sigmoid or hard_sigmoid/,
    );
    await expect(loadLayersModel({ modelTopology: {} } as tf.io.ModelArtifacts)).rejects.toThrow(
      /expected a layers-model/,
    );
  });
});
