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

  it('matMul with one right-hand side reshaped to several shapes (and transposed) gives the right products', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const x = tf.tensor1d(Float32Array.from({ length: 192 }, (_, i) => Math.sin(i)));
    // Reference product on the host.
    const ref = (a: tf.Tensor2D, b: tf.Tensor2D, tb: boolean): number[] => {
      const [m, k] = a.shape;
      const n = tb ? b.shape[0] : b.shape[1];
      const av = a.dataSync();
      const bv = b.dataSync();
      const out: number[] = [];
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) s += av[i * k + q]! * bv[tb ? j * k + q : q * n + j]!;
          out.push(s);
        }
      return out;
    };
    // TF.js 4.22 cached the packed operator under x's data id: the second shape read out of bounds.
    for (const [rows, k, n, tb] of [[3, 4, 48, false], [2, 16, 12, false], [5, 16, 12, false], [2, 12, 16, true], [3, 4, 48, false], [1, 96, 2, false]] as const) {
      const a = tf.tensor2d(Float32Array.from({ length: rows * k }, (_, i) => Math.cos(i)), [rows, k]);
      const b = tf.reshape(x, tb ? [n, k] : [k, n]) as tf.Tensor2D;
      const y = tf.matMul(a, b, false, tb);
      const expected = ref(a, b, tb);
      for (const [i, v] of Array.from(y.dataSync()).entries()) expect(v).toBeCloseTo(expected[i]!, 4);
      tf.dispose([a, b, y]);
    }
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Transpose on wasm equals an element-by-element transpose: block swaps of large tensors (the fast path), size-1 axes, other permutations, float32 and int32', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const reference = (data: Float32Array | Int32Array, shape: number[], perm: number[]): number[] => {
      const strides = shape.map((_, a) => shape.slice(a + 1).reduce((p, q) => p * q, 1));
      const outShape = perm.map((a) => shape[a]!);
      const total = data.length;
      const out: number[] = [];
      for (let o = 0; o < total; o++) {
        let rem = o;
        let offset = 0;
        for (let a = outShape.length - 1; a >= 0; a--) {
          offset += (rem % outShape[a]!) * strides[perm[a]!]!;
          rem = Math.floor(rem / outShape[a]!);
        }
        out.push(data[offset]!);
      }
      return out;
    };
    const cases: Array<[number[], number[]]> = [
      [[130, 257], [1, 0]],
      [[8, 17, 150], [2, 0, 1]],
      [[8, 17, 150], [1, 2, 0]],
      [[1, 129, 1, 140], [3, 2, 0, 1]],
      [[6, 5, 7, 101], [2, 3, 0, 1]],
      [[16, 32, 40], [0, 2, 1]],
      [[40, 30, 20], [2, 1, 0]],
      [[3, 4], [1, 0]],
    ];
    for (const [shape, perm] of cases) {
      for (const dtype of ['float32', 'int32'] as const) {
        const size = shape.reduce((p, q) => p * q, 1);
        const values = dtype === 'int32' ? Int32Array.from({ length: size }, (_, i) => i - 50) : Float32Array.from({ length: size }, (_, i) => i * 0.25 - 3);
        const x = tf.tensor(values, shape, dtype);
        const y = tf.transpose(x, perm);
        expect(y.shape).toEqual(perm.map((a) => shape[a]!));
        expect(Array.from(y.dataSync())).toEqual(reference(values, shape, perm));
        tf.dispose([x, y]);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
