import type { MatmulPath } from '../cost.js';
import type { MatrixFormat } from '../formats/matrix.js';
import type { Computable, Ops } from '../ops.js';
import type { StagedMatmul } from './tt.js';
import { definitionOf } from '../formats/registry.js';

/** The dense (N x M) matrix of any matrix format, on any Ops (its format's `dense`). */
export function denseOf<C extends Computable>(ops: Ops<C>, w: MatrixFormat<C>): C {
  return definitionOf(w).dense(ops, w);
}

/**
 * The product x W as matMul stages with layout views, for `path`: 'rebuild' is one stage, the dense
 * W; 'factorised' is the format's stages (one per (merged, by `groups`) TT core, the two bottleneck
 * factors of CP and Tucker). The one place a path's preparation is written: prepareMatmul runs it on
 * tensors, the cost model's trace (trace.ts) on shapes.
 */
export function stagedProduct<C extends Computable>(
  ops: Ops<C>,
  w: MatrixFormat<C>,
  path: MatmulPath,
  groups?: readonly number[],
): StagedMatmul<C> {
  if (path === 'rebuild') return { stages: [{ view: [], matrix: denseOf(ops, w) }], outView: [] };
  return definitionOf(w).stages(ops, w, groups);
}
