import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { addBias, columnSums, matMulBias } from './stages.js';
import { cpMatrix, prepareMatmul } from './index.js';

describeEachBackend('bias helpers', (ctx) => {
  it('columnSums equals the float64 sums over rows, for even, odd and single-row inputs, by product and by halving', async () => {
    // Widths 5 (halving on wasm) and 8, 1536 (one product on wasm and cpu).
    for (const m of [5, 8, 1536]) {
      for (const n of m === 1536 ? [1, 3, 960] : [1, 2, 3, 7, 64, 1025]) {
        const x = tf.randomNormal([n, m], 0, 1, 'float32', n + m) as tf.Tensor2D;
        const values = x.dataSync();
        const want = Array.from({ length: m }, (_, j) => {
          let s = 0;
          for (let i = 0; i < n; i++) s += values[i * m + j]!;
          return s;
        });
        await expectNoLeak(() => {
          const got = columnSums(x);
          expect(got.shape).toEqual([m]);
          expectClose(got, want, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(n) });
          got.dispose();
        });
        x.dispose();
      }
    }
  });

  it('addBias: values and gradients equal tf.add under autodiff', async () => {
    const x = tf.randomNormal([9, 4], 0, 1, 'float32', 4) as tf.Tensor2D;
    const w = tf.randomNormal([4, 3], 0, 1, 'float32', 5) as tf.Tensor2D;
    const b = tf.randomNormal([3], 0, 1, 'float32', 6) as tf.Tensor1D;
    const probe = tf.randomNormal([9, 3], 0, 1, 'float32', 7);
    await expectNoLeak(() => {
      const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(addBias(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D), bb as tf.Tensor1D)), probe)),
      );
      const plain = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(tf.add(tf.matMul(xx, ww), bb)), probe)),
      );
      const g1 = ours([x, w, b]);
      const g2 = plain([x, w, b]);
      g1.forEach((g, i) => {
        expect(g.shape).toEqual(g2[i]!.shape);
        expectClose(g, g2[i]!.dataSync(), { rtol: 1e-4, atol: 1e-4 });
      });
      tf.dispose([...g1, ...g2]);
    });
    tf.dispose([x, w, b, probe]);
  });
  it('matMulBias with leakyAlpha (a dense layer: LeakyReLU in the product) equals the product, the bias add and x step(x, alpha) one by one, values and the three gradients; without, the same for the linear layer', async () => {
    // The input layer's shape of the bench model (88 keys in) and a few more columns than a tile.
    const [N, K, M] = [37, 88, 20];
    const a = tf.tensor2d(
      Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.37) * 1.5),
      [N, K],
    );
    const w = tf.tensor2d(
      Float32Array.from({ length: K * M }, (_, i) => Math.cos(i * 0.11) * 0.2),
      [K, M],
    );
    const b = tf.tensor1d(Float32Array.from({ length: M }, (_, i) => (i % 3) - 1));
    const dy = tf.tensor2d(
      Float32Array.from({ length: N * M }, (_, i) => Math.sin(i * 1.3)),
      [N, M],
    );
    // Values: on wasm (the bias and the activation after the whole sum, alpha x in float32) to the
    // bit; on cpu LeakyReLU rounds alpha x from float64, one unit in the last place away at most.
    const ulp = ctx.info.name === 'cpu' ? 2 ** -23 : 0;
    const expectNear = (got: tf.Tensor, want: tf.Tensor, what: string) => {
      const [g, v] = [got.dataSync(), want.dataSync()];
      expect(got.shape, what).toEqual(want.shape);
      for (let i = 0; i < v.length; i++)
        if (!Object.is(g[i], v[i]))
          expect(Math.abs(g[i]! - v[i]!), `${what} [${i}]`).toBeLessThanOrEqual(Math.abs(v[i]!) * ulp);
    };
    for (const alpha of [0.1, undefined]) {
      await expectNoLeak(() => {
        tf.tidy(() => {
          const reference = (x: tf.Tensor2D, v: tf.Tensor2D, c: tf.Tensor1D) => {
            const z = addBias(tf.matMul(x, v), c);
            return alpha === undefined ? z : (tf.mul(z, tf.step(z, alpha)) as tf.Tensor2D);
          };
          const layer = (x: tf.Tensor2D, v: tf.Tensor2D, c: tf.Tensor1D) => matMulBias(x, v, c, alpha);
          // Outside a tape (one launch) and inside one.
          expectNear(layer(a, w, b), reference(a, w, b), `values, alpha ${alpha}`);
          const loss = (f: typeof layer) => (x: tf.Tensor, v: tf.Tensor, c: tf.Tensor) =>
            tf.sum(tf.mul(f(x as tf.Tensor2D, v as tf.Tensor2D, c as tf.Tensor1D), dy));
          const got = tf.valueAndGrads(loss(layer))([a, w, b]);
          const want = tf.valueAndGrads(loss(reference))([a, w, b]);
          for (const [i, g] of got.grads.entries()) expectNear(g, want.grads[i]!, `gradient ${i}, alpha ${alpha}`);
          // The pre-activations take both signs (both slopes are exercised).
          const z = tf.add(tf.matMul(a, w), b);
          expect(tf.min(z).dataSync()[0]).toBeLessThan(0);
          expect(tf.max(z).dataSync()[0]).toBeGreaterThan(0);
        });
      });
    }
    expect(() => matMulBias(a, w, b, 0)).toThrow(
      /matMulBias: leakyAlpha \(LeakyReLU's slope below zero\) must be a positive number, got 0/,
    );
    tf.dispose([a, w, b, dy]);
  });
  it("matMulBias with aGradient false: b's and the bias's gradients equal the full layer's, a is not differentiated (no product dz b^T), with and without leakyAlpha", async () => {
    const [N, K, M] = [23, 88, 12];
    const a = tf.tensor2d(
      Float32Array.from({ length: N * K }, (_, i) => Math.sin(i * 0.41)),
      [N, K],
    );
    const w = tf.tensor2d(
      Float32Array.from({ length: K * M }, (_, i) => Math.cos(i * 0.13) * 0.3),
      [K, M],
    );
    const b = tf.tensor1d(Float32Array.from({ length: M }, (_, i) => (i % 4) * 0.5 - 0.7));
    const dy = tf.tensor2d(
      Float32Array.from({ length: N * M }, (_, i) => Math.cos(i * 0.7)),
      [N, M],
    );
    for (const leakyAlpha of [0.1, undefined]) {
      await expectNoLeak(async () => {
        const loss = (aGradient: boolean) => (v: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(matMulBias(a, v as tf.Tensor2D, c as tf.Tensor1D, { leakyAlpha, aGradient }), dy));
        const run = async (aGradient: boolean) => {
          let grads: tf.Tensor[] = [];
          const info = await tf.profile(() => {
            grads = tf.grads(loss(aGradient))([w, b]);
          });
          const shapes = info.kernels
            .filter((k) => ['BatchMatMul', '_FusedMatMul'].includes(k.name))
            .map((k) => k.inputShapes);
          return { grads, shapes };
        };
        const want = await run(true);
        const got = await run(false);
        got.grads.forEach((g, i) => {
          expect(g.shape).toEqual(want.grads[i]!.shape);
          expect(Array.from(g.dataSync()), `gradient ${i}, alpha ${leakyAlpha}`).toEqual(
            Array.from(want.grads[i]!.dataSync()),
          );
        });
        // The full layer forms dz b^T (N x M by K x M transposed) for a; without a's gradient, not.
        expect(want.shapes).toContainEqual([
          [N, M],
          [K, M],
        ]);
        expect(got.shapes).not.toContainEqual([
          [N, M],
          [K, M],
        ]);
        expect(got.shapes.length).toBe(want.shapes.length - 1);
        tf.dispose([...got.grads, ...want.grads]);
      });
    }
    // a is not an input of the recorded gradient: asking for its gradient is an error, not zeros.
    expect(() =>
      tf.tidy(() => tf.grads((x: tf.Tensor) => tf.sum(matMulBias(x as tf.Tensor2D, w, b, { aGradient: false })))([a])),
    ).toThrow(/Cannot compute gradient/);
    expect(() => matMulBias(a, w, b, { aGradient: 'no' as never })).toThrow(
      /matMulBias: aGradient must be a boolean, got no/,
    );
    expect(() => matMulBias(a, w, b, { leakyAlpha: -1 })).toThrow(/leakyAlpha .* must be a positive number, got -1/);
    tf.dispose([a, w, b, dy]);
  });
  it('matMulBias: the float64 product plus the bias, gradients equal to tf.add of tf.matMul under autodiff, the bias in the product (no Add)', async () => {
    const x = tf.randomNormal([9, 4], 0, 1, 'float32', 14) as tf.Tensor2D;
    const w = tf.randomNormal([4, 12], 0, 1, 'float32', 15) as tf.Tensor2D;
    const b = tf.randomNormal([12], 0, 1, 'float32', 16) as tf.Tensor1D;
    const probe = tf.randomNormal([9, 12], 0, 1, 'float32', 17);
    const [xv, wv, bv] = [x.dataSync(), w.dataSync(), b.dataSync()];
    const want = Array.from({ length: 9 * 12 }, (_, k) => {
      const [i, j] = [Math.floor(k / 12), k % 12];
      let s = bv[j]!;
      for (let q = 0; q < 4; q++) s += xv[i * 4 + q]! * wv[q * 12 + j]!;
      return s;
    });
    await expectNoLeak(async () => {
      const info = await tf.profile(() => {
        const y = matMulBias(x, w, b);
        expectClose(y, want, { rtol: 1e-5, atol: 1e-5 });
        y.dispose();
      });
      expect(info.kernels.map((k) => k.name)).not.toContain('Add');
      const ours = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(matMulBias(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D)), probe)),
      );
      const plain = tf.grads((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
        tf.sum(tf.mul(tf.tanh(tf.add(tf.matMul(xx, ww), bb)), probe)),
      );
      const g1 = ours([x, w, b]);
      const g2 = plain([x, w, b]);
      g1.forEach((g, i) => {
        expect(g.shape).toEqual(g2[i]!.shape);
        expectClose(g, g2[i]!.dataSync(), { rtol: 1e-4, atol: 1e-4 });
      });
      tf.dispose([...g1, ...g2]);
    });
    // A prepared CP product with a bias: the bias goes into the second factor's product.
    const cp = cpMatrix(
      [tf.randomNormal([2, 3], 0, 1, 'float32', 18), tf.randomNormal([2, 3], 0, 1, 'float32', 19)],
      [tf.randomNormal([3, 3], 0, 1, 'float32', 20), tf.randomNormal([4, 3], 0, 1, 'float32', 21)],
    );
    const prepared = prepareMatmul(cp, 'factorised');
    const xin = tf.randomNormal([5, 4], 0, 1, 'float32', 22) as tf.Tensor2D;
    await expectNoLeak(async () => {
      const info = await tf.profile(() => {
        const y = tf.grad((bb: tf.Tensor) => tf.sum(prepared.apply(xin, bb as tf.Tensor1D)))(b);
        expectClose(y, Array(12).fill(5), { rtol: 1e-5, atol: 1e-5 });
        y.dispose();
      });
      expect(info.kernels.map((k) => k.name)).toContain('_FusedMatMul');
    });
    prepared.dispose();
    tf.dispose([x, w, b, probe, xin, ...cp.inFactors, ...cp.outFactors]);
  });
});
