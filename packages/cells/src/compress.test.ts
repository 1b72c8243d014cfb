import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { type CellConfig, CellError, compressCell, createCell, type RecurrentCell, type WeightSpec } from './index.js';

const base = (kind: 'gru' | 'lstm', input: WeightSpec, recurrent: WeightSpec): CellConfig => ({
  kind,
  inputSize: 12,
  hiddenSize: 8,
  inputModes: [2, 3, 2],
  hiddenModes: [2, 2, 2],
  input,
  recurrent,
  seed: 5,
  init: 0.3,
});

/** A dense cell with the given cell's rebuilt matrices and biases: exactly of the other's format. */
function denseCopy(cell: RecurrentCell): RecurrentCell {
  const dense = createCell({ ...base(cell.kind, { format: 'dense' }, { format: 'dense' }), kind: cell.config.kind });
  const [W, U] = [cell.W.toDense(), cell.U.toDense()];
  dense.setWeights({ W, U, bW: tf.add(cell.bW, 0.1), bU: tf.sub(cell.bU, 0.05) });
  tf.dispose([W, U]);
  return dense;
}

describeEachBackend('compressCell', () => {
  const cases: Array<[string, WeightSpec]> = [
    ['tt', { format: 'tt', ranks: [1, 2, 3, 1] }],
    ['cp', { format: 'cp', rank: 3 }],
    ['tucker', { format: 'tucker', ranks: [2, 2, 2] }],
    ['tr', { format: 'tr', ranks: [2, 2, 3, 2] }],
    ['bt', { format: 'bt', ranks: [2, 2, 2], blocks: 1 }],
  ];
  for (const kind of ['gru', 'lstm'] as const) {
    for (const [name, spec] of cases) {
      it(`${kind}, ${name}: a dense cell whose W and U are exactly ${name} compresses to a cell with the same outputs`, () => {
        const source = createCell(base(kind, spec, spec));
        const dense = denseCopy(source);
        const before = tf.memory().numTensors;
        // TR by TR-SVD at its own ranks (exact): TR-ALS at fixed ranks can stall in a local minimum
        // (decomp's compress tests), which is not what this test is about.
        const target = name === 'tr' ? ({ format: 'tr', eps: 1e-9 } as const) : spec;
        const { cell, reports } = compressCell(dense, { input: target, recurrent: target, maxIter: 500 });
        expect(reports.W!.relativeError).toBeLessThan(name === 'cp' ? 1e-4 : 1e-6);
        expect(reports.U!.relativeError).toBeLessThan(name === 'cp' ? 1e-4 : 1e-6);
        if (name === 'tr') expect(cell.config.input.format).toBe('tr');
        else expect(cell.config.input).toEqual(spec);
        const x = tf.randomNormal([3, 6, 12], 0, 1, 'float32', 2) as tf.Tensor3D;
        const mask = tf.tensor2d([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0], [3, 6]);
        const a = dense.run(x, { mask });
        const b = cell.run(x, { mask });
        expectClose(b.outputs, a.outputs, { atol: 1e-4, rtol: 1e-3 });
        tf.dispose([x, mask, a.outputs, ...a.state, b.outputs, ...b.state]);
        cell.dispose();
        expect(tf.memory().numTensors).toBe(before);
        dense.dispose();
        source.dispose();
      });
    }
  }

  it('a budget per matrix is met, and the report says what was chosen; dense stays dense', () => {
    const dense = createCell(base('gru', { format: 'dense' }, { format: 'dense' }));
    const { cell, reports } = compressCell(dense, {
      input: { format: 'tt', budget: 200 },
      recurrent: { format: 'dense' },
    });
    expect(reports.W!.params).toBeLessThanOrEqual(200);
    expect(reports.U).toBeUndefined();
    expect(cell.config.recurrent).toEqual({ format: 'dense' });
    expect(cell.config.input).toEqual({ format: 'tt', ranks: reports.W!.ranks });
    cell.dispose();
    dense.dispose();
  });

  it('bad input: a budget below the smallest configuration, no modes, an unknown format', () => {
    const dense = createCell({
      kind: 'gru',
      inputSize: 12,
      hiddenSize: 8,
      input: { format: 'dense' },
      recurrent: { format: 'dense' },
    });
    const before = tf.memory().numTensors;
    expect(() => compressCell(dense, { input: { format: 'cp', rank: 2 }, recurrent: { format: 'dense' } })).toThrow(
      /a cp input needs inputModes and hiddenModes/,
    );
    const withModes = { inputModes: [2, 3, 2], hiddenModes: [2, 2, 2] };
    expect(() =>
      compressCell(dense, { ...withModes, input: { format: 'tt', budget: 3 }, recurrent: { format: 'dense' } }),
    ).toThrow(/compressCell: input: compressMatrix: budget 3 is below the smallest tt configuration/);
    expect(() =>
      compressCell(dense, { ...withModes, input: { format: 'tr' } as never, recurrent: { format: 'dense' } }),
    ).toThrow(CellError);
    expect(tf.memory().numTensors).toBe(before);
    dense.dispose();
  });
});
