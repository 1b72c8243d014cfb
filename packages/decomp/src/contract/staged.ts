import type { MatmulPath } from '../cost.js';
import type { MatrixFormat } from '../formats/matrix.js';
import type { Computable, Ops } from '../ops.js';
import { prod } from '../prod.js';
import { prepareCpFactors } from './cp.js';
import { modeProducts } from './mode_products.js';
import { mergeTtCores, type StagedMatmul, ttStages } from './tt.js';
import { prepareTuckerFactors } from './tucker.js';

/**
 * The dense (N x M) matrix of any matrix format, on any Ops: a TT-matrix's cores merged by halves,
 * a CP matrix's two Khatri-Rao products multiplied, a Tucker matrix's core multiplied by every factor.
 */
export function denseOf<C extends Computable>(ops: Ops<C>, w: MatrixFormat<C>): C {
  const n = prod(w.inModes);
  const m = prod(w.outModes);
  switch (w.kind) {
    case 'tt-matrix':
      return ops.reshape(mergeTtCores(ops, w.cores), [n, m]);
    case 'cp-matrix': {
      const [a, bt] = prepareCpFactors(ops, w);
      return ops.matMul(a, bt);
    }
    case 'tucker-matrix': {
      const ranks = [...w.inRanks, ...w.outRanks];
      const flat = ops.reshape(w.core, [1, prod(ranks)]);
      return ops.reshape(modeProducts(ops, flat, ranks, [...w.inFactors, ...w.outFactors], true), [n, m]);
    }
  }
}

/**
 * The product x W as matMul stages with layout views, for `path`: 'rebuild' is one stage, the dense
 * W; 'factorised' is one stage per (merged, by `groups`) TT core, or the two bottleneck factors of CP
 * and Tucker. The one place a path's preparation is written: prepareMatmul runs it on tensors, the
 * cost model's trace (trace.ts) on shapes.
 */
export function stagedProduct<C extends Computable>(
  ops: Ops<C>,
  w: MatrixFormat<C>,
  path: MatmulPath,
  groups?: readonly number[],
): StagedMatmul<C> {
  if (path === 'rebuild') return { stages: [{ view: [], matrix: denseOf(ops, w) }], outView: [] };
  switch (w.kind) {
    case 'tt-matrix':
      return ttStages(ops, w, groups);
    case 'cp-matrix':
      return { stages: prepareCpFactors(ops, w).map((matrix) => ({ view: [], matrix })), outView: [] };
    case 'tucker-matrix':
      return { stages: prepareTuckerFactors(ops, w).map((matrix) => ({ view: [], matrix })), outView: [] };
  }
}
