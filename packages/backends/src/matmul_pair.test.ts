import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FUSED_KERNELS, useBackend } from './index.js';

/**
 * The reference in float64: (first X) viewed as (rows x K2), times second, X = x as (K1 x n) and
 * first (P x K1); with xLeft, X first instead, X = x as (n x K1) and first (K1 x P).
 */
function pairRef(
  first: Float64Array,
  fs: number[],
  x: Float64Array,
  second: Float64Array,
  ss: number[],
  xLeft = false,
) {
  const [P, K1] = (xLeft ? [fs[1], fs[0]] : fs) as [number, number];
  const [K2, N2] = ss as [number, number];
  const n = x.length / K1;
  // t in the product's own order: (P x n), or (n x P) with xLeft.
  const t = new Float64Array(P * n);
  for (let i = 0; i < P; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < K1; k++) s += xLeft ? x[j * K1 + k]! * first[k * P + i]! : first[i * K1 + k]! * x[k * n + j]!;
      t[xLeft ? j * P + i : i * n + j] = s;
    }
  const rows = (P * n) / K2;
  const y = new Float64Array(rows * N2);
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < N2; j++) {
      let s = 0;
      for (let k = 0; k < K2; k++) s += t[i * K2 + k]! * second[k * N2 + j]!;
      y[i * N2 + j] = s;
    }
  return y;
}

