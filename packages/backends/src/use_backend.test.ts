import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError } from './errors.js';
import { installedBackends, isBackendInstalled, useBackend } from './use_backend.js';

describe('useBackend', () => {
  it('starts wasm with SIMD, single-threaded in Node unless asked for threads, and reports the versions', async () => {
    const threads = Number(process.env['TENSORIZED_WASM_THREADS'] ?? 1);
    const info = await useBackend('wasm', threads > 1 ? { threads } : {});
    expect(info).toMatchObject({ name: 'wasm', tfName: 'wasm', simd: true, threads, floatPrecision: 32 });
    expect(info.versions['@tensorflow/tfjs-core']).toBe('4.22.0');
    expect(info.versions['@tensorflow/tfjs-backend-wasm']).toBe('4.22.0');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('starts cpu', async () => {
    const info = await useBackend('cpu');
    expect(info).toMatchObject({ name: 'cpu', simd: false, threads: 1 });
    expect(tf.getBackend()).toBe('cpu');
  });

  it('registers the gradients, which tfjs-core alone does not', async () => {
    await useBackend('wasm');
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([1, -2, 3])));
    expect(Array.from(g.dataSync())).toEqual([2, -4, 6]);
    g.dispose();
  });

  it("'auto' picks tfjs-node when installed, else wasm", async () => {
    const info = await useBackend('auto');
    expect(info.name).toBe(isBackendInstalled('node') ? 'node' : 'wasm');
  });

  it.skipIf(isBackendInstalled('node'))("'node' without @tensorflow/tfjs-node is a clear error", async () => {
    const error = await useBackend('node').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect((error as BackendError).code).toBe('BACKEND_NOT_INSTALLED');
    expect((error as Error).message).toMatch(/npm install @tensorflow\/tfjs-node@4\.22\.0/);
    expect((error as Error).message).toMatch(/'wasm', which works everywhere/);
  });

  it('rejects an unknown name, listing the valid ones', async () => {
    const error = await useBackend('webgpu' as never).catch((e: unknown) => e);
    expect((error as BackendError).code).toBe('UNKNOWN_BACKEND');
    expect((error as Error).message).toMatch(/'auto', 'wasm', 'node', 'cpu', 'webgl'/);
  });

  it('lists the installed backends', () => {
    expect(installedBackends()).toEqual(expect.arrayContaining(['wasm', 'cpu']));
    expect(installedBackends()).not.toContain('webgl');
  });

  it("'webgl' in Node.js is a clear error naming where it runs", async () => {
    const error = await useBackend('webgl').catch((e: unknown) => e);
    expect((error as BackendError).code).toBe('BACKEND_NOT_INSTALLED');
    expect((error as Error).message).toMatch(/'webgl' runs only in a browser; in Node\.js use 'wasm', 'node' or 'cpu'/);
  });
});
