import { stagedProduct } from './contract/staged.js';
import { applyStages, type StagedMatmul, stagedInSize, withBatchOne } from './contract/tt.js';
import type { CostEstimate, MatmulPath } from './cost.js';
import type { MatrixFormat, MatrixShape } from './formats/matrix.js';
import { definitionOf } from './formats/registry.js';
import { hasKhatriRaoKernels, type Ops } from './ops.js';
import { prod } from './prod.js';

/** One kernel the traced code would launch on TF.js (the names are TF.js kernel names). */
export interface TracedKernel {
  name: 'Reshape' | 'Transpose' | 'BatchMatMul' | 'Multiply' | 'Fill' | 'TensorizedKhatriRao';
  /** Floating-point operations (a matMul's 2 m k n, an elementwise product's elements). */
  flops: number;
  /** Elements a Transpose moves. */
  moved: number;
  /** Elements of a matMul's right-hand side (what bounds a product of a single row). */
  read: number;
  /** Elements of a right-hand side computed in the trace, which XNNPACK packs before the product. */
  packed: number;
}

/** What a traced computation launched, in order. */
export class Trace {
  readonly kernels: TracedKernel[] = [];

  add(name: TracedKernel['name'], flops = 0, moved = 0, read = 0, packed = 0): void {
    this.kernels.push({ name, flops, moved, read, packed });
  }

  /** Kernel launches by name. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of this.kernels) out[k.name] = (out[k.name] ?? 0) + 1;
    return out;
  }

  /** The totals, as the cost model counts them. */
  cost(): CostEstimate {
    const c: CostEstimate = { flops: 0, ops: 0, moved: 0, read: 0, packed: 0 };
    for (const k of this.kernels) {
      c.flops += k.flops;
      c.ops += 1;
      c.moved += k.moved;
      c.read += k.read;
      c.packed += k.packed;
    }
    return c;
  }
}

/**
 * A tensor known by its shape only, and the trace its operations are recorded in. `fresh`: computed
 * in the trace (not a stored factor or an input), so a product that takes it as its right-hand side
 * packs it first.
 */
export interface Traced {
  readonly shape: readonly number[];
  readonly trace: Trace;
  readonly fresh?: boolean;
}

const resolve = (shape: readonly number[], size: number): number[] => {
  const known = prod(shape.filter((d) => d !== -1));
  return shape.map((d) => (d === -1 ? size / known : d));
};

/**
 * The Ops of this package on shapes: each primitive records the TF.js kernels its tfOps counterpart
 * launches (tfOps.khatriRao: one kernel where the backend has it, else three reshapes and a broadcast
 * multiply, ...) and returns the shape of
 * the result. Running the contractions on it gives what running them on tensors launches, without a
 * tensor (tested against tf.profile of the same code on real backends).
 */
export const traceOps: Ops<Traced> = {
  reshape: (x, shape) => {
    x.trace.add('Reshape');
    // A reshape views the same data: as fresh as its input.
    return { shape: resolve(shape, prod(x.shape)), trace: x.trace, fresh: x.fresh ?? false };
  },
  transpose: (x, perm) => {
    x.trace.add('Transpose', 0, prod(x.shape));
    return { shape: perm.map((a) => x.shape[a]!), trace: x.trace, fresh: true };
  },
  matMul: (a, b, ta = false, tb = false) => {
    const [m, k] = ta ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const n = tb ? b.shape[0]! : b.shape[1]!;
    a.trace.add('BatchMatMul', 2 * m * k * n, 0, prod(b.shape), b.fresh ? prod(b.shape) : 0);
    return { shape: [m, n], trace: a.trace, fresh: true };
  },
  khatriRao: (a, b) => {
    const [p, r] = a.shape as [number, number];
    const q = b.shape[0]!;
    if (hasKhatriRaoKernels()) {
      a.trace.add('TensorizedKhatriRao', p * q * r);
      return { shape: [p * q, r], trace: a.trace, fresh: true };
    }
    a.trace.add('Reshape');
    a.trace.add('Reshape');
    a.trace.add('Multiply', p * q * r);
    a.trace.add('Reshape');
    return { shape: [p * q, r], trace: a.trace, fresh: true };
  },
  scaleColumns: (a, w) => {
    a.trace.add('Reshape');
    a.trace.add('Multiply', prod(a.shape));
    void w;
    return { shape: [...a.shape], trace: a.trace, fresh: true };
  },
  // tf.ones makes its tensor on the host: no kernel runs.
  ones: (shape, like) => {
    if (!like) throw new Error('traceOps.ones: pass a traced value of the same computation as `like`');
    return { shape: [...shape], trace: like.trace, fresh: true };
  },
  // tf.eye too (a host buffer, then a reshape).
  eye: (n, like) => {
    if (!like) throw new Error('traceOps.eye: pass a traced value of the same computation as `like`');
    like.trace.add('Reshape');
    return { shape: [n, n], trace: like.trace, fresh: true };
  },

  kron: (a, b) => {
    const [p, r] = a.shape as [number, number];
    const [q, s] = b.shape as [number, number];
    a.trace.add('Reshape');
    a.trace.add('Reshape');
    a.trace.add('Multiply', p * q * r * s);
    a.trace.add('Reshape');
    return { shape: [p * q, r * s], trace: a.trace, fresh: true };
  },
};

/** A matrix format of this shape whose factors are traced tensors. */
function tracedFormat(w: MatrixShape, trace: Trace): MatrixFormat<Traced> {
  const def = definitionOf(w);
  return def.assemble(
    w,
    def.parts(w).map((p): Traced => ({ shape: p.shape, trace })),
  ) as MatrixFormat<Traced>;
}

/**
 * What preparing a matrix of this shape for `path` launches (prepareMatmul's kernels), and the
 * staged product it leaves, from the shapes alone: the same code (stagedProduct) on traceOps.
 */
export function tracePrepare(
  w: MatrixShape,
  path: MatmulPath,
  options: { groups?: readonly number[] } = {},
): { trace: Trace; staged: StagedMatmul<Traced> } {
  const trace = new Trace();
  const groups =
    path === 'factorised' && definitionOf(w).groupings ? (options.groups ?? w.inModes.map(() => 1)) : undefined;
  return { trace, staged: withBatchOne(traceOps, stagedProduct(traceOps, tracedFormat(w, trace), path, groups)) };
}

/** What one product x W of `batch` rows through a prepared staged product launches (PreparedMatmul.apply). */
export function traceApply(staged: StagedMatmul<Traced>, batch: number): Trace {
  const trace = new Trace();
  const inSize = stagedInSize(staged);
  // The stage matrices belong to the preparation's trace: this product's kernels are recorded here.
  const own: StagedMatmul<Traced> = {
    ...staged,
    stages: staged.stages.map((s) => ({ view: s.view, matrix: { shape: s.matrix.shape, trace } })),
    ...(staged.batchOne
      ? {
          batchOne: {
            first: { shape: staged.batchOne.first.shape, trace },
            second: { shape: staged.batchOne.second.shape, trace },
          },
        }
      : {}),
  };
  applyStages(traceOps, { shape: [batch, inSize], trace }, own);
  return trace;
}
