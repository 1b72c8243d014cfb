import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  CellError,
  cellFromSafetensors,
  cellToSafetensors,
  createCell,
  decodeSafetensors,
  encodeSafetensors,
  loadCellWeights,
  paperCellConfig,
} from './index.js';

describe('safetensors', () => {
  it('reads a file laid out by hand from the format specification', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}';
    const headerBytes = new TextEncoder().encode(header);
    const bytes = new Uint8Array(8 + headerBytes.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    bytes.set(headerBytes, 8);
    new DataView(bytes.buffer).setFloat32(8 + headerBytes.length, 1.5, true);
    new DataView(bytes.buffer).setFloat32(8 + headerBytes.length + 4, -2, true);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ k: 'v' });
    expect(tensors.get('a')).toEqual({ shape: [2], data: Float32Array.from([1.5, -2]) });
  });

  it('writes what it reads, bit for bit, with an 8-aligned header', () => {
    const a = { shape: [2, 3], data: Float32Array.from([1, -2, 3.25, Number.MIN_VALUE, 1e30, -0]) };
    const bytes = encodeSafetensors([['x', a]], { note: 'hi' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.tensors.get('x')!.data).toEqual(a.data);
    expect(back.metadata['note']).toBe('hi');
  });

  it('refuses truncated or corrupt files with a clear error', () => {
    const bytes = encodeSafetensors([['x', { shape: [4], data: new Float32Array(4) }]]);
    expect(() => decodeSafetensors(bytes.subarray(0, 5))).toThrow(/shorter than the 8-byte header length/);
    expect(() => decodeSafetensors(bytes.subarray(0, 20))).toThrow(/exceeds the file.*truncated/);
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4))).toThrow(
      /'x' has data_offsets \[0,16\] beyond the 12 data bytes: truncated or corrupt/,
    );
    const bad = Uint8Array.from(bytes);
    bad[9] = 0x7b; // '{' inside the JSON: no longer parses
    bad[10] = 0x7b;
    expect(() => decodeSafetensors(bad)).toThrow(CellError);
  });
});

describeEachBackend('cell weight files', () => {
  for (const model of ['tt-gru', 'cp-lstm', 'tucker-gru', 'gru'] as const) {
    it(`${model}: a save/load round trip is exact`, () => {
      const config = paperCellConfig(model, {
        inputSize: 12,
        inputModes: [2, 3, 2],
        hiddenSize: 8,
        hiddenModes: [2, 2, 2],
        ranks: model.startsWith('tt') ? [1, 3, 2, 1] : [2, 2, 2],
        rank: 4,
        seed: 9,
      });
      const cell = createCell(config);
      const bytes = cellToSafetensors(cell);
      const copy = cellFromSafetensors(bytes);
      expect(copy.config).toEqual(cell.config);
      for (const [[name, v], [name2, w]] of cell
        .namedVariables()
        .map((e, i) => [e, copy.namedVariables()[i]!] as const)) {
        expect(name2).toBe(name);
        expect(Array.from(w.dataSync())).toEqual(Array.from(v.dataSync()));
      }
      tf.tidy(() => {
        const x = tf.randomNormal([2, 4, 12], 0, 1, 'float32', 1) as tf.Tensor3D;
        expectClose(copy.run(x).outputs, cell.run(x).outputs, { rtol: 0, atol: 0 });
      });
      cell.dispose();
      copy.dispose();
    });
  }

  it('a file with a missing or misshapen weight changes nothing', () => {
    const small = { inputSize: 12, inputModes: [2, 3, 2], hiddenSize: 8, hiddenModes: [2, 2, 2], seed: 1 };
    const cell = createCell(paperCellConfig('tt-gru', { ...small, ranks: [1, 3, 2, 1] }));
    const other = createCell(paperCellConfig('tt-gru', { ...small, ranks: [1, 2, 2, 1], seed: 2 }));
    const before = cell.namedVariables().map(([, v]) => Array.from(v.dataSync()));
    expect(() => loadCellWeights(cell, cellToSafetensors(other))).toThrow(
      /setWeights: 'W.core0' must have shape \[1, 2, 2, 3\], got \[1, 2, 2, 2\]/,
    );
    const partial = encodeSafetensors([['bW', { shape: [24], data: new Float32Array(24) }]]);
    expect(() => loadCellWeights(cell, partial)).toThrow(/loadCellWeights: the file lacks W.core0/);
    expect(cell.namedVariables().map(([, v]) => Array.from(v.dataSync()))).toEqual(before);
    expect(() => cellFromSafetensors(partial)).toThrow(/no tensorized.config metadata/);
    cell.dispose();
    other.dispose();
  });
});
