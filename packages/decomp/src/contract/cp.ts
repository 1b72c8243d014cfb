import type * as tf from '@tensorflow/tfjs-core';
import type { CpMatrix, CpTensor } from '../formats/cp.js';
import type { NdArray } from '../ndarray.js';
import { type Computable, type Core, type Ops, opsFor, tidyFor } from '../ops.js';
import { checkBatchInput } from './tt.js';
import { prod } from '../prod.js';

/** Khatri-Rao product of all factors, first factor slowest: (prod n_k x R). */
export function khatriRaoAll<T extends Computable>(ops: Ops<T>, factors: readonly T[]): T {
  let acc = factors[0]!;
  for (let k = 1; k < factors.length; k++) acc = ops.khatriRao(acc, factors[k]!);
  return acc;
}

/** The dense tensor (n_1..n_d) of a CP tensor. */
export function cpToDense(t: CpTensor<tf.Tensor>): tf.Tensor;
export function cpToDense(t: CpTensor<NdArray>): NdArray;
export function cpToDense<C extends Core>(t: CpTensor<C>): C {
  const first = t.factors[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    let kr = khatriRaoAll(ops, t.factors);
    if (t.weights !== undefined) kr = ops.scaleColumns(kr, t.weights);
    return ops.reshape(ops.matMul(kr, ops.ones([t.rank, 1])), t.shape);
  });
}

/** The dense (prod n_k, prod m_k) matrix of a CP matrix. */
export function cpMatrixToDense(w: CpMatrix<tf.Tensor>): tf.Tensor2D;
export function cpMatrixToDense(w: CpMatrix<NdArray>): NdArray;
export function cpMatrixToDense<C extends Core>(w: CpMatrix<C>): C {
  const first = w.inFactors[0]!;
  const ops = opsFor(first);
  return tidyFor(first, () => {
    const [a, bt] = prepareCpFactors(ops, w);
    return ops.matMul(a, bt);
  });
}

/**
 * y = x W for x (B, prod n_k) through the rank-R bottleneck: (x KR(A)) diag(w) KR(B)^T, never the
 * (N x M) matrix. Returns (B, prod m_k).
 */
export function cpMatmul(x: tf.Tensor2D, w: CpMatrix<tf.Tensor>): tf.Tensor2D;
export function cpMatmul(x: NdArray, w: CpMatrix<NdArray>): NdArray;
export function cpMatmul<C extends Core>(x: C, w: CpMatrix<C>): C {
  const ops = opsFor(x);
  return tidyFor(x, () => cpMatmulPrepared(ops, x, w, prepareCpFactors(ops, w)));
}

/**
 * KR(A) diag(w) (N x R) and KR(B)^T (R x M): built once per batch when W is applied many times, so
 * that each product is two plain matMuls.
 */
export function prepareCpFactors<C extends Computable>(ops: Ops<C>, w: CpMatrix<C>): [C, C] {
  let a = khatriRaoAll(ops, w.inFactors);
  if (w.weights !== undefined) a = ops.scaleColumns(a, w.weights);
  return [a, ops.transpose(khatriRaoAll(ops, w.outFactors), [1, 0])];
}

export function cpMatmulPrepared<C extends Computable>(ops: Ops<C>, x: C, w: CpMatrix<C>, [a, bt]: readonly [C, C]): C {
  checkBatchInput('cpMatmul', x, prod(w.inModes));
  return ops.matMul(ops.matMul(x, a), bt);
}
