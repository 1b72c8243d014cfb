import type * as tf from '@tensorflow/tfjs-core';
import type { NdArray } from '../ndarray.js';
import { type Core, toNdArray, toTensor } from '../ops.js';
import type { CpMatrix, CpTensor } from './cp.js';
import type { MatrixFormat } from './matrix.js';
import type { BtMatrix } from './bt.js';
import type { TrMatrix } from './tr.js';
import type { TtMatrix, TtTensor } from './tt.js';
import type { TuckerMatrix, TuckerTensor } from './tucker.js';

type AnyFormat<C extends Core> = MatrixFormat<C> | TtTensor<C> | CpTensor<C> | TuckerTensor<C>;
type WithStorage<F, C extends Core> =
  F extends TtMatrix<Core>
    ? TtMatrix<C>
    : F extends CpMatrix<Core>
      ? CpMatrix<C>
      : F extends TuckerMatrix<Core>
        ? TuckerMatrix<C>
        : F extends TrMatrix<Core>
          ? TrMatrix<C>
          : F extends BtMatrix<Core>
            ? BtMatrix<C>
            : F extends TtTensor<Core>
              ? TtTensor<C>
              : F extends CpTensor<Core>
                ? CpTensor<C>
                : F extends TuckerTensor<Core>
                  ? TuckerTensor<C>
                  : never;

/**
 * The same format with its factors in another storage: 'tensor' gives float32 TF.js tensors (to
 * train or apply), 'float64' host NdArrays (to analyse, or to feed the algorithms).
 */
export function convertFormat<F extends AnyFormat<Core>>(f: F, to: 'tensor'): WithStorage<F, tf.Tensor>;
export function convertFormat<F extends AnyFormat<Core>>(f: F, to: 'float64'): WithStorage<F, NdArray>;
export function convertFormat(f: AnyFormat<Core>, to: 'tensor' | 'float64'): AnyFormat<Core> {
  const conv = (c: Core): Core => (to === 'tensor' ? toTensor(c) : toNdArray(c));
  const out: Record<string, unknown> = { ...f };
  for (const key of ['cores', 'factors', 'inFactors', 'outFactors'] as const) {
    if (key in f) out[key] = (f as unknown as Record<string, Core[]>)[key]!.map(conv);
  }
  for (const key of ['core', 'weights'] as const) {
    const v = (f as unknown as Record<string, Core | undefined>)[key];
    if (v !== undefined) out[key] = conv(v);
  }
  return out as unknown as AnyFormat<Core>;
}
