import type { Computable, Ops } from '../ops.js';
import { prod } from '../prod.js';

/**
 * Applies one matrix per mode to a batch: x (B, d_1*...*d_d) viewed as (B, d_1, ..., d_d) and
 * mats[k] of shape (d_k, e_k) (or (e_k, d_k) with `transposeMats`) give (B, e_1*...*e_d).
 *
 * Each mode costs one matMul and one 2-D transpose: the contracted mode is always the last axis, and
 * the new mode is rotated to the front so that the next mode to contract becomes the last.
 */
export function modeProducts<T extends Computable>(
  ops: Ops<T>,
  x: T,
  dims: readonly number[],
  mats: readonly T[],
  transposeMats = false,
): T {
  const batch = x.shape[0]!;
  let state = x;
  let size = batch * prod(dims);
  let outSize = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    const mat = mats[k]!;
    const dk = dims[k]!;
    const ek = transposeMats ? mat.shape[0]! : mat.shape[1]!;
    const rows = size / dk;
    state = ops.matMul(ops.reshape(state, [rows, dk]), mat, false, transposeMats);
    state = ops.transpose(state, [1, 0]);
    size = rows * ek;
    outSize *= ek;
  }
  // Layout is now (e_1, ..., e_d, B).
  return ops.transpose(ops.reshape(state, [outSize, batch]), [1, 0]);
}
