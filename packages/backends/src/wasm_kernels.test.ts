import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { useBackend } from './index.js';

/** Slice on the host, element by element: the reference. */
function sliceRef(data: Float32Array, shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, a) => shape.slice(a + 1).reduce((p, q) => p * q, 1));
  const total = size.reduce((p, q) => p * q, 1);
  const out: number[] = [];
  for (let o = 0; o < total; o++) {
    let rem = o;
    let offset = 0;
    for (let a = size.length - 1; a >= 0; a--) {
      offset += (begin[a]! + (rem % size[a]!)) * strides[a]!;
      rem = Math.floor(rem / size[a]!);
    }
    out.push(data[offset]!);
  }
  return out;
}

describe('wasm kernel fixes', () => {
  it('Slice on wasm equals an element-by-element slice, for ranks 1 to 6, strided and contiguous, float32 and int32', async () => {
    await useBackend('wasm');
    let seed = 1;
    const rand = (n: number): number => {
      seed = (seed * 16807) % 2147483647;
      return seed % n;
    };
    const before = tf.memory().numTensors;
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + (trial % 6);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      const begin = shape.map((d) => rand(d));
      const size = shape.map((d, a) => (rand(4) === 0 ? -1 : 1 + rand(d - begin[a]!)));
      const full = size.map((s, a) => (s === -1 ? shape[a]! - begin[a]! : s));
      const dtype = trial % 2 ? 'int32' : 'float32';
      const values = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, (_, i) => (dtype === 'int32' ? i - 7 : i * 0.5 - 3.25));
      const x = tf.tensor(values, shape, dtype);
      const y = tf.slice(x, begin, size);
      expect(y.shape).toEqual(full);
      const expected = sliceRef(values, shape, begin, full);
      expect(Array.from(y.dataSync())).toEqual(expected);
      tf.dispose([x, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the gradient of a slice (a pad) is unchanged', async () => {
    await useBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, [0, 1], [2, 2]), tf.tensor2d([1, 2, 3, 4], [2, 2]))))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 2, 0, 3, 4]);
    tf.dispose([x, g]);
  });
});
