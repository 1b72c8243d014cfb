// Issue 11, items 6 and 7: weight files and cells under bad input.
import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  type CellConfig,
  CellError,
  cellToSafetensors,
  createCell,
  decodeSafetensors,
  encodeSafetensors,
  loadCellWeights,
  paperCellConfig,
} from './index.js';

/** A safetensors file from a header object and raw data bytes. */
function file(header: Record<string, unknown>, dataBytes: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const bytes = new Uint8Array(8 + json.length + dataBytes);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
  bytes.set(json, 8);
  return bytes;
}

describe('safetensors headers are validated in full (item 6)', () => {
  const entry = (shape: unknown, offsets: unknown) => ({ dtype: 'F32', shape, data_offsets: offsets });
  it.each<[string, Record<string, unknown>, number, RegExp]>([
    [
      'overlapping ranges',
      { a: entry([2], [0, 8]), b: entry([2], [4, 12]) },
      12,
      /'b' starts at data byte 4 where 8 was expected: it overlaps the tensor before it/,
    ],
    [
      'a gap',
      { a: entry([1], [0, 4]), b: entry([1], [8, 12]) },
      12,
      /'b' starts at data byte 8 where 4 was expected: there is a gap/,
    ],
    ['bytes left over', { a: entry([1], [0, 4]) }, 12, /cover 4 of 12 data bytes: 8 bytes are unaccounted for/],
    [
      'missing offsets',
      { a: { dtype: 'F32', shape: [1] } },
      4,
      /'a' has data_offsets undefined; expected \[begin, end\]/,
    ],
    ['a null entry', { a: null }, 0, /'a' is null, not a tensor entry/],
    [
      'a negative shape',
      { a: entry([-1, -1], [0, 4]) },
      4,
      /'a' has shape \[-1,-1\]; expected an array of non-negative integers/,
    ],
    ['a fractional shape', { a: entry([0.5, 8], [0, 16]) }, 16, /'a' has shape \[0.5,8\]/],
    [
      'offsets that do not fit the shape',
      { a: entry([3], [0, 8]) },
      8,
      /'a' has 8 data bytes .* for shape \[3\], which needs 12/,
    ],
    ['offsets past the end', { a: entry([4], [4, 20]) }, 8, /beyond the 8 data bytes/],
    ['metadata that is not strings', { __metadata__: { k: 1 } }, 0, /__metadata__ must be an object of strings/],
    ['a header that is an array', [] as unknown as Record<string, unknown>, 0, /header is not a JSON object/],
  ])('%s is refused with a CellError naming the tensor', (_, header, dataBytes, message) => {
    expect(() => decodeSafetensors(file(header, dataBytes))).toThrow(message);
    expect(() => decodeSafetensors(file(header, dataBytes))).toThrow(CellError);
  });

  it('a zero-size tensor is fine', () => {
    const { tensors } = decodeSafetensors(encodeSafetensors([['e', { shape: [0, 3], data: new Float32Array(0) }]]));
    expect(tensors.get('e')!.shape).toEqual([0, 3]);
  });
});

const small: CellConfig = {
  kind: 'gru',
  inputSize: 12,
  hiddenSize: 8,
  inputModes: [2, 3, 2],
  hiddenModes: [2, 2, 2],
  input: { format: 'tt', ranks: [1, 2, 2, 1] },
  recurrent: { format: 'cp', rank: 3 },
  seed: 3,
};

