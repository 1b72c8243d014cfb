import * as tf from '@tensorflow/tfjs-core';
import { type BackendInfo, type BackendName, installedBackends, useBackend } from '@tensorized/backends';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Backends a test run covers: every installed one, or those named in TENSORIZED_TEST_BACKENDS. */
export function testBackends(): BackendName[] {
  const only = process.env['TENSORIZED_TEST_BACKENDS'];
  const installed = installedBackends();
  if (!only) return installed;
  return only
    .split(',')
    .map((s) => s.trim() as BackendName)
    .filter((b) => installed.includes(b));
}

/**
 * The wasm backend's options for a test run: TENSORIZED_WASM_THREADS=n runs every wasm test on n
 * threads (`pnpm test:threads`); unset, one thread.
 */
export function wasmTestOptions(): { threads?: number } {
  const threads = process.env['TENSORIZED_WASM_THREADS'];
  return threads ? { threads: Number(threads) } : {};
}

export interface BackendContext {
  /** Filled in before the specs of the backend run. */
  info: BackendInfo;
  /** Absolute/relative tolerance for float results of this backend's precision. */
  tol: number;
}

/**
 * Runs the same specs once per available backend (wasm and cpu here; tfjs-node when installed). The
 * backends that are not installed get a skipped block that says so.
 */
export function describeEachBackend(title: string, specs: (ctx: BackendContext) => void): void {
  const available = testBackends();
  for (const name of ['wasm', 'node', 'cpu'] as const) {
    if (!available.includes(name)) {
      describe(`${title} [${name}]`, () => {
        it.skip(`skipped: the ${name} backend is not installed (or not selected by TENSORIZED_TEST_BACKENDS)`, () => {});
      });
      continue;
    }
    describe(`${title} [${name}]`, () => {
      const ctx = { tol: 1e-4 } as BackendContext;
      beforeAll(async () => {
        ctx.info = await useBackend(name, name === 'wasm' ? wasmTestOptions() : {});
        ctx.tol = tolerance(ctx.info.floatPrecision);
      });
      specs(ctx);
    });
  }
}

/** A tolerance for results computed in float32 (or float16 on backends that use it). */
export function tolerance(floatPrecision: number = tf.backend().floatPrecision()): number {
  return floatPrecision === 32 ? 1e-4 : 1e-2;
}

/** Asserts |actual - expected| <= atol + rtol |expected| elementwise, naming the worst element. */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number>,
  expected: tf.Tensor | ArrayLike<number>,
  { rtol = tolerance(), atol = rtol }: { rtol?: number; atol?: number } = {},
): void {
  const a = actual instanceof tf.Tensor ? actual.dataSync() : actual;
  const e = expected instanceof tf.Tensor ? expected.dataSync() : expected;
  if (actual instanceof tf.Tensor && expected instanceof tf.Tensor) {
    expect(actual.shape).toEqual(expected.shape);
  }
  expect(a.length).toBe(e.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < e.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`element ${worst}: got ${a[worst]}, expected ${e[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/**
 * Runs `fn` and fails if it left more tensors behind than it returned. Returns what fn returned;
 * the caller disposes it.
 */
export async function expectNoLeak<T>(fn: () => T | Promise<T>, returned = 0): Promise<T> {
  const before = tf.memory().numTensors;
  const result = await fn();
  const grown = tf.memory().numTensors - before - returned;
  if (grown !== 0) expect.fail(`leaked ${grown} tensor(s) (numTensors ${before} -> ${before + grown + returned})`);
  return result;
}

/** Checks after every spec of the enclosing block that numTensors is back where it started. */
export function checkLeaksAfterAll(): void {
  let before = 0;
  beforeAll(() => {
    before = tf.memory().numTensors;
  });
  afterAll(() => {
    expect(tf.memory().numTensors, 'tensors left behind by this block').toBe(before);
  });
}

/**
 * Central finite differences of a scalar function of one tensor's values, in float64 on the host:
 * f is evaluated on float32 tensors, so use step ~1e-2 and compare with tolerance ~1e-2.
 */
export function finiteDifferences(f: (x: tf.Tensor) => tf.Scalar, x: tf.Tensor, step = 1e-2): Float64Array {
  const base = Float64Array.from(x.dataSync());
  const grad = new Float64Array(base.length);
  const evalAt = (values: Float64Array): number =>
    tf.tidy(() => f(tf.tensor(Float32Array.from(values), x.shape)).dataSync()[0]!);
  for (let i = 0; i < base.length; i++) {
    const v = base[i]!;
    base[i] = v + step;
    const up = evalAt(base);
    base[i] = v - step;
    const down = evalAt(base);
    base[i] = v;
    grad[i] = (up - down) / (2 * step);
  }
  return grad;
}

export { useBackend } from '@tensorized/backends';
