import * as tf from '@tensorflow/tfjs-core';

/**
 * tf.unstack along the leading axis: [x_0..x_{n-1}], one slice each. (On wasm, tf.unstack's Unpack
 * kernel copies its whole input once per piece; Slice does not once @tensorized/backends has
 * installed its wasm kernel fixes, so n slices move the input once.)
 */
export function unstackLeading(x: tf.Tensor, n = x.shape[0]!): tf.Tensor[] {
  const rest = x.shape.slice(1);
  const begin = rest.map(() => 0);
  const size = rest.map(() => -1);
  return Array.from({ length: n }, (_, i) => tf.reshape(tf.slice(x, [i, ...begin], [1, ...size]), rest));
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
