import type * as tf from '@tensorflow/tfjs-core';
import type { TuckerMatrix, TuckerTensor } from '../formats/tucker.js';
import type { NdArray } from '../ndarray.js';
import { type Computable, type Core, type Ops, opsFor, tidyFor } from '../ops.js';
import { modeProducts } from './mode_products.js';
import { checkBatchInput } from './tt.js';

import { prod } from '../prod.js';

/** The dense tensor (n_1..n_d) of a Tucker tensor: G x_1 U_1 ... x_d U_d. */
export function tuckerToDense(t: TuckerTensor<tf.Tensor>): tf.Tensor;
export function tuckerToDense(t: TuckerTensor<NdArray>): NdArray;
export function tuckerToDense<C extends Core>(t: TuckerTensor<C>): C {
  const ops = opsFor(t.core);
  return tidyFor(t.core, () => {
    const flat = ops.reshape(t.core, [1, prod(t.ranks)]);
    return ops.reshape(modeProducts(ops, flat, t.ranks, t.factors, true), t.shape);
  });
}

/** The dense (prod n_k, prod m_k) matrix of a Tucker matrix (the 2d-way Tucker tensor, reshaped). */
export function tuckerMatrixToDense(w: TuckerMatrix<tf.Tensor>): tf.Tensor2D;
export function tuckerMatrixToDense(w: TuckerMatrix<NdArray>): NdArray;
export function tuckerMatrixToDense<C extends Core>(w: TuckerMatrix<C>): C {
  const ops = opsFor(w.core);
  return tidyFor(w.core, () => {
    const ranks = [...w.inRanks, ...w.outRanks];
    const flat = ops.reshape(w.core, [1, prod(ranks)]);
    const dense = modeProducts(ops, flat, ranks, [...w.inFactors, ...w.outFactors], true);
    return ops.reshape(dense, [prod(w.inModes), prod(w.outModes)]);
  });
}

/**
 * y = x W for x (B, prod n_k) without forming W: W = K_A C K_B^T with K_A = A_1 (x) ... (x) A_d
 * (N x prod inRanks) and K_B likewise, so x W = (x K_A)(C K_B^T): two products through the
 * (prod inRanks)-wide bottleneck. Returns (B, prod m_k).
 */
export function tuckerMatmul(x: tf.Tensor2D, w: TuckerMatrix<tf.Tensor>): tf.Tensor2D;
export function tuckerMatmul(x: NdArray, w: TuckerMatrix<NdArray>): NdArray;
export function tuckerMatmul<C extends Core>(x: C, w: TuckerMatrix<C>): C {
  const ops = opsFor(x);
  return tidyFor(x, () => tuckerMatmulPrepared(ops, x, w, prepareTuckerFactors(ops, w)));
}

/**
 * K_A = A_1 (x) ... (x) A_d (N x prod inRanks) and C K_B^T (prod inRanks x M): built once per batch
 * when W is applied many times, so that each product is two plain matMuls.
 */
export function prepareTuckerFactors<C extends Computable>(ops: Ops<C>, w: TuckerMatrix<C>): [C, C] {
  let basis = w.inFactors[0]!;
  for (let k = 1; k < w.inFactors.length; k++) basis = ops.kron(basis, w.inFactors[k]!);
  const rin = prod(w.inRanks);
  const core = ops.reshape(w.core, [rin, prod(w.outRanks)]);
  return [basis, modeProducts(ops, core, w.outRanks, w.outFactors, true)];
}

export function tuckerMatmulPrepared<C extends Computable>(
  ops: Ops<C>,
  x: C,
  w: TuckerMatrix<C>,
  [basis, map]: readonly [C, C],
): C {
  checkBatchInput('tuckerMatmul', x, prod(w.inModes));
  return ops.matMul(ops.matMul(x, basis), map);
}
