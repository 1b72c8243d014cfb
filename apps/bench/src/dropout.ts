import * as tf from '@tensorflow/tfjs-core';
import { type DropoutAttrs, FUSED_KERNELS, hash32 } from '@tensorized/backends';

/**
 * The multipliers of inverted dropout for `count` values: 1 / (1 - rate) with probability 1 - rate,
 * else 0. Value i is kept when the top 24 bits of hash32(i * 0x9e3779b9 + hash32(seed)) fall below
 * (1 - rate) 2^24: counter-based, so the mask depends only on (seed, i). tf.dropout draws TF.js's
 * seeded uniforms (alea, in JavaScript) and then launches four kernels: for the 1024 x 512 outputs of
 * a JSB batch on wasm it took 3.57 ms against 1.25 for dropout() (`node
 * apps/bench/scripts/dropout-speed.mjs`, recorded 2026-12-05T2149, alternating, fastest of 20).
 */
export function dropoutMultipliers(count: number, rate: number, seed: number): Float32Array {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`dropoutMultipliers: count must be a non-negative integer, got ${count}`);
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropoutMultipliers: rate must be in [0, 1), got ${rate}`);
  if (!Number.isInteger(seed)) throw new RangeError(`dropoutMultipliers: seed must be an integer, got ${seed}`);
  const keep = 1 - rate;
  const scale = 1 / keep;
  const threshold = Math.round(keep * 2 ** 24);
  const key = hash32(seed >>> 0);
  const out = new Float32Array(count);
  // Written as bit patterns: 1 / keep's or 0's, by a mask of the comparison's sign bit (no branch, no
  // float conversion in the loop).
  const bits = new Uint32Array(out.buffer);
  const scaleBits = new Uint32Array(Float32Array.of(scale).buffer)[0]!;
  for (let i = 0; i < count; i++) {
    // Kept when (h >>> 8) - threshold is negative.
    const h = hash32((Math.imul(i, 0x9e3779b9) + key) | 0);
    bits[i] = scaleBits & (((h >>> 8) - threshold) >> 31);
  }
  return out;
}

/**
 * Inverted dropout of x (training only): x times dropoutMultipliers(size, rate, seed); its gradient
 * is dy times the same multipliers. Where the backend has @tensorized/backends' TensorizedDropout
 * (cpu, wasm) that is one kernel each way, the mask computed in the pass and never stored; elsewhere
 * one upload of the multipliers and one Multiply. The same values either way, bit for bit. rate 0
 * returns x itself.
 */
export function dropout<T extends tf.Tensor>(x: T, rate: number, seed: number): T {
  if (rate === 0) return x;
  if (tf.getKernel(FUSED_KERNELS.dropout, tf.getBackend())) {
    if (!(rate > 0 && rate < 1)) throw new RangeError(`dropout: rate must be in [0, 1), got ${rate}`);
    if (!Number.isInteger(seed)) throw new RangeError(`dropout: seed must be an integer, got ${seed}`);
    const attrs: DropoutAttrs = { rate, seed };
    const masked = (v: tf.Tensor): tf.Tensor =>
      (tf.engine().runKernel(FUSED_KERNELS.dropout, { x: v }, attrs as never) as unknown as tf.Tensor[])[0]!;
    const op = tf.customGrad(((v: tf.Tensor) => ({
      value: masked(v),
      gradFunc: (dy: tf.Tensor) => masked(dy),
    })) as never);
    return op(x) as T;
  }
  return tf.tidy(() => tf.mul(x, tf.tensor(dropoutMultipliers(x.size, rate, seed), x.shape, 'float32'))) as T;
}
