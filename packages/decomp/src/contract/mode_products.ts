import type { Computable, Ops } from '../ops.js';
import { prod } from '../prod.js';

/**
 * Applies one matrix per mode to a batch: x (B, d_1*...*d_d) viewed as (B, d_1, ..., d_d) and
 * mats[k] of shape (d_k, e_k) (or (e_k, d_k) with `transposeMats`) give (B, e_1*...*e_d). An
 * undefined matrix is the identity: that mode is only moved, not multiplied.
 *
 * Each mode costs one matMul and one 2-D transpose: the contracted mode is always the last axis, and
 * the new mode is rotated to the front so that the next mode to contract becomes the last. A run of
 * identity modes is rotated to the front by one transpose.
 */
export function modeProducts<T extends Computable>(
  ops: Ops<T>,
  x: T,
  dims: readonly number[],
  mats: readonly (T | undefined)[],
  transposeMats = false,
): T {
  const batch = x.shape[0]!;
  let state = x;
  let size = batch * prod(dims);
  let outSize = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    const mat = mats[k];
    if (mat === undefined) {
      // The run of identities k', ..., k moves to the front as one block.
      let block = dims[k]!;
      while (k > 0 && mats[k - 1] === undefined) block *= dims[--k]!;
      state = ops.transpose(ops.reshape(state, [size / block, block]), [1, 0]);
      outSize *= block;
      continue;
    }
    const dk = dims[k]!;
    const ek = transposeMats ? mat.shape[0]! : mat.shape[1]!;
    const rows = size / dk;
    state = ops.matMul(ops.reshape(state, [rows, dk]), mat, false, transposeMats);
    state = ops.transpose(state, [1, 0]);
    size = rows * ek;
    outSize *= ek;
  }
  // Layout is now (e_1, ..., e_d, B).
  return batch === 1 ? ops.reshape(state, [1, outSize]) : ops.transpose(ops.reshape(state, [outSize, batch]), [1, 0]);
}
