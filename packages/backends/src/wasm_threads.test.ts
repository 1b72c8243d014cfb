import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { FUSED_KERNELS } from './fused_kernels.js';
import { useBackend } from './use_backend.js';
import { nativeKernels } from './wasm_native.js';

/**
 * Runs `run` on wasm with 2 threads (after `check`), then on cpu, and expects every output to agree
 * within `tol` relative to 1 + |cpu's value|, with no tensor left behind; ends on wasm.
 */
async function againstCpu(run: () => tf.Tensor[], tol: number, check?: () => void): Promise<void> {
  await useBackend('wasm', { threads: 2 });
  check?.();
  const before = tf.memory().numTensors;
  const threaded = run();
  const values = threaded.map((t) => t.dataSync().slice());
  tf.dispose(threaded);
  expect(tf.memory().numTensors).toBe(before);
  await useBackend('cpu');
  const reference = run();
  expect(reference).toHaveLength(values.length);
  for (const [i, r] of reference.entries()) {
    const ref = r.dataSync();
    const v = values[i]!;
    expect(v.length).toBe(ref.length);
    let worst = 0;
    for (let j = 0; j < ref.length; j++) worst = Math.max(worst, Math.abs(v[j]! - ref[j]!) / (1 + Math.abs(ref[j]!)));
    expect(worst).toBeLessThan(tol);
  }
  tf.dispose(reference);
  await useBackend('wasm');
}

// Vitest runs each test file in its own process: here the wasm backend starts threaded.
describe('wasm with threads in Node', () => {
  it('starts the threaded SIMD build with 2 threads', async () => {
    const info = await useBackend('wasm', { threads: 2 });
    expect(info).toMatchObject({ name: 'wasm', simd: true, threads: 2 });
    // Later calls without the option keep the count; another count is refused.
    expect((await useBackend('wasm')).threads).toBe(2);
    const error = await useBackend('wasm', { threads: 1 }).catch((e: unknown) => e);
    expect((error as BackendError).code).toBe('INVALID_OPTION');
    expect((error as Error).message).toMatch(/already runs with 2 thread\(s\).*can be chosen only at its first start/);
  });

  it('computes what the cpu backend computes: products split over the threads, small products, elementwise ops, the kernel fixes', async () => {
    const run = () =>
      tf.tidy(() => {
        const a = tf.randomNormal([256, 512], 0, 1, 'float32', 1);
        const b = tf.randomNormal([512, 1536], 0, 1, 'float32', 2);
        const g = tf.randomNormal([256, 1536], 0, 1, 'float32', 3);
        const y = tf.matMul(a, b);
        return [
          y,
          tf.matMul(a, g, true, false), // a weight gradient (the transposed-operand kernel)
          tf.tanh(tf.mul(y, 0.01)),
          tf.sigmoid(tf.slice(y, [3, 5], [100, 700])),
          tf.transpose(tf.reshape(g, [16, 16, 1536]), [2, 0, 1]),
          // Small products (the WebAssembly matmul of wasm_kernels.ts, on the shared memory).
          tf.matMul(tf.slice(a, [0, 0], [16, 512]), tf.randomNormal([512, 80], 0, 1, 'float32', 4)),
          tf.matMul(tf.slice(a, [5, 0], [1, 88]), tf.randomNormal([88, 256], 0, 1, 'float32', 5)),
        ];
      });
    await againstCpu(run, 1e-4);
  });

  it('runs the fused kernels as WebAssembly on the shared memory, computing what cpu computes', async () => {
    const [T, B, H] = [3, 2, 8];
    const run = () =>
      tf.tidy(() => {
        const u = (shape: number[], seed: number) => tf.randomUniform(shape, 0.05, 0.95, 'float32', seed);
        const a = u([T, B, 3 * H], 1);
        const step = tf
          .engine()
          .runKernel(FUSED_KERNELS.gruStep, { a, uh: u([B, 3 * H], 2), bU: u([3 * H], 3), h: u([B, H], 4) }, {
            t: 1,
            gate: 'sigmoid',
            record: true,
          } as never) as tf.Tensor[];
        const saved = Object.fromEntries(['dy', 'h', 'r', 'z', 'n', 'un'].map((k, i) => [k, u([T, B, H], 5 + i)]));
        const grad = tf
          .engine()
          .runKernel(FUSED_KERNELS.gruStepGrad, { ...saved, carry: u([B, H], 11), gi: u([B, H], 12) }, {
            t: 1,
            gate: 'sigmoid',
          } as never) as tf.Tensor[];
        const [w, m, v, g] = [13, 14, 15, 16].map((seed) => u([37], seed));
        const adam = tf.engine().runKernel(FUSED_KERNELS.adam, { w: w!, m: m!, v: v!, g: g! }, {
          lr: 0.01,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          step: 2,
          scale: 1,
        } as never) as tf.Tensor[];
        return [...step, ...grad, ...adam];
      });
    await againstCpu(run, 1e-6, () => {
      const memory = (tf.backend() as unknown as { wasm: { wasmMemory: { buffer: unknown } } }).wasm.wasmMemory;
      expect(memory.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(nativeKernels(tf.backend() as never)).toBeDefined();
    });
  });

  it('refuses bad thread counts and threads for other backends, naming the value', async () => {
    for (const threads of [0, 1.5, -2, Number.NaN]) {
      const error = await useBackend('wasm', { threads }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendError);
      expect((error as BackendError).code).toBe('INVALID_OPTION');
      expect((error as Error).message).toMatch(`threads must be a positive integer, got ${threads}`);
    }
    const error = await useBackend('cpu', { threads: 2 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/threads is an option of 'wasm' only, got it for 'cpu'/);
  });

  it('leaves no worker running: a process that started 2 threads and computed exits by itself', () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const script = join(here, '..', 'test-fixtures', 'threaded-exit.mjs');
    const out = execFileSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
    expect(out.trim().split('\n').pop()).toBe('threads 2, sum 1536');
  });
});
