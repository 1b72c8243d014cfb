import type * as tf from '@tensorflow/tfjs-core';
import type { Computable } from '../ops.js';
import type { CpMatrix } from './cp.js';
import type { BtMatrix, BtMatrixSpec } from './bt.js';
import type { TrMatrix, TrMatrixSpec } from './tr.js';
import type { TtMatrix } from './tt.js';
import type { TuckerMatrix } from './tucker.js';

/** Any factorised matrix format. */
export type MatrixFormat<C extends Computable = tf.Tensor> =
  | TtMatrix<C>
  | CpMatrix<C>
  | TuckerMatrix<C>
  | TrMatrix<C>
  | BtMatrix<C>;

/** The sizes of a TT-matrix, without its cores. */
export interface TtMatrixSpec {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  /** r_0..r_d with r_0 = r_d = 1. */
  readonly ranks: readonly number[];
}

/** The sizes of a CP matrix, without its factors. */
export interface CpMatrixSpec {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly rank: number;
}

/** The sizes of a Tucker matrix; `outRanks` defaults to `inRanks` (the paper's choice). */
export interface TuckerMatrixSpec {
  readonly inModes: readonly number[];
  readonly outModes: readonly number[];
  readonly inRanks: readonly number[];
  readonly outRanks?: readonly number[];
}

/** A matrix format's sizes, tagged with its kind: what cost models and planners need. */
export type MatrixShape =
  | ({ readonly kind: 'tt-matrix' } & TtMatrixSpec)
  | ({ readonly kind: 'cp-matrix'; readonly weights?: unknown } & CpMatrixSpec)
  | ({ readonly kind: 'tucker-matrix' } & TuckerMatrixSpec)
  | ({ readonly kind: 'tr-matrix' } & TrMatrixSpec)
  | ({ readonly kind: 'bt-matrix' } & BtMatrixSpec);
