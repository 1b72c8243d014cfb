import type * as tf from '@tensorflow/tfjs-core';
import { check, fmt } from '../errors.js';
import type { TtMatrix, TtTensor } from '../formats/tt.js';
import type { NdArray } from '../ndarray.js';
import { type Core, type Ops, opsFor, tidyFor } from '../ops.js';

/**
 * The dense (prod n_k, prod m_k) matrix of a TT-matrix. The cores are merged by halves (see
 * mergeTtCores), so that the last and largest transpose keeps whole rows of the right half's output
 * modes together: far cheaper than interleaving one mode at a time.
 */
export function ttMatrixToDense(w: TtMatrix<tf.Tensor>): tf.Tensor2D;
export function ttMatrixToDense(w: TtMatrix<NdArray>): NdArray;
export function ttMatrixToDense<C extends Core>(w: TtMatrix<C>): C {
  const first = w.cores[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    const merged = mergeTtCores(ops, w.cores);
    return ops.reshape(merged, [merged.shape[1]!, merged.shape[2]!]);
  });
}

/**
 * Merges consecutive TT-matrix cores (r_a, n, m, r_b) into one core (r_0, prod n, prod m, r_end):
 * the two halves are merged recursively, then joined by one matMul and one transpose that
 * interleaves their row and column indices.
 */
export function mergeTtCores<C extends Core>(ops: Ops<C>, cores: readonly C[]): C {
  if (cores.length === 1) return cores[0]!;
  const half = Math.ceil(cores.length / 2);
  const a = mergeTtCores(ops, cores.slice(0, half));
  const b = mergeTtCores(ops, cores.slice(half));
  const [r0, na, ma, s] = a.shape as [number, number, number, number];
  const [, nb, mb, re] = b.shape as [number, number, number, number];
  const prod = ops.matMul(ops.reshape(a, [r0 * na * ma, s]), ops.reshape(b, [s, nb * mb * re]));
  const joined = ops.transpose(ops.reshape(prod, [r0 * na, ma, nb, mb * re]), [0, 2, 1, 3]);
  return ops.reshape(joined, [r0, na * nb, ma * mb, re]);
}

/** The dense tensor of shape (n_1..n_d) of a TT tensor. */
export function ttToDense(t: TtTensor<tf.Tensor>): tf.Tensor;
export function ttToDense(t: TtTensor<NdArray>): NdArray;
export function ttToDense<C extends Core>(t: TtTensor<C>): C {
  const first = t.cores[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    // A TT tensor is a TT-matrix whose output modes are all 1.
    const cores = t.cores.map((c) => ops.reshape(c, [c.shape[0]!, c.shape[1]!, 1, c.shape[2]!]));
    const asMatrix: TtMatrix<C> = {
      kind: 'tt-matrix',
      inModes: t.shape,
      outModes: t.shape.map(() => 1),
      ranks: t.ranks,
      cores,
    };
    return ops.reshape(ttMatrixToDense(asMatrix as never) as C, t.shape);
  });
}

/**
 * y = x W for x of shape (B, prod n_k), without forming W: the input is contracted with one core at
 * a time, last core first (one matMul and one 2-D transpose per core). Returns (B, prod m_k).
 */
export function ttMatmul(x: tf.Tensor2D, w: TtMatrix<tf.Tensor>): tf.Tensor2D;
export function ttMatmul(x: NdArray, w: TtMatrix<NdArray>): NdArray;
export function ttMatmul<C extends Core>(x: C, w: TtMatrix<C>): C {
  const ops = opsFor(x);
  return tidyFor(x, () => ttMatmulPrepared(ops, x, w, prepareTtCores(ops, w)));
}

/**
 * The cores laid out for ttMatmulPrepared: core k as an (n_k r_k) x (r_{k-1} m_k) matrix. Done once
 * per batch of sequences when the same matrix is applied at every time step.
 */
export function prepareTtCores<C extends Core>(ops: Ops<C>, w: TtMatrix<C>): C[] {
  return w.cores.map((core) => {
    const [r0, nk, mk, r1] = core.shape as [number, number, number, number];
    return ops.reshape(ops.transpose(core, [1, 3, 0, 2]), [nk * r1, r0 * mk]);
  });
}

export function ttMatmulPrepared<C extends Core>(ops: Ops<C>, x: C, w: TtMatrix<C>, cores: readonly C[]): C {
  const n = w.inModes.reduce((a, b) => a * b, 1);
  checkBatchInput('ttMatmul', x, n);
  const batch = x.shape[0]!;
  let state = x;
  let size = batch * n;
  for (let k = cores.length - 1; k >= 0; k--) {
    const [r0, mk, r1] = [w.ranks[k]!, w.outModes[k]!, w.ranks[k + 1]!];
    const rows = size / (w.inModes[k]! * r1);
    // The state's trailing (i_k, a_k) is contracted with the core.
    state = ops.matMul(ops.reshape(state, [rows, w.inModes[k]! * r1]), cores[k]!);
    // Rotate j_k to the front; the next (i_{k-1}, a_{k-1}) become the trailing axes.
    state = ops.transpose(ops.reshape(state, [rows * r0, mk]), [1, 0]);
    size = rows * r0 * mk;
  }
  const m = w.outModes.reduce((a, b) => a * b, 1);
  return ops.transpose(ops.reshape(state, [m, batch]), [1, 0]);
}

export function checkBatchInput(fn: string, x: Core, n: number): void {
  check(
    x.shape.length === 2 && x.shape[1] === n && x.shape[0]! > 0,
    'SHAPE_MISMATCH',
    () => `${fn}: x must have shape [B, ${n}] (B >= 1; ${n} = product of the input modes), got ${fmt(x.shape)}`,
  );
}
