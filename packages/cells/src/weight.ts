import * as tf from '@tensorflow/tfjs-core';
import {
  cpMatrix,
  cpMatrixInit,
  type InitStd,
  type MatmulPath,
  type MatrixFormat,
  matMul2d,
  matrixToDense,
  paramCount,
  planMatmul,
  prepareMatmul,
  targetStd,
  ttMatrix,
  ttMatrixInit,
  tuckerMatrix,
  tuckerMatrixInit,
} from '@tensorized/decomp';
import type { MatrixPlan } from './config.js';

/**
 * Makes the variable that holds a weight, from its initial value (which the caller disposes). The
 * default is a trainable tf.variable; the tfjs-layers adapter makes layer weights instead.
 */
export type VariableFactory = (name: string, initial: tf.Tensor) => tf.Variable;

export const defaultVariable: VariableFactory = (_name, initial) => tf.variable(initial, true);

/** A weight matrix applied to a batch: `apply` per use, `dispose` afterwards. */
export interface AppliedWeight {
  readonly path: MatmulPath | 'dense';
  apply(x: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

/**
 * One of the cell's two weight matrices, dense or factorised, owning its variables. Variables are
 * named after the factor they hold: `W` (dense), `W.core0..` (TT), `W.in0.., W.out0..` (CP),
 * `W.core, W.in0.., W.out0..` (Tucker); likewise for U.
 */
export class WeightMatrix {
  readonly name: 'W' | 'U';
  readonly inSize: number;
  readonly outSize: number;
  /** Named variables in a fixed order. */
  readonly variables: ReadonlyArray<readonly [string, tf.Variable]>;
  /** The factorised format over the variables (absent for a dense weight). */
  readonly format: MatrixFormat | undefined;

  constructor(plan: MatrixPlan, init: InitStd | undefined, seed: number | undefined, makeVariable: VariableFactory = defaultVariable) {
    this.name = plan.name;
    this.inSize = plan.inSize;
    this.outSize = plan.outSize;
    const n = plan.name;
    const spec = plan.spec;
    const options = { ...(init !== undefined ? { std: init } : {}), ...(seed !== undefined ? { seed } : {}) };
    const named: Array<[string, tf.Tensor]> = [];
    if (spec.format === 'dense') {
      const std = targetStd(init, plan.inSize, plan.outSize);
      named.push([n, tf.randomNormal([plan.inSize, plan.outSize], 0, std, 'float32', seed)]);
    } else {
      const modes = { inModes: plan.inModes!, outModes: plan.outModes! };
      if (spec.format === 'tt') {
        const w = ttMatrixInit({ ...modes, ranks: spec.ranks }, options);
        w.cores.forEach((c, k) => {
          named.push([`${n}.core${k}`, c]);
        });
      } else if (spec.format === 'cp') {
        const w = cpMatrixInit({ ...modes, rank: spec.rank }, options);
        w.inFactors.forEach((f, k) => {
          named.push([`${n}.in${k}`, f]);
        });
        w.outFactors.forEach((f, k) => {
          named.push([`${n}.out${k}`, f]);
        });
      } else {
        const w = tuckerMatrixInit({ ...modes, inRanks: spec.ranks, ...(spec.outRanks ? { outRanks: spec.outRanks } : {}) }, options);
        named.push([`${n}.core`, w.core]);
        w.inFactors.forEach((f, k) => {
          named.push([`${n}.in${k}`, f]);
        });
        w.outFactors.forEach((f, k) => {
          named.push([`${n}.out${k}`, f]);
        });
      }
    }
    this.variables = named.map(([name, t]) => {
      const v = makeVariable(name, t);
      t.dispose();
      return [name, v] as const;
    });
    this.format = spec.format === 'dense' ? undefined : formatOver(spec.format, this.variables.map(([, v]) => v), plan.inModes!.length);
  }

  /** Stored values of this matrix. */
  paramCount(): number {
    return this.format ? paramCount(this.format) : this.inSize * this.outSize;
  }

  /** The dense (inSize x outSize) matrix. */
  toDense(): tf.Tensor2D {
    return this.format ? matrixToDense(this.format) : (tf.clone(this.variables[0]![1]) as tf.Tensor2D);
  }

  /**
   * Makes the matrix ready for `uses` products with `batch` rows each: the planner's path, or the
   * one forced. Call inside the function being differentiated, so gradients reach the factors.
   */
  prepare(batch: number, uses: number, path: 'auto' | MatmulPath = 'auto'): AppliedWeight {
    if (!this.format) {
      const w = this.variables[0]![1] as tf.Tensor2D;
      return { path: 'dense', apply: (x) => matMul2d(x, w), dispose: () => {} };
    }
    const chosen = path === 'auto' ? planMatmul(this.format, { batch, uses }).path : path;
    return prepareMatmul(this.format, chosen);
  }

  dispose(): void {
    for (const [, v] of this.variables) v.dispose();
  }
}

function formatOver(kind: 'tt' | 'cp' | 'tucker', vs: tf.Variable[], d: number): MatrixFormat {
  const opts = { checkFinite: false };
  if (kind === 'tt') return ttMatrix(vs, opts);
  if (kind === 'cp') return cpMatrix(vs.slice(0, d), vs.slice(d, 2 * d), undefined, opts);
  return tuckerMatrix(vs[0]!, vs.slice(1, 1 + d), vs.slice(1 + d), opts);
}
