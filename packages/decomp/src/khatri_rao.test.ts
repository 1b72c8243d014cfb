import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { khatriRaoAll } from './contract/cp.js';
import { f64Ops, KHATRI_RAO_KERNELS, tfOps } from './ops.js';

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 16807) % 2147483647;
    return (2 * s) / 2147483647 - 1;
  });
}

/** Runs fn with the Khatri-Rao kernels of the active backend unregistered (then registers them again). */
function withoutKernels<T>(fn: () => T): T {
  const backend = tf.getBackend();
  const saved = Object.values(KHATRI_RAO_KERNELS).map((name) => tf.getKernel(name, backend)!);
  for (const k of saved) tf.unregisterKernel(k.kernelName, backend);
  try {
    return fn();
  } finally {
    for (const k of saved) tf.registerKernel(k);
  }
}

describeEachBackend('tfOps.khatriRao', (ctx) => {
  // Three factors (a chain of two products, as CP's and BT's preparations run it), R = 5 and 8.
  for (const R of [5, 8]) {
    it(`one kernel each way where the backend has them, the value and the factors' gradients of the float64 reference (R = ${R})`, async () => {
      const shapes = [3, 4, 2].map((p) => [p, R] as [number, number]);
      const data = shapes.map(([p], i) => values(p * R, 10 + i));
      const probeData = values(24 * R, 20);
      const before = tf.memory().numTensors;
      const factors = shapes.map((shape, i) => tf.tensor2d(data[i]!, shape));
      const probe = tf.tensor2d(probeData, [24, R]);
      const loss = (...fs: tf.Tensor[]) => tf.sum(tf.mul(khatriRaoAll(tfOps, fs), probe));
      // Reference: the float64 product, and d/dA_k of sum(KR . probe) = sum over the other rows of
      // probe times the other factors.
      const f64 = shapes.map(([p], i) => ({ shape: [p, R], data: Float64Array.from(data[i]!) }));
      const kr = khatriRaoAll(f64Ops, f64);
      const grads = shapes.map(([p]) => new Float64Array(p * R));
      for (let i = 0; i < 3; i++)
        for (let j = 0; j < 4; j++)
          for (let k = 0; k < 2; k++)
            for (let c = 0; c < R; c++) {
              const g = probeData[((i * 4 + j) * 2 + k) * R + c]!;
              const [a, b, d] = [f64[0]!.data[i * R + c]!, f64[1]!.data[j * R + c]!, f64[2]!.data[k * R + c]!];
              grads[0]![i * R + c]! += g * b * d;
              grads[1]![j * R + c]! += g * a * d;
              grads[2]![k * R + c]! += g * a * b;
            }
      const check = () =>
        tf.tidy(() => {
          const value = khatriRaoAll(tfOps, factors);
          expect(value.shape).toEqual([24, R]);
          const v = value.dataSync();
          for (let i = 0; i < v.length; i++) expect(Math.abs(v[i]! - kr.data[i]!)).toBeLessThan(ctx.tol);
          const gs = tf.grads(loss)(factors);
          for (const [n, g] of gs.entries()) {
            const gv = g.dataSync();
            for (let i = 0; i < gv.length; i++)
              expect(Math.abs(gv[i]! - grads[n]![i]!)).toBeLessThan(ctx.tol * (1 + Math.abs(grads[n]![i]!)));
          }
        });
      check();
      withoutKernels(check);
      // The launches: with the kernels, one per product outside a tape and one per product for the
      // gradient; without, a broadcast multiply and its reshapes.
      const names = async (fn: () => tf.TensorContainer) => {
        const info = await tf.profile(() => {
          tf.tidy(() => {
            fn();
          });
        });
        return info.kernels.map((k) => k.name).filter((n) => n.startsWith('Tensorized') || n === 'Multiply');
      };
      expect(await names(() => khatriRaoAll(tfOps, factors))).toEqual([
        KHATRI_RAO_KERNELS.forward,
        KHATRI_RAO_KERNELS.forward,
      ]);
      expect((await names(() => tf.grads(loss)(factors))).filter((n) => n.startsWith('Tensorized'))).toEqual([
        KHATRI_RAO_KERNELS.forward,
        KHATRI_RAO_KERNELS.forward,
        KHATRI_RAO_KERNELS.gradient,
        KHATRI_RAO_KERNELS.gradient,
      ]);
      expect(await withoutKernels(() => names(() => khatriRaoAll(tfOps, factors)))).toEqual(['Multiply', 'Multiply']);
      tf.dispose([...factors, probe]);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
});
