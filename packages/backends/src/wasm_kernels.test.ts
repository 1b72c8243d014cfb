import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { setNativeWasmKernels, useBackend } from './index.js';
import { sharedMemory } from './wasm_native.js';
import {
  mergeTransposeAxes,
  PACKED_MAX_RHS,
  PACKED_MIN_ROWS,
  SMALL_MATMUL_FEW_ROWS,
  SMALL_MATMUL_MAX_RHS,
  SMALL_MATMUL_NARROW,
  SMALL_MATMUL_ROWS_ANY_SIZE,
  smallMatMulKernel,
} from './wasm_kernels.js';

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

/** Deterministic integers in [0, n) (a Park-Miller generator from `seed`), for randomised shapes. */
function seededInts(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 16807) % 2147483647;
    return s % n;
  };
}

/**
 * op(inputs()) on cpu and on wasm: the same shape and values, and no tensor left behind on either.
 */
async function expectSameOnCpuAndWasm(inputs: () => tf.Tensor[], op: (xs: tf.Tensor[]) => tf.Tensor): Promise<void> {
  const results: Record<string, { shape: number[]; data: number[] }> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const xs = inputs();
    const y = op(xs);
    results[backend] = { shape: y.shape, data: Array.from(y.dataSync()) };
    tf.dispose([...xs, y]);
    expect(tf.memory().numTensors).toBe(before);
  }
  expect(results.wasm).toEqual(results.cpu);
}

