// Shared by the benchmark scripts here: how long one call takes.
import * as tf from '@tensorflow/tfjs-core';

/**
 * Milliseconds per call of f over n calls, after `warm` calls not timed (first calls, the heap's
 * growth); whatever f returns is disposed. Scripts alternate their contenders in rounds and keep
 * each one's fastest.
 */
export function msPerCall(f, n, warm = 5) {
  for (let i = 0; i < warm; i++) tf.dispose(f());
  const t0 = performance.now();
  for (let i = 0; i < n; i++) tf.dispose(f());
  return (performance.now() - t0) / n;
}