describeEachBackend('cells under bad input (item 7)', () => {
  it('NaN weights in a file are refused, naming the tensor and the index', () => {
    const cell = createCell(small);
    const bytes = cellToSafetensors(cell);
    const { tensors, metadata } = decodeSafetensors(bytes);
    const [name, t] = [...tensors][1]!;
    t.data[2] = Number.NaN;
    expect(() => loadCellWeights(cell, encodeSafetensors([...tensors], metadata))).toThrow(
      new RegExp(`'${name.replace('.', '\\.')}' holds NaN at flat index 2; weights must be finite`),
    );
    cell.dispose();
  });

  for (const kind of ['gru', 'lstm'] as const) {
    it(`${kind}: a NaN in a padded step does not reach any output (masking selects)`, () => {
      const cell = createCell({ ...small, kind });
      const [B, T] = [3, 5];
      const clean = tf.randomNormal([B, T, 12], 0, 1, 'float32', 1);
      const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0], [B, T]);
      // NaN wherever the mask is 0.
      const poisoned = tf.where(
        tf.cast(tf.broadcastTo(tf.reshape(mask, [B, T, 1]), [B, T, 12]), 'bool'),
        clean,
        tf.fill([B, T, 12], Number.NaN),
      ) as tf.Tensor3D;
      const a = cell.run(poisoned, { mask });
      const b = cell.run(clean as tf.Tensor3D, { mask });
      expect(Array.from(a.outputs.dataSync()).some(Number.isNaN)).toBe(false);
      expect(Array.from(a.outputs.dataSync())).toEqual(Array.from(b.outputs.dataSync()));
      tf.dispose([clean, mask, poisoned, a.outputs, ...a.state, b.outputs, ...b.state]);
      cell.dispose();
    });
  }

  for (const kind of ['gru', 'lstm'] as const) {
    it(`${kind}: the inputs' gradient of a padded batch is each sequence's own, unpadded, and 0 in padding`, () => {
      const cell = createCell({ ...small, kind });
      const [T, lengths] = [5, [5, 3, 2]];
      const B = lengths.length;
      const x = tf.randomNormal([B, T, 12], 0, 1, 'float32', 2) as tf.Tensor3D;
      const mask = tf.tensor2d(
        lengths.flatMap((n) => Array.from({ length: T }, (_, t) => (t < n ? 1 : 0))),
        [B, T],
      );
      const probe = tf.randomNormal([B, T, small.hiddenSize], 0, 1, 'float32', 3);
      const before = tf.memory().numTensors;
      // The loss of the outputs (those of padded steps left out), the states let go.
      const loss = (run: { outputs: tf.Tensor; state: tf.Tensor[] }, weights: tf.Tensor) => {
        tf.dispose(run.state);
        return tf.sum(tf.mul(run.outputs, weights));
      };
      const [padded] = tf.grads((xs: tf.Tensor) =>
        loss(cell.run(xs as tf.Tensor3D, { mask }), tf.mul(probe, tf.expandDims(mask, 2))),
      )([x]);
      const got = padded!.arraySync() as number[][][];
      for (const [b, n] of lengths.entries()) {
        // Sequence b alone, its own length, no mask.
        const own = (xs: tf.Tensor) => loss(cell.run(xs as tf.Tensor3D), tf.slice(probe, [b, 0, 0], [1, n, -1]));
        const xb = tf.slice(x, [b, 0, 0], [1, n, -1]);
        const [alone] = tf.grads(own)([xb]);
        const want = (alone!.arraySync() as number[][][])[0]!;
        for (let t = 0; t < T; t++)
          for (let i = 0; i < 12; i++) {
            if (t >= n) expect(got[b]![t]![i]).toBe(0);
            else expect(Math.abs(got[b]![t]![i]! - want[t]![i]!)).toBeLessThan(1e-5);
          }
        tf.dispose([alone!, xb]);
      }
      padded!.dispose();
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, mask, probe]);
      cell.dispose();
    });
  }

  it('masks must be 0 or 1: 0.5, 2, -1 and NaN are refused with the value and where it is', () => {
    const cell = createCell(small);
    const x = tf.zeros([2, 3, 12]) as tf.Tensor3D;
    for (const bad of [0.5, 2, -1, Number.NaN]) {
      const mask = tf.tensor2d([1, 1, 1, 1, bad, 0], [2, 3]);
      expect(() => cell.run(x, { mask })).toThrow(new RegExp(`mask must hold only 0 and 1, got ${bad} at \\[1, 1\\]`));
      mask.dispose();
    }
    x.dispose();
    cell.dispose();
  });

  it('no steps, no sequences, or a disposed input get clear errors', () => {
    const cell = createCell(small);
    const before = tf.memory().numTensors;
    for (const shape of [
      [2, 0, 12],
      [0, 3, 12],
    ] as Array<[number, number, number]>) {
      const x = tf.zeros(shape) as tf.Tensor3D;
      expect(() => cell.run(x)).toThrow(/run: input must have at least one sequence and one step, got shape/);
      x.dispose();
    }
    const gone = tf.zeros([2, 3, 12]) as tf.Tensor3D;
    gone.dispose();
    expect(() => cell.run(gone)).toThrow(/run: the input tensor has been disposed/);
    expect(tf.memory().numTensors).toBe(before);
    cell.dispose();
  });
});

describe('presets', () => {
  it('paperCellConfig refuses a model it does not know', () => {
    expect(() => paperCellConfig('foo' as never)).toThrow(
      /paperCellConfig: model must be one of gru, cp-gru, .* got "foo"/,
    );
  });
  it('a Tucker rank above its mode is refused (item 5: 2,2,2,99 gave more parameters than the dense GRU)', () => {
    expect(() => createCell(paperCellConfig('tucker-gru', { ranks: [2, 2, 2, 99] }))).toThrow(
      /inRanks\[3\] = 99 exceeds its mode size 4/,
    );
  });
});

describeEachBackend('stepper', () => {
  for (const [name, config] of [
    ['dense', { ...small, input: { format: 'dense' }, recurrent: { format: 'dense' } }],
    ['tt/cp', small],
  ] as Array<[string, CellConfig]>) {
    it(`${name}: W and U prepared once give the steps of step(), without leaking`, () => {
      const cell = createCell(config);
      const stepper = cell.stepper(2, 50);
      const before = tf.memory().numTensors;
      let a = cell.initialState(2);
      let b = cell.initialState(2);
      for (let t = 0; t < 5; t++) {
        const x = tf.randomNormal([2, 12], 0, 1, 'float32', t) as tf.Tensor2D;
        const ra = cell.step(x, a);
        const rb = stepper.step(x, b);
        const [da, db] = [ra.output.dataSync(), rb.output.dataSync()];
        for (let i = 0; i < da.length; i++) expect(Math.abs(da[i]! - db[i]!)).toBeLessThan(1e-5);
        tf.dispose([x, ...a, ...b]);
        a = ra.state;
        b = rb.state;
      }
      tf.dispose([...a, ...b]);
      expect(tf.memory().numTensors).toBe(before);
      const [x3, s3] = [tf.zeros([3, 12]) as tf.Tensor2D, cell.initialState(3)];
      expect(() => stepper.step(x3, s3)).toThrow(/prepared for batch 2/);
      tf.dispose([x3, ...s3]);
      stepper.dispose();
      cell.dispose();
    });
  }
});