describe('wasm kernel fixes', () => {
  it('Slice on wasm equals an element-by-element slice, for ranks 1 to 6, strided and contiguous, float32 and int32', async () => {
    await useBackend('wasm');
    const rand = seededInts(1);
    const before = tf.memory().numTensors;
    for (let trial = 0; trial < 200; trial++) {
      const rank = 1 + (trial % 6);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      const begin = shape.map((d) => rand(d));
      const size = shape.map((d, a) => (rand(4) === 0 ? -1 : 1 + rand(d - begin[a]!)));
      const full = size.map((s, a) => (s === -1 ? shape[a]! - begin[a]! : s));
      const dtype = trial % 2 ? 'int32' : 'float32';
      const values = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, (_, i) =>
        dtype === 'int32' ? i - 7 : i * 0.5 - 3.25,
      );
      const x = tf.tensor(values, shape, dtype);
      const y = tf.slice(x, begin, size);
      expect(y.shape).toEqual(full);
      const expected = sliceRef(values, shape, begin, full);
      expect(Array.from(y.dataSync())).toEqual(expected);
      tf.dispose([x, y]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Concat on wasm equals the cpu backend: ranks 1 to 4, every axis, several inputs, empty ones, float32 and int32 (and bool, handed on)', async () => {
    const rand = seededInts(3);
    for (let trial = 0; trial < 120; trial++) {
      const rank = 1 + (trial % 4);
      const axis = rand(rank);
      const shape = Array.from({ length: rank }, () => 1 + rand(4));
      const parts = Array.from({ length: 1 + rand(4) }, () => {
        const s = [...shape];
        s[axis] = rand(5) === 0 ? 0 : 1 + rand(3);
        return s;
      });
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
      const values = parts.map((s, i) =>
        Array.from({ length: s.reduce((p, q) => p * q, 1) }, (_, j) =>
          dtype === 'bool' ? (i + j) % 2 : i * 100 + j * 0.5,
        ),
      );
      await expectSameOnCpuAndWasm(
        () => parts.map((s, i) => tf.tensor(values[i]!, s, dtype)),
        (xs) => tf.concat(xs, axis),
      );
    }
  });

  it('Pack (tf.stack) on wasm equals the cpu backend: ranks 0 to 3, every axis (negative too), one to five inputs, float32, int32 and bool', async () => {
    const rand = seededInts(5);
    for (let trial = 0; trial < 90; trial++) {
      const rank = trial % 4;
      const shape = Array.from({ length: rank }, () => 1 + rand(4));
      const axis = rand(rank + 1) - (trial % 5 === 0 ? rank + 1 : 0);
      const n = 1 + rand(5);
      const dtype = (['float32', 'int32', 'bool'] as const)[trial % 3]!;
      const size = shape.reduce((p, q) => p * q, 1);
      const values = Array.from({ length: n }, (_, i) =>
        Array.from({ length: size }, (_, j) => (dtype === 'bool' ? (i + j) % 2 : i * 100 + j * 0.5)),
      );
      await expectSameOnCpuAndWasm(
        () => values.map((v) => tf.tensor(v, shape, dtype)),
        (xs) => tf.stack(xs, axis),
      );
    }
  });

  it('the gradient of a slice (a pad) is unchanged', async () => {
    await useBackend('wasm');
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.slice(v, [0, 1], [2, 2]), tf.tensor2d([1, 2, 3, 4], [2, 2]))))(
      x,
    );
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
    for (const [rows, k, n, tb] of [
      [3, 4, 48, false],
      [2, 16, 12, false],
      [5, 16, 12, false],
      [2, 12, 16, true],
      [3, 4, 48, false],
      [1, 96, 2, false],
    ] as const) {
      const a = tf.tensor2d(
        Float32Array.from({ length: rows * k }, (_, i) => Math.cos(i)),
        [rows, k],
      );
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
      [
        [130, 257],
        [1, 0],
      ],
      [
        [8, 17, 150],
        [2, 0, 1],
      ],
      [
        [8, 17, 150],
        [1, 2, 0],
      ],
      [
        [1, 129, 1, 140],
        [3, 2, 0, 1],
      ],
      [
        [6, 5, 7, 101],
        [2, 3, 0, 1],
      ],
      // Batches of matrix transposes (each matrix by the WebAssembly transpose): a TT-GRU's per-step
      // views, odd sizes (the blocks' remainders), and matrices too small for the route (4 x 4).
      [
        [16, 32, 40],
        [0, 2, 1],
      ],
      [
        [16, 16, 32],
        [0, 2, 1],
      ],
      [
        [3, 1, 9, 13],
        [0, 1, 3, 2],
      ],
      [
        [7, 4, 4],
        [0, 2, 1],
      ],
      [
        [40, 30, 20],
        [2, 1, 0],
      ],
      [
        [3, 4],
        [1, 0],
      ],
      // Matrices by the WebAssembly transpose: small ones (a flipped state, remainders of the 4 x 4
      // blocks), and rows of the output a multiple of 2 KiB apart (its narrower tiles, a partial
      // last tile of columns and columns left over).
      [
        [16, 9],
        [1, 0],
      ],
      [
        [1024, 83],
        [1, 0],
      ],
      [
        [512, 70],
        [1, 0],
      ],
      [
        [1536, 13],
        [1, 0],
      ],
      // The two middle axes swapped, runs of the last kept whole (one WebAssembly pass): a TT-GRU's
      // layout between its cores (a unit axis among them), runs of 6, 4, 9 and 3 values (the last
      // 4 values of a run copied at once, overlapping; fewer than 4 one by one), no leading axis.
      [
        [16, 16, 1, 32, 11],
        [0, 3, 2, 1, 4],
      ],
      [
        [5, 3, 7, 6],
        [0, 2, 1, 3],
      ],
      [
        [2, 3, 5, 4],
        [0, 2, 1, 3],
      ],
      [
        [4, 3, 5, 3],
        [0, 2, 1, 3],
      ],
      [
        [3, 7, 9],
        [1, 0, 2],
      ],
      // Above rank 4 (merged to fewer axes before the original kernel): a Block-Term preparation's
      // rank-7 transpose, unit axes among them, a rank-6 one that merges to a block swap, and one
      // that merges to nothing fewer (left to the original kernel as it is).
      [
        [4, 4, 4, 4, 12, 4, 6],
        [6, 0, 1, 2, 3, 5, 4],
      ],
      [
        [3, 1, 5, 2, 1, 7],
        [5, 4, 0, 1, 3, 2],
      ],
      [
        [2, 3, 4, 5, 6, 7],
        [3, 4, 5, 0, 1, 2],
      ],
      [
        [2, 3, 2, 3, 2],
        [4, 2, 0, 3, 1],
      ],
      // Block-Term preparations' transposes that stay above rank 4 (a strided copy).
      [
        [4, 4, 4, 4, 12, 4, 6],
        [6, 0, 3, 2, 5, 1, 4],
      ],
      [
        [8, 8, 4, 4, 4, 4, 6],
        [0, 3, 1, 4, 2, 5, 6],
      ],
      [
        [2, 16, 6, 32, 16],
        [0, 3, 2, 1, 4],
      ],
    ];
    // And random permutations of random shapes of ranks 5 to 7.
    const rand = seededInts(7);
    for (let c = 0; c < 24; c++) {
      const rank = 5 + rand(3);
      const shape = Array.from({ length: rank }, () => 1 + rand(5));
      const perm = Array.from({ length: rank }, (_, i) => i);
      for (let i = rank - 1; i > 0; i--) {
        const j = rand(i + 1);
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
      cases.push([shape, perm]);
    }
    for (const [shape, perm] of cases) {
      for (const dtype of ['float32', 'int32'] as const) {
        const size = shape.reduce((p, q) => p * q, 1);
        const values =
          dtype === 'int32'
            ? Int32Array.from({ length: size }, (_, i) => i - 50)
            : Float32Array.from({ length: size }, (_, i) => i * 0.25 - 3);
        const x = tf.tensor(values, shape, dtype);
        const y = tf.transpose(x, perm);
        expect(y.shape).toEqual(perm.map((a) => shape[a]!));
        expect(Array.from(y.dataSync())).toEqual(reference(values, shape, perm));
        tf.dispose([x, y]);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Tile and broadcastTo on wasm equal an element-by-element tile: ranks 0 to 5, axes of 1, reps of 1, float32, int32 and bool', async () => {
    await useBackend('wasm');
    const cases: Array<[number[], number[]]> = [
      [[], []],
      [[5], [3]],
      [[1], [7]],
      [
        [16, 55, 1],
        [1, 1, 256],
      ],
      [
        [2, 3],
        [1, 1],
      ],
      [
        [2, 1, 3],
        [2, 4, 1],
      ],
      [
        [3, 2, 2, 1],
        [1, 3, 1, 5],
      ],
      [
        [2, 1, 2, 3, 1],
        [2, 2, 1, 2, 3],
      ],
      [
        [2, 0, 3],
        [2, 2, 2],
      ],
    ];
    const before = tf.memory().numTensors;
    for (const [shape, reps] of cases) {
      const n = shape.reduce((p, q) => p * q, 1);
      const outShape = shape.map((d, i) => d * reps[i]!);
      const m = outShape.reduce((p, q) => p * q, 1);
      // The reference: every output index taken modulo the input's shape.
      const source = (o: number): number => {
        let [rest, xi, stride] = [o, 0, 1];
        for (let d = shape.length - 1; d >= 0; d--) {
          const i = rest % outShape[d]!;
          rest = Math.floor(rest / outShape[d]!);
          xi += (i % shape[d]!) * stride;
          stride *= shape[d]!;
        }
        return xi;
      };
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? (i * 7) % 3 === 0 : i * 3 - 4));
        const x = tf.tensor(values as never, shape, dtype);
        const y = tf.tile(x, reps);
        expect(y.shape).toEqual(outShape);
        expect(y.dtype).toBe(dtype);
        const got = y.dataSync();
        const expected = Array.from({ length: m }, (_, o) => Number(values[source(o)]));
        expect(Array.from(got, Number)).toEqual(expected);
        tf.dispose([x, y]);
      }
    }
    // broadcastTo (a tile) of a padding mask, the case that made it slow.
    const mask = tf.tensor3d([1, 0, 1, 1, 0, 0], [2, 3, 1]);
    const wide = tf.broadcastTo(mask, [2, 3, 4]);
    expect(Array.from(wide.dataSync())).toEqual([
      1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    tf.dispose([mask, wide]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Select (tf.where) on wasm picks t where the bool condition holds and e elsewhere, bit for bit: every remainder of 4, float32 and int32, NaN and -0 passed through, a broadcast padding mask', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    for (const n of [1, 4, 7, 4099]) {
      for (const dtype of ['float32', 'int32'] as const) {
        const c = Array.from({ length: n }, (_, i) => (i * 5) % 3 !== 0);
        const t = Float32Array.from({ length: n }, (_, i) =>
          i % 11 === 0 ? Number.NaN : i % 13 === 0 ? -0 : i * 0.5 - 3,
        );
        const e = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? Number.NaN : -i * 0.25));
        const [ct, tt, et] = [tf.tensor1d(c, 'bool'), tf.tensor1d(t, dtype), tf.tensor1d(e, dtype)];
        const y = tf.where(ct, tt, et);
        const [tv, ev] = [tt.dataSync(), et.dataSync()];
        const got = y.dataSync();
        expect(y.dtype).toBe(dtype);
        for (let i = 0; i < n; i++) {
          const want = c[i] ? tv[i]! : ev[i]!;
          if (!Object.is(got[i], want)) expect([i, got[i]]).toEqual([i, want]);
        }
        tf.dispose([ct, tt, et, y]);
      }
    }
    // The padding mask of a sequence batch (B, T, 1) broadcast over the features, and its rows.
    const y = tf.tidy(() => {
      const mask = tf.tensor3d([1, 0, 1, 1, 0, 0], [2, 3, 1], 'bool');
      const x = tf.reshape(tf.range(1, 25), [2, 3, 4]);
      return tf.where(tf.broadcastTo(mask, [2, 3, 4]), x, tf.zerosLike(x));
    });
    expect(Array.from(y.dataSync())).toEqual([
      1, 2, 3, 4, 0, 0, 0, 0, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0, 0, 0, 0, 0,
    ]);
    y.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('mergeTransposeAxes gives the fewest axes: unit axes dropped, neighbours that stay neighbours merged', () => {
    expect(mergeTransposeAxes([4, 4, 4, 4, 12, 4, 6], [6, 0, 1, 2, 3, 5, 4])).toEqual({
      shape: [256, 12, 4, 6],
      perm: [3, 0, 2, 1],
    });
    expect(mergeTransposeAxes([2, 3, 4, 5, 6, 7], [3, 4, 5, 0, 1, 2])).toEqual({ shape: [24, 210], perm: [1, 0] });
    expect(mergeTransposeAxes([3, 1, 5, 2], [1, 0, 2, 3])).toEqual({ shape: [30], perm: [0] });
    expect(mergeTransposeAxes([2, 3, 2, 3, 2], [4, 2, 0, 3, 1])).toEqual({
      shape: [2, 3, 2, 3, 2],
      perm: [4, 2, 0, 3, 1],
    });
  });

  it('matMul with transposed operands (2-D with either orientation, batched, fused with a bias) equals a float64 product, and so do its gradients', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const values = (n: number, phase: number): Float32Array =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase));
    /** op(A) op(B) per batch on the host, A and B given in their stored layouts. */
    const ref = (a: tf.Tensor, b: tf.Tensor, ta: boolean, tb: boolean): number[] => {
      const [ar, ac] = a.shape.slice(-2) as [number, number];
      const [br, bc] = b.shape.slice(-2) as [number, number];
      const [m, k] = ta ? [ac, ar] : [ar, ac];
      const n = tb ? br : bc;
      const batch = a.size / (ar * ac);
      const av = a.dataSync();
      const bv = b.dataSync();
      const out: number[] = [];
      for (let p = 0; p < batch; p++)
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let s = 0;
            for (let q = 0; q < k; q++)
              s +=
                av[p * ar * ac + (ta ? q * ac + i : i * ac + q)]! * bv[p * br * bc + (tb ? j * bc + q : q * bc + j)]!;
            out.push(s);
          }
      return out;
    };
    // A^T B with B much wider than A (flipped) and not; A B^T with A the smaller (flipped) and not; both.
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[64, 3], [64, 40], true, false],
      [[64, 30], [64, 20], true, false],
      [[4, 24], [30, 24], false, true],
      [[50, 24], [6, 24], false, true],
      [[7, 5], [9, 7], true, true],
      [[3, 8, 5], [3, 8, 6], true, false],
      [[2, 4, 6], [2, 5, 6], false, true],
    ];
    for (const [as, bs, ta, tb] of cases) {
      const a = tf.tensor(
        values(
          as.reduce((p, q) => p * q, 1),
          0.1,
        ),
        as,
      );
      const b = tf.tensor(
        values(
          bs.reduce((p, q) => p * q, 1),
          0.7,
        ),
        bs,
      );
      const y = tf.matMul(a, b, ta, tb);
      const expected = ref(a, b, ta, tb);
      for (const [i, v] of Array.from(y.dataSync()).entries()) expect(v).toBeCloseTo(expected[i]!, 4);
      tf.dispose([a, b, y]);
    }
    // Fused with a bias (the layers' Dense): the transpose is explicit, the bias still added.
    const a = tf.tensor2d(values(12, 0.2), [4, 3]);
    const b = tf.tensor2d(values(15, 0.4), [5, 3]);
    const bias = tf.tensor1d([1, 2, 3, 4, 5]);
    const fused = tf.fused.matMul({ a, b, transposeB: true, bias });
    const plain = ref(a, b, false, true);
    for (const [i, v] of Array.from(fused.dataSync()).entries()) expect(v).toBeCloseTo(plain[i]! + (i % 5) + 1, 4);
    // Gradients (which ask for both transposed products) against the same products on the host.
    const dy = tf.tensor2d(values(20, 0.9), [4, 5]);
    const [da, db] = tf.grads((x: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, w, false, true), dy)))([a, b]);
    const daRef = ref(dy, b, false, false);
    const dbRef = ref(dy, a, true, false);
    for (const [i, v] of Array.from(da!.dataSync()).entries()) expect(v).toBeCloseTo(daRef[i]!, 4);
    for (const [i, v] of Array.from(db!.dataSync()).entries()) expect(v).toBeCloseTo(dbRef[i]!, 4);
    tf.dispose([a, b, bias, fused, dy, da!, db!]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('small products and many rows by a larger matrix (the WebAssembly matmul and matmulPacked) equal a float64 product and XNNPACK bit for bit, for every row and column remainder; fused with a bias, the separate ops', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const values = (n: number, phase: number): Float32Array =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + phase) * (1 + (i % 7)));
    const ref = (a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let q = 0; q < K; q++) s += a[i * K + q]! * b[q * N + j]!;
          out.push(s);
        }
      return out;
    };
    let cases = 0;
    const check = (M: number, K: number, N: number): void => {
      const av = values(M * K, 0.1 * M);
      const bv = values(K * N, 0.7 + K);
      const a = tf.tensor2d(av, [M, K]);
      const b = tf.tensor2d(bv, [K, N]);
      const y = tf.matMul(a, b);
      const got = y.dataSync().slice();
      const expected = ref(av, bv, M, K, N);
      // Within float32's bound for a sum of K products: (K + 1) u sum |a b| (u = 2^-24).
      const bound = ref(av.map(Math.abs), bv.map(Math.abs), M, K, N);
      for (let i = 0; i < expected.length; i++)
        expect(Math.abs(got[i]! - expected[i]!), `${M} x ${K} by ${K} x ${N}`).toBeLessThanOrEqual(
          (K + 1) * 2 ** -24 * bound[i]!,
        );
      // The same product by XNNPACK (the WebAssembly kernels switched off): the same float32 sums.
      const was = setNativeWasmKernels(false);
      const xnn = tf.matMul(a, b);
      setNativeWasmKernels(was);
      expect(Array.from(got), `${M} x ${K} by ${K} x ${N}`).toEqual(Array.from(xnn.dataSync()));
      tf.dispose([a, b, y, xnn]);
      cases++;
    };
    // Rows: the 4-row blocks and 1 to 3 left over; columns: 8-wide blocks, 4 left over, 32-wide rows.
    for (const M of [1, 2, 3, 4, 5, 8, 16, 19])
      for (const K of [1, 3, 16, 80]) for (const N of [4, 8, 12, 32, 36, 88]) check(M, K, N);
    // Long sums (a recurrent state by a narrow factor: the backward pass of a CP-GRU), many rows.
    check(16, 1536, 80);
    check(3, 1000, 128);
    check(512, 16, 1536 / 12);
    // Few rows by a wide right-hand side (CP's and Tucker's factors at batch 1).
    check(1, 80, 1536);
    check(3, 64, 1540);
    // Rows left over by a wide right-hand side (streamed row by row, 4 rows of B at a time): sums of
    // 1 to 3 terms past the last 4, a 4-row block before them.
    check(2, 7, 512);
    check(5, 83, 516);
    // Any size by fewer than 4 rows when wide: the dense U at batch 1.
    check(1, 512, 1536);
    check(3, 300, 1024);
    // Rows left over by a narrower B of 64K values or more (streamed too): column sums of a bias's
    // gradient (any size), and a sum of 1030 terms (2 past the last 4) by 3 rows.
    check(1, 2048, 256);
    check(3, 1030, 68);
    // Many rows by a larger right-hand side, through panels of B (matmulPacked): rows left over after
    // the 4-row blocks, 4 columns after the 8-wide panels, several blocks of rows (48 for K = 80).
    check(37, 300, 228);
    check(100, 80, 1536);
    check(32, 512, 1540);
    // Small only by the narrow allowance, many rows: through panels as well.
    check(40, 1536, 80);
    // Columns not a multiple of 4 (B padded with zeros to the next multiple, the padding's columns
    // dropped): a Tucker factor's mode product (12288 x 8 by 8 x 2) among them.
    for (const M of [1, 5, 16]) for (const K of [3, 8]) for (const N of [1, 2, 3, 6, 7]) check(M, K, N);
    check(12288, 8, 2);
    expect(cases).toBe(238);
    // Fused with a bias and an activation (tf.fused.matMul): what the separate ops compute, bit for bit.
    for (const [M, K, N] of [
      [1, 88, 256],
      [1, 512, 88],
      [5, 16, 36],
      [5, 16, 6],
      [2, 21, 1536],
      // Through panels of B, on one thread (the threaded build hands it to XNNPACK, which starts its
      // sums from the bias).
      ...(sharedMemory(tf.backend() as never) ? [] : [[41, 260, 260] as const]),
    ] as const) {
      const a = tf.tensor2d(values(M * K, 0.5), [M, K]);
      const b = tf.tensor2d(values(K * N, 1.5), [K, N]);
      const bias = tf.tensor1d(values(N, 2.5));
      for (const activation of ['linear', 'relu', 'leakyrelu'] as const) {
        const fused = tf.fused.matMul({ a, b, bias, activation, leakyreluAlpha: 0.1 });
        const sum = tf.tidy(() => tf.add(tf.matMul(a, b), bias));
        const separate =
          activation === 'relu' ? tf.relu(sum) : activation === 'leakyrelu' ? tf.leakyRelu(sum, 0.1) : tf.clone(sum);
        expect(Array.from(fused.dataSync()), `${M} x ${K} by ${K} x ${N}, ${activation}`).toEqual(
          Array.from(separate.dataSync()),
        );
        const expected = ref(a.dataSync(), b.dataSync(), M, K, N).map((v, i) => {
          const x = v + bias.dataSync()[i % N]!;
          return activation === 'relu' ? Math.max(x, 0) : activation === 'leakyrelu' && x < 0 ? 0.1 * x : x;
        });
        const bound = ref(a.dataSync().map(Math.abs), b.dataSync().map(Math.abs), M, K, N);
        for (const [i, v] of Array.from(fused.dataSync()).entries())
          expect(Math.abs(v - expected[i]!)).toBeLessThanOrEqual((K + 2) * 2 ** -24 * (bound[i]! + 3));
        tf.dispose([fused, sum, separate]);
      }
      tf.dispose([a, b, bias]);
    }
    // Leading axes of size 1 keep their place in the output's shape.
    const a = tf.tensor3d(values(20, 0.3), [1, 5, 4]);
    const b = tf.tensor4d(values(32, 0.9), [1, 1, 4, 8]);
    const y = tf.matMul(a as never, b as never);
    expect(y.shape).toEqual([1, 1, 5, 8]);
    const expected = ref(a.dataSync() as Float32Array, b.dataSync() as Float32Array, 5, 4, 8);
    for (const [i, v] of Array.from(y.dataSync()).entries()) expect(v).toBeCloseTo(expected[i]!, 5);
    tf.dispose([a, b, y]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('A^T B up to TN_PACKED_MAX values (the WebAssembly matmulTN and matmulTNPacked: weight gradients over all steps) equals a float64 product and XNNPACK on A transposed, bit for bit, for every remainder and block of the summed axis', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const values = (n: number, phase: number): Float32Array =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(0.29 * i + phase) * (1 + (i % 5)));
    let cases = 0;
    const check = (K: number, M: number, N: number): void => {
      const av = values(K * M, 0.3 * M);
      const bv = values(K * N, 1.1 + N);
      const a = tf.tensor2d(av, [K, M]);
      const b = tf.tensor2d(bv, [K, N]);
      const y = tf.matMul(a, b, true, false);
      expect(y.shape).toEqual([M, N]);
      const got = y.dataSync();
      // float64 reference with float32's bound for a sum of K products.
      for (let i = 0; i < M; i++)
        for (let j = 0; j < N; j++) {
          let s = 0;
          let bound = 0;
          for (let k = 0; k < K; k++) {
            s += av[k * M + i]! * bv[k * N + j]!;
            bound += Math.abs(av[k * M + i]! * bv[k * N + j]!);
          }
          expect(Math.abs(got[i * N + j]! - s), `${K} x ${M} ^T by ${K} x ${N}`).toBeLessThanOrEqual(
            (K + 1) * 2 ** -24 * bound,
          );
        }
      // The transposed A multiplied by XNNPACK (the WebAssembly kernels off): the same float32 sums.
      const was = setNativeWasmKernels(false);
      const at = tf.transpose(a);
      const xnn = tf.matMul(at, b);
      setNativeWasmKernels(was);
      expect(Array.from(got), `${K} x ${M} ^T by ${K} x ${N}`).toEqual(Array.from(xnn.dataSync()));
      tf.dispose([a, b, y, at, xnn]);
      cases++;
    };
    // Summed axis: under one block, one block, blocks and a remainder; columns of A: the 4-wide
    // blocks and 1 to 3 left over; columns of B: 8-wide tiles and 4 left over.
    for (const K of [1, 5, 128, 300]) for (const M of [1, 3, 4, 6, 11]) for (const N of [4, 8, 12, 48]) check(K, M, N);
    // The TT stage gradients of the paper's U at B = 16, T = 64 (shorter sums, the same shapes of C).
    check(2048, 176, 48);
    check(1024, 32, 352);
    // Blocks of columns of B (TN_COLS, 256) with 8 and with 4 left over after the last whole block.
    check(130, 5, 264);
    check(300, 6, 516);
    // A CP factor's gradient (R x 1536 with R = 80, 123K values, under TN_DIRECT_MAX) over a batch:
    // B that wide goes through panels of B (matmulTNPacked) too.
    check(784, 80, 1536);
    // Results over TN_DIRECT_MAX, through panels of B (matmulTNPacked): blocks of 128 rows and a
    // remainder, columns of A left over, 4 columns of B left over; then whole blocks, a wide B.
    check(300, 259, 1028);
    check(256, 172, 1536);
    // Fewer than 4 columns of A (no group of four to copy the panels on its way) in a result over
    // TN_DIRECT_MAX: the panels in a pass of their own.
    check(130, 3, 87388);
    // Columns of B not a multiple of 4: C^T = B^T A where A's columns are a multiple of 4 (a Tucker
    // factor's gradient, 12288 x 8 ^T by 12288 x 2), else B padded with zeros.
    for (const K of [5, 300]) for (const M of [3, 4, 6, 8]) for (const N of [1, 2, 6]) check(K, M, N);
    check(12288, 8, 2);
    expect(cases).toBe(113);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the small-product kernel takes exactly the plain float32 products it is for and hands everything else on', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const handedOn: string[] = [];
    const kernel = smallMatMulKernel((args) => {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      handedOn.push(`${a.shape.join('x')} ${b.shape.join('x')}`);
      return { dataId: a.dataId, shape: a.shape, dtype: a.dtype };
    });
    const call = (a: tf.Tensor, b: tf.Tensor, attrs: { transposeA?: boolean; transposeB?: boolean } = {}) => {
      const out = kernel({ inputs: { a, b }, backend: tf.backend(), attrs: attrs as tf.NamedAttrMap }) as tf.TensorInfo;
      if (out.dataId !== a.dataId) tf.backend().disposeData(out.dataId, true);
    };
    const t = (shape: number[], dtype: 'float32' | 'int32' = 'float32') => tf.zeros(shape, dtype);
    const side = Math.sqrt(SMALL_MATMUL_MAX_RHS);
    const narrow = (4 * SMALL_MATMUL_MAX_RHS) / SMALL_MATMUL_NARROW;
    const taken = [
      [t([16, 512]), t([512, 80])],
      [t([1, 256, 16]), t([16, 16])],
      [t([1, side]), t([side, side])],
      [t([2, narrow]), t([narrow, SMALL_MATMUL_NARROW])], // narrow: up to 4x as many values
      [t([SMALL_MATMUL_FEW_ROWS, 80]), t([80, 1536])], // few rows, any width: CP's factor at batch 1
      [t([1, side]), t([side, side + 4])],
      [t([1, 512]), t([512, 1536])], // fewer than 4 rows, wide, any size: the dense U at batch 1
      [t([3, 700]), t([700, 512])],
      // fewer than 4 rows, narrower, any size: a bias's gradient as column sums (ones times dy)
      [t([SMALL_MATMUL_ROWS_ANY_SIZE - 1, 2048]), t([2048, 256])],
      [t([1, 1024]), t([1024, 508])],
      [t([4, 8]), t([8, 6])], // N not a multiple of 4: B padded to 8 columns
      [t([12288, 8]), t([8, 2])], // a Tucker factor's mode product
    ];
    // Many rows through panels of B (the dense W over a batch, CP's W), up to PACKED_MAX_RHS values.
    const panels = [
      [t([PACKED_MIN_ROWS, 512]), t([512, 1536])],
      [t([960, 80]), t([80, 1536])],
      [t([PACKED_MIN_ROWS, 1024]), t([1024, PACKED_MAX_RHS / 1024])],
      // Small only by the narrow allowance (a CP-GRU's W gradient, 123K values of B): panels too.
      [t([PACKED_MIN_ROWS, 1536]), t([1536, 80])],
    ];
    const few = SMALL_MATMUL_FEW_ROWS;
    const handed = [
      [t([16, 512]), t([512, 1536])], // larger than SMALL_MATMUL_MAX_RHS, fewer than PACKED_MIN_ROWS rows
      [t([few + 1, side]), t([side, side + 4])],
      [t([SMALL_MATMUL_ROWS_ANY_SIZE, narrow + 1]), t([narrow + 1, SMALL_MATMUL_NARROW])], // 4 rows: not any size
      [t([few + 1, narrow / 2]), t([narrow / 2, 2 * SMALL_MATMUL_NARROW])], // 2x the values, not narrow, not few rows
      [t([4, 512]), t([512, 1536])], // 4 rows, more than 4x SMALL_MATMUL_MAX_RHS values
      [t([PACKED_MIN_ROWS, 1024]), t([1024, PACKED_MAX_RHS / 1024 + 4])], // more than PACKED_MAX_RHS values
      [t([PACKED_MIN_ROWS, 1024]), t([1024, 1026])], // N not a multiple of 4, not small: no panels
      [t([2, 4, 8]), t([2, 8, 4])], // batched
      [t([4, 8], 'int32'), t([8, 4], 'int32')],
      [t([4, 0]), t([0, 4])],
    ];
    for (const [a, b] of taken) call(a!, b!);
    expect(handedOn).toEqual([]);
    // On one thread; the threaded build leaves them (over 2M multiply-adds each) to XNNPACK's threads.
    for (const [a, b] of panels) call(a!, b!);
    const shared = sharedMemory(tf.backend() as never);
    expect(handedOn).toEqual(shared ? panels.map(([a, b]) => `${a!.shape.join('x')} ${b!.shape.join('x')}`) : []);
    handedOn.length = 0;
    for (const [a, b] of handed) call(a!, b!);
    const [p, q] = [t([8, 4]), t([4, 8])];
    call(p, p, { transposeA: true });
    call(q, q, { transposeB: true });
    expect(handedOn).toEqual([
      '16x512 512x1536',
      `${few + 1}x${side} ${side}x${side + 4}`,
      `${SMALL_MATMUL_ROWS_ANY_SIZE}x${narrow + 1} ${narrow + 1}x${SMALL_MATMUL_NARROW}`,
      `${few + 1}x${narrow / 2} ${narrow / 2}x${2 * SMALL_MATMUL_NARROW}`,
      '4x512 512x1536',
      `${PACKED_MIN_ROWS}x1024 1024x${PACKED_MAX_RHS / 1024 + 4}`,
      `${PACKED_MIN_ROWS}x1024 1024x1026`,
      '2x4x8 2x8x4',
      '4x8 8x4',
      '4x0 0x4',
      '8x4 8x4',
      '4x8 4x8',
    ]);
    // With the WebAssembly kernels switched off, everything is handed on.
    const was = setNativeWasmKernels(false);
    call(taken[0]![0]!, taken[0]![1]!);
    setNativeWasmKernels(was);
    expect(handedOn).toHaveLength(13);
    // _FusedMatMul: a bias of one value per column with relu or leakyrelu taken; anything else handed on.
    handedOn.length = 0;
    const fusedCall = (attrs: tf.NamedAttrMap, inputs: Record<string, tf.Tensor> = {}) => {
      const out = kernel({
        inputs: { a: q, b: p, ...inputs },
        backend: tf.backend(),
        attrs,
      }) as tf.TensorInfo;
      if (out.dataId !== q.dataId) tf.backend().disposeData(out.dataId, true);
    };
    const [bias4, biasRow, bias5] = [t([4]), t([1, 4]), t([2, 4])];
    fusedCall({ activation: 'leakyrelu', leakyreluAlpha: 0.1 }, { bias: bias4 });
    fusedCall({ activation: 'relu' }, { bias: biasRow });
    expect(handedOn).toHaveLength(0);
    fusedCall({ activation: 'sigmoid' }, { bias: bias4 }); // an activation it does not apply
    fusedCall({ activation: 'prelu' }, { preluActivationWeights: bias4 });
    fusedCall({ activation: 'linear' }, { bias: bias5 }); // a bias of more than one value per column
    expect(handedOn).toEqual(['4x8 8x4', '4x8 8x4', '4x8 8x4']);
    tf.dispose([...taken.flat(), ...panels.flat(), ...handed.flat(), p, q, bias4, biasRow, bias5]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('_FusedMatMul on wasm takes matrices (rank 2) by a direct kernel call, as cpu and webgl do', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    // Small (our matmul) and large (XNNPACK's kernel, which reads rank 3) products.
    for (const [M, K, N] of [
      [1, 88, 256],
      [5, 300, 1536],
    ] as const) {
      const a = tf.randomNormal([M, K], 0, 1, 'float32', 1) as tf.Tensor2D;
      const b = tf.randomNormal([K, N], 0, 1, 'float32', 2) as tf.Tensor2D;
      const bias = tf.randomNormal([N], 0, 1, 'float32', 3) as tf.Tensor1D;
      const y = tf.engine().runKernel('_FusedMatMul', { a, b, bias }, {
        transposeA: false,
        transposeB: false,
        activation: 'leakyrelu',
        leakyreluAlpha: 0.1,
      } as never) as tf.Tensor;
      expect(y.shape).toEqual([M, N]);
      const ref = tf.tidy(() => tf.leakyRelu(tf.add(tf.matMul(a, b), bias), 0.1));
      const [got, want] = [y.dataSync(), ref.dataSync()];
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
      tf.dispose([a, b, bias, y, ref]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Identity on wasm (tf.clone, tensors saved for gradients) shares its input: no new buffer, values kept after the input is disposed or a variable reassigned', async () => {
    await useBackend('wasm');
    const before = tf.memory();
    const values = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i));
    const x = tf.tensor2d(values, [64, 64]);
    const buffers = (tf.memory() as { numDataBuffers: number }).numDataBuffers;
    const inner = tf.clone(x);
    const copies = [tf.clone(x), inner, tf.clone(inner)];
    // TF.js 4.22's kernel copied: a new buffer per clone.
    expect((tf.memory() as { numDataBuffers: number }).numDataBuffers).toBe(buffers);
    x.dispose();
    for (const c of copies) {
      expect(c.shape).toEqual([64, 64]);
      expect(c.dataSync()).toEqual(values);
    }
    const v = tf.variable(copies[0]!);
    const kept = tf.clone(v);
    const zeros = tf.zerosLike(v);
    v.assign(zeros);
    zeros.dispose();
    expect(kept.dataSync()).toEqual(values);
    expect(v.dataSync().every((e) => e === 0)).toBe(true);
    // Gradients through ops whose inputs the engine saves (by Identity) equal the cpu backend's.
    const grad = (): number[] => {
      const a = tf.tensor2d(values.slice(0, 256), [16, 16]);
      const g = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(tf.exp(tf.mul(t, t)), tf.matMul(t as tf.Tensor2D, t as tf.Tensor2D))),
      )(a);
      const out = Array.from(g.dataSync());
      tf.dispose([a, g]);
      return out;
    };
    const onWasm = grad();
    await useBackend('cpu');
    const onCpu = grad();
    await useBackend('wasm');
    for (const [i, g] of onWasm.entries()) expect(g).toBeCloseTo(onCpu[i]!, 3);
    const strings = tf.tensor1d(['a', 'bc']);
    const cloned = tf.clone(strings);
    strings.dispose();
    expect(cloned.dataSync()).toEqual(['a', 'bc']);
    tf.dispose([...copies, v, kept, cloned]);
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect((tf.memory() as { numDataBuffers: number }).numDataBuffers).toBe(
      (before as { numDataBuffers: number }).numDataBuffers,
    );
  });

  it('Tanh on wasm agrees with Math.tanh to 3e-7 over a wide range, and its gradient is 1 - tanh^2', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const xs = Float32Array.from({ length: 4001 }, (_, i) => (i - 2000) / 100);
    const x = tf.tensor1d(xs);
    const y = tf.tanh(x);
    let worst = 0;
    for (const [i, v] of Array.from(y.dataSync()).entries()) worst = Math.max(worst, Math.abs(v - Math.tanh(xs[i]!)));
    expect(worst).toBeLessThan(3e-7);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.tanh(v)))(x);
    for (const [i, v] of Array.from(g.dataSync()).entries()) expect(v).toBeCloseTo(1 - Math.tanh(xs[i]!) ** 2, 5);
    tf.dispose([x, y, g]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('binary elementwise ops and Pad on tensors of 7 and 8 axes (beyond XNNPACK) equal a float64 reference, broadcasting included', async () => {
    await useBackend('wasm');
    const before = tf.memory().numTensors;
    const shape = [2, 3, 2, 1, 2, 2, 3, 2];
    const n = shape.reduce((p, q) => p * q, 1);
    const av = Float32Array.from({ length: n }, (_, i) => Math.sin(i) + 0.1);
    const a = tf.tensor(av, shape);
    /** f applied elementwise with b broadcast against shape (b's shape aligned right). */
    const reference = (bv: Float32Array, bShape: number[], f: (x: number, y: number) => number): number[] => {
      const aligned = [...Array<number>(shape.length - bShape.length).fill(1), ...bShape];
      const strides = aligned.map((_, i) => aligned.slice(i + 1).reduce((p, q) => p * q, 1));
      return Array.from(av, (x, o) => {
        let rem = o;
        let offset = 0;
        for (let i = shape.length - 1; i >= 0; i--) {
          const c = rem % shape[i]!;
          rem = Math.floor(rem / shape[i]!);
          if (aligned[i]! > 1) offset += c * strides[i]!;
        }
        return f(x, bv[offset]!);
      });
    };
    const ops: Array<[string, (x: tf.Tensor, y: tf.Tensor) => tf.Tensor, (x: number, y: number) => number]> = [
      ['add', tf.add, (x, y) => x + y],
      ['sub', tf.sub, (x, y) => x - y],
      ['mul', tf.mul, (x, y) => x * y],
      ['div', tf.div, (x, y) => x / y],
      ['squaredDifference', tf.squaredDifference, (x, y) => (x - y) ** 2],
    ];
    for (const bShape of [shape, [], [2], [2, 1, 1, 1, 3, 1], [2, 1, 1, 1, 1, 1, 1, 2]]) {
      const bv = Float32Array.from({ length: bShape.reduce((p, q) => p * q, 1) }, (_, i) => 1.5 + Math.cos(i));
      const b = tf.tensor(bv, bShape);
      for (const [name, op, f] of ops) {
        const y = op(a, b);
        expect(y.shape, name).toEqual(shape);
        const expected = reference(bv, bShape, f);
        for (const [i, v] of Array.from(y.dataSync()).entries())
          expect(v, `${name} with [${bShape}] at ${i}`).toBeCloseTo(expected[i]!, 5);
        y.dispose();
      }
      b.dispose();
    }
    // 7 axes, the other operand in front.
    const seven = tf.reshape(a, [2, 3, 2, 2, 2, 3, 2]);
    const one = tf.scalar(1);
    const s = tf.sub(one, seven);
    for (const [i, v] of Array.from(s.dataSync()).entries()) expect(v).toBeCloseTo(1 - av[i]!, 6);
    // Pad of 8 axes: zeros around the padded axes, the values in place.
    const p = tf.pad(a, [
      [0, 0],
      [1, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 1],
    ]);
    expect(p.shape).toEqual([2, 4, 2, 1, 2, 2, 3, 3]);
    const pv = p.dataSync();
    const pStrides = p.shape.map((_, i) => p.shape.slice(i + 1).reduce((q, r) => q * r, 1));
    for (let o = 0; o < n; o++) {
      let rem = o;
      let offset = 0;
      for (let i = shape.length - 1; i >= 0; i--) {
        const c = rem % shape[i]!;
        rem = Math.floor(rem / shape[i]!);
        offset += (c + (i === 1 ? 1 : 0)) * pStrides[i]!;
      }
      expect(pv[offset]).toBeCloseTo(av[o]!, 6);
    }
    expect(Array.from(pv).reduce((q, r) => q + r, 0)).toBeCloseTo(
      Array.from(av).reduce((q, r) => q + r, 0),
      3,
    );
    tf.dispose([a, seven, one, s, p]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
