import * as tf from '@tensorflow/tfjs-core';
import { FUSED_KERNELS } from './fused_kernels.js';

/** One step of a layout change: a reshape (one axis may be -1) or a transpose. */
export type ViewStep = { readonly reshape: readonly number[] } | { readonly transpose: readonly number[] };

/** Attributes of TensorizedView: the steps, applied in order. */
export interface ViewAttrs {
  view: readonly ViewStep[];
}

const count = (shape: readonly number[]): number => shape.reduce((p, q) => p * q, 1);

interface BackendLike {
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * x laid out by `view` with the backend's own Transpose kernel, each reshape a new shape on the same
 * data: `owned` when the result is a new tensor (a transpose ran; the caller frees it), else it is x's
 * data seen in another shape. Throws, freeing what it made, if a step does not fit.
 */
export function viewOn(
  backendName: string,
  backend: object,
  x: tf.TensorInfo,
  view: readonly ViewStep[],
  name: string = FUSED_KERNELS.view,
): { out: tf.TensorInfo; owned: boolean } {
  const size = count(x.shape);
  let cur: tf.TensorInfo = x;
  let owned = false;
  try {
    for (const op of view) {
      if ('reshape' in op) {
        const dims: readonly number[] = op.reshape;
        const known = dims.reduce((a: number, d: number) => (d === -1 ? a : a * d), 1);
        const shape = dims.map((d: number) => (d === -1 ? size / known : d));
        if (count(shape) !== size || shape.some((d: number) => !Number.isInteger(d) || d < 0))
          throw new RangeError(`${name}: cannot reshape [${cur.shape.join(', ')}] to [${dims.join(', ')}]`);
        cur = { dataId: cur.dataId, shape, dtype: cur.dtype };
      } else {
        const perm: readonly number[] = (op as { transpose: readonly number[] }).transpose;
        if (perm.length !== cur.shape.length || [...perm].sort((a, b) => a - b).some((a, i) => a !== i))
          throw new RangeError(
            `${name}: transpose [${perm.join(', ')}] is not a permutation of the ${cur.shape.length} axes of [${cur.shape.join(', ')}]`,
          );
        const transpose = tf.getKernel('Transpose', backendName);
        if (!transpose) throw new Error(`${name}: the ${backendName} backend has no Transpose kernel`);
        const out = transpose.kernelFunc({
          inputs: { x: cur },
          backend: backend as never,
          attrs: { perm: [...perm] },
        }) as tf.TensorInfo;
        if (owned) (backend as BackendLike).disposeData(cur.dataId, true);
        cur = out;
        owned = true;
      }
    }
  } catch (e) {
    if (owned) (backend as BackendLike).disposeData(cur.dataId, true);
    throw e;
  }
  return { out: cur, owned };
}

/**
 * TensorizedView: a layout change of reshapes and transposes (at least one transpose) in one launch
 * of the engine: each transpose is the backend's own Transpose kernel (on wasm, with this package's
 * fixes), each reshape a new shape on the same data, the transposes' intermediate results freed.
 * The same values as tf.reshape and tf.transpose one by one (a copy, no arithmetic), where each of
 * those is a launch: a TT-matrix's view between its cores, reshape, transpose, reshape, at every
 * step of a recurrence. No gradient: for code that differentiates by hand (@tensorized/cells'
 * fused GRU runs it outside a tape).
 */
function viewKernel(backendName: string): tf.KernelFunc {
  const name = FUSED_KERNELS.view;
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo | undefined;
    if (!x) throw new RangeError(`${name}: input 'x' is missing`);
    const { view } = args.attrs as unknown as ViewAttrs;
    if (!Array.isArray(view) || !view.some((op) => op && 'transpose' in op))
      throw new RangeError(
        `${name}: attribute 'view' must be a list of steps with at least one transpose, got ${JSON.stringify(view)}`,
      );
    return viewOn(backendName, args.backend, x, view, name).out;
  };
}

/** Registers TensorizedView for cpu and wasm (importing @tensorized/backends does it). Idempotent. */
export function installView(): void {
  for (const backendName of ['cpu', 'wasm']) {
    if (tf.getKernel(FUSED_KERNELS.view, backendName)) continue;
    tf.registerKernel({ kernelName: FUSED_KERNELS.view, backendName, kernelFunc: viewKernel(backendName) });
  }
}

installView();
