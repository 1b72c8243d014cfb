import type * as tf from '@tensorflow/tfjs-core';

function runOnce(fn: () => tf.Tensor): void {
  const out = fn();
  out.dataSync();
  out.dispose();
}

/**
 * Median milliseconds per call of each function (whose result is read back and disposed). The
 * functions are measured in alternating rounds, so that drifts of the machine hit them alike: a
 * warm-up, then `rounds` rounds, each running every function for about minMs / rounds.
 */
export function msPerCallEach<K extends string>(
  fns: Record<K, () => tf.Tensor>,
  { minMs = 200, rounds = 5 } = {},
): Record<K, number> {
  const keys = Object.keys(fns) as K[];
  const reps = {} as Record<K, number>;
  const samples = {} as Record<K, number[]>;
  for (const k of keys) {
    runOnce(fns[k]);
    const t0 = performance.now();
    runOnce(fns[k]);
    reps[k] = Math.max(1, Math.round(minMs / rounds / Math.max(performance.now() - t0, 1e-3)));
    samples[k] = [];
  }
  for (let r = 0; r < rounds; r++) {
    for (const k of keys) {
      const start = performance.now();
      for (let i = 0; i < reps[k]; i++) runOnce(fns[k]);
      samples[k].push((performance.now() - start) / reps[k]);
    }
  }
  const out = {} as Record<K, number>;
  for (const k of keys) {
    const s = samples[k].sort((a, b) => a - b);
    out[k] = s[Math.floor(s.length / 2)]!;
  }
  return out;
}

/** Median milliseconds per call of one function. */
export function msPerCall(fn: () => tf.Tensor, options: { minMs?: number; rounds?: number } = {}): number {
  return msPerCallEach({ fn }, options).fn;
}
