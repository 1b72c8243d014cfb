import * as tf from '@tensorflow/tfjs-core';

/**
 * tf.unstack along the leading axis, by halving: [x_0..x_{n-1}]. The wasm backend's Slice (which
 * Unpack and Split use) copies its whole input before taking the slice, so n slices of one tensor
 * of size S move n S values (64 steps of a 16 x 1536 projection: 100+ ms). Halving moves
 * 2 S log2(n); the gradient is the same (the pieces' gradients are padded back and summed).
 */
export function unstackLeading(x: tf.Tensor, n = x.shape[0]!): tf.Tensor[] {
  if (n === 1) return [tf.reshape(x, x.shape.slice(1))];
  const half = Math.floor(n / 2);
  const rest = x.shape.slice(1).map(() => -1);
  const first = tf.slice(x, [0, ...rest.map(() => 0)], [half, ...rest]);
  const second = tf.slice(x, [half, ...rest.map(() => 0)], [n - half, ...rest]);
  return [...unstackLeading(first, half), ...unstackLeading(second, n - half)];
}

/**
 * tf.stack along a new leading axis whose gradient is unstackLeading (tf.stack's own gradient is an
 * Unpack, which on wasm copies the whole gradient once per piece).
 */
export function stackLeading(xs: readonly tf.Tensor[]): tf.Tensor {
  const stack = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const tensors = args.slice(0, xs.length) as tf.Tensor[];
    return { value: tf.stack(tensors), gradFunc: (dy: tf.Tensor) => unstackLeading(dy) };
  }) as Parameters<typeof tf.customGrad>[0]);
  return stack(...xs);
}