const values = (n: number, seed: number): Float64Array => {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647 - 0.5;
  });
};

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`${FUSED_KERNELS.matMulPair} [${backend}]`, () => {
    // [P, K1], x's shape, [K2, N2]: the paper's 512 -> 1536 TT core pair at ranks 5, and odd sizes.
    const CASES: Array<[number[], number[], number[]]> = [
      [
        [160, 32],
        [1, 512],
        [80, 48],
      ],
      [
        [24, 6],
        [1, 12],
        [8, 10],
      ],
      [
        [12, 3],
        [3, 5],
        [20, 4],
      ],
    ];
    /**
     * The kernel on one case against the two matMuls on views (bit for bit, with a bias too: the
     * sums of tf.add after them) and the float64 reference, leaving no tensor behind.
     */
    const expectPair = (fs: number[], xs: number[], ss: number[], xLeft: boolean) => {
      const f64 = values(fs[0]! * fs[1]!, 3);
      const x64 = values(xs[0]! * xs[1]!, 5);
      const s64 = values(ss[0]! * ss[1]!, 7);
      const [first, x, second] = [
        tf.tensor(Float32Array.from(f64), fs),
        tf.tensor(Float32Array.from(x64), xs),
        tf.tensor(Float32Array.from(s64), ss),
      ];
      const [P, K1] = xLeft ? [fs[1]!, fs[0]!] : [fs[0]!, fs[1]!];
      const n = (xs[0]! * xs[1]!) / K1;
      const rows = (P * n) / ss[0]!;
      const outShape = [1, rows * ss[1]!];
      const before = tf.memory().numTensors;
      const run = (inputs: tf.NamedTensorMap) =>
        tf
          .engine()
          .runKernel(FUSED_KERNELS.matMulPair, inputs, { outShape, ...(xLeft ? { xLeft } : {}) } as never) as tf.Tensor;
      const y = run({ first, x, second });
      expect(tf.memory().numTensors).toBe(before + 1);
      expect(y.shape).toEqual(outShape);
      const ops = tf.tidy(() => {
        const t = xLeft ? tf.matMul(tf.reshape(x, [n, K1]), first) : tf.matMul(first, tf.reshape(x, [K1, n]));
        return tf.reshape(tf.matMul(tf.reshape(t, [rows, ss[0]!]), second), outShape);
      });
      expect(Array.from(y.dataSync())).toEqual(Array.from(ops.dataSync()));
      const got = y.dataSync();
      pairRef(f64, fs, x64, s64, ss, xLeft).forEach((v, i) => {
        expect(Math.abs(got[i]! - v)).toBeLessThan(1e-5 * (1 + Math.abs(v)));
      });
      const bias = tf.tensor(Float32Array.from(values(rows * ss[1]!, 11)), [rows * ss[1]!]);
      const yb = run({ first, x, second, bias });
      const added = tf.add(ops, bias);
      expect(Array.from(yb.dataSync())).toEqual(Array.from(added.dataSync()));
      tf.dispose([first, x, second, y, ops, bias, yb, added]);
      expect(tf.memory().numTensors).toBe(before - 3);
    };

    it('equals two matMuls on views (bit for bit) and the float64 reference; no tensor leaks', async () => {
      await useBackend(backend);
      for (const [fs, xs, ss] of CASES) expectPair(fs, xs, ss, false);
    });

    it("with xLeft, X first then second (two plain factors: CP at the paper's size, odd sizes, several rows of x): the same", async () => {
      await useBackend(backend);
      // [K1, P] (first), x's shape, [K2, N2] (second).
      const LEFT: Array<[number[], number[], number[]]> = [
        [
          [512, 80],
          [1, 512],
          [80, 1536],
        ],
        [
          [6, 10],
          [1, 6],
          [10, 7],
        ],
        [
          [5, 4],
          [3, 5],
          [6, 3],
        ],
      ];
      for (const [fs, xs, ss] of LEFT) expectPair(fs, xs, ss, true);
      const [first, second, x] = [tf.ones([6, 10]), tf.ones([10, 7]), tf.ones([1, 6])];
      const run = (xLeft: unknown) =>
        tf.engine().runKernel(FUSED_KERNELS.matMulPair, { first, x, second }, { outShape: [1, 7], xLeft } as never);
      expect(() => run('yes')).toThrow(/attribute 'xLeft' must be a boolean, got yes/);
      const bad = tf.ones([1, 7]);
      expect(() =>
        tf
          .engine()
          .runKernel(FUSED_KERNELS.matMulPair, { first, x: bad, second }, { outShape: [1, 7], xLeft: true } as never),
      ).toThrow(/x must hold a positive multiple of 6 values \(first's rows\)/);
      tf.dispose([first, second, x, bad]);
    });

    it('with secondLeft and keep, [P X, Q (P X)]: a flipped step through two factors (a CP-GRU forward and backward, odd sizes), bit for bit two matMuls', async () => {
      await useBackend(backend);
      // P, X, Q shapes.
      const CHAINS: Array<[number[], number[], number[]]> = [
        [
          [80, 512],
          [512, 16],
          [1536, 80],
        ],
        [
          [80, 1536],
          [1536, 16],
          [512, 80],
        ],
        [
          [5, 7],
          [7, 3],
          [9, 5],
        ],
        // Q's columns not P's rows: P X seen as (Q's columns x ...).
        [
          [6, 4],
          [4, 5],
          [7, 10],
        ],
      ];
      for (const [ps, xs, qs] of CHAINS) {
        const [p, x, q] = [ps, xs, qs].map((shape, i) =>
          tf.tensor(Float32Array.from(values(shape[0]! * shape[1]!, 13 + i)), shape),
        );
        const cols = (ps[0]! * xs[1]!) / qs[1]!;
        const before = tf.memory().numTensors;
        const [mid, y] = tf.engine().runKernel(FUSED_KERNELS.matMulPair, { first: p!, x: x!, second: q! }, {
          outShape: [qs[0]!, cols],
          secondLeft: true,
          keep: true,
        } as never) as unknown as tf.Tensor[];
        expect(tf.memory().numTensors).toBe(before + 2);
        const [wantMid, wantY] = tf.tidy(() => {
          const m = tf.matMul(p!, x!);
          return [m, tf.matMul(q!, tf.reshape(m, [qs[1]!, cols]))];
        });
        expect([mid!.shape, y!.shape]).toEqual([wantMid!.shape, [qs[0]!, cols]]);
        expect(mid!.dataSync()).toEqual(wantMid!.dataSync());
        expect(y!.dataSync()).toEqual(wantY!.dataSync());
        tf.dispose([p!, x!, q!, mid!, y!, wantMid!, wantY!]);
      }
      const [first, second, x, bias] = [tf.ones([6, 10]), tf.ones([7, 6]), tf.ones([10, 1]), tf.ones([7])];
      const run = (attrs: object, b?: tf.Tensor) =>
        tf.engine().runKernel(FUSED_KERNELS.matMulPair, { first, x, second, ...(b ? { bias: b } : {}) }, {
          outShape: [7, 1],
          ...attrs,
        } as never);
      expect(() => run({ secondLeft: true, xLeft: true })).toThrow(
        /attribute 'secondLeft' goes with neither 'xLeft' nor a bias/,
      );
      expect(() => run({ secondLeft: true }, bias)).toThrow(
        /attribute 'secondLeft' goes with neither 'xLeft' nor a bias/,
      );
      expect(() => run({ secondLeft: true, keep: 1 })).toThrow(/attribute 'keep' must be a boolean, got 1/);
      tf.dispose([first, second, x, bias]);
    });

    it('bad inputs are named', async () => {
      await useBackend(backend);
      const first = tf.ones([24, 6]);
      const second = tf.ones([8, 10]);
      const before = tf.memory().numTensors;
      const run = (x: tf.Tensor, outShape: unknown, s = second): unknown =>
        tf.engine().runKernel(FUSED_KERNELS.matMulPair, { first, x, second: s }, { outShape } as never);
      const x = tf.ones([1, 12]);
      const bad = tf.ones([1, 13]);
      const vec = tf.ones([80]);
      const int = tf.ones([1, 12], 'int32');
      expect(() => run(bad, [1, 60])).toThrow(/x must hold a positive multiple of 6 values.*\[1, 13\]/);
      expect(() => run(x, [1, 61])).toThrow(/outShape must hold 60 values, got \[1,61\]/);
      expect(() => run(x, [1, 60], vec)).toThrow(/'first' and 'second' must be matrices.*\[80\]/);
      expect(() => run(int, [1, 60])).toThrow(/input 'x' must be float32, got int32/);
      const shortBias = tf.ones([59]);
      expect(() =>
        tf
          .engine()
          .runKernel(FUSED_KERNELS.matMulPair, { first, x, second, bias: shortBias }, { outShape: [1, 60] } as never),
      ).toThrow(/bias must hold 60 values \(the output's\), got shape \[59\]/);
      shortBias.dispose();
      tf.dispose([x, bad, vec, int]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([first, second]);
    });
  });
}
