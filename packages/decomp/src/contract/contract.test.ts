import * as tf from '@tensorflow/tfjs-core';
import { describeEachBackend, expectClose, expectNoLeak, finiteDifferences } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import {
  cpMatmul,
  cpMatrix,
  cpMatrixToDense,
  convertFormat,
  type MatrixFormat,
  matrixToDense,
  MATMUL_PAIR_KERNEL,
  type NdArray,
  plannedMatmul,
  ttMatrixInit,
  type PrepareOptions,
  prepareMatmul,
  Rng,
  toTensor,
  ttMatmul,
  ttMatrix,
  ttMatrixToDense,
  tuckerMatmul,
  tuckerMatrix,
  tuckerMatrixToDense,
  definitionOf,
  trMatmul,
  trMatrix,
  trMatrixToDense,
  btMatmul,
  btMatrix,
  btMatrixToDense,
} from '../index.js';
import { applyView, f64Ops, inverseView, ttStages, unapplyView } from '../stages.js';
import {
  cpMatrixDenseRef,
  matMulRef,
  prod,
  randn,
  trMatrixDenseRef,
  btMatrixDenseRef,
  ttMatrixDenseRef,
  tuckerDenseRef,
} from '../../test/reference.js';

interface Case {
  name: string;
  /** The format with float64 factors, and its dense matrix computed by the reference loops. */
  make(rng: Rng): { w: MatrixFormat<NdArray>; dense: NdArray };
}

function ttCase(inModes: number[], outModes: number[], ranks: number[]): Case {
  return {
    name: `tt ${inModes.join('x')} -> ${outModes.join('x')} ranks ${ranks.join(',')}`,
    make: (rng) => {
      const cores = inModes.map((n, k) => randn(rng, [ranks[k]!, n, outModes[k]!, ranks[k + 1]!]));
      return { w: ttMatrix(cores), dense: ttMatrixDenseRef(cores) };
    },
  };
}

function cpCase(inModes: number[], outModes: number[], rank: number, weighted: boolean): Case {
  return {
    name: `cp ${inModes.join('x')} -> ${outModes.join('x')} R ${rank}${weighted ? ' weighted' : ''}`,
    make: (rng) => {
      const a = inModes.map((n) => randn(rng, [n, rank]));
      const b = outModes.map((m) => randn(rng, [m, rank]));
      const weights = weighted ? randn(rng, [rank]) : undefined;
      return { w: cpMatrix(a, b, weights), dense: cpMatrixDenseRef(a, b, weights) };
    },
  };
}

function tuckerCase(inModes: number[], outModes: number[], inRanks: number[], outRanks: number[]): Case {
  return {
    name: `tucker ${inModes.join('x')} -> ${outModes.join('x')} ranks ${inRanks.join(',')}/${outRanks.join(',')}`,
    make: (rng) => {
      const core = randn(rng, [...inRanks, ...outRanks]);
      const a = inModes.map((n, k) => randn(rng, [n, inRanks[k]!]));
      const b = outModes.map((m, k) => randn(rng, [m, outRanks[k]!]));
      const t = tuckerDenseRef(core, [...a, ...b]);
      return { w: tuckerMatrix(core, a, b), dense: { shape: [prod(inModes), prod(outModes)], data: t.data } };
    },
  };
}

function trCase(inModes: number[], outModes: number[], ranks: number[]): Case {
  return {
    name: `tr ${inModes.join('x')} -> ${outModes.join('x')} ranks ${ranks.join(',')}`,
    make: (rng) => {
      const cores = inModes.map((n, k) => randn(rng, [ranks[k]!, n, outModes[k]!, ranks[k + 1]!]));
      return { w: trMatrix(cores), dense: trMatrixDenseRef(cores) };
    },
  };
}

function btCase(inModes: number[], outModes: number[], ranks: number[], blocks: number): Case {
  return {
    name: `bt ${inModes.join('x')} -> ${outModes.join('x')} ranks ${ranks.join(',')} blocks ${blocks}`,
    make: (rng) => {
      const core = randn(rng, [blocks, ...ranks]);
      const factors = inModes.map((n, k) => randn(rng, [blocks, n, outModes[k]!, ranks[k]!]));
      return { w: btMatrix(core, factors), dense: btMatrixDenseRef(core, factors) };
    },
  };
}

const CASES: Case[] = [
  ttCase([5], [3], [1, 1]),
  ttCase([4, 2], [2, 5], [1, 4, 1]),
  ttCase([2, 3, 2], [3, 2, 2], [1, 3, 2, 1]),
  ttCase([2, 2, 2, 2], [2, 3, 2, 2], [1, 3, 3, 3, 1]),
  cpCase([4, 3], [2, 5], 3, false),
  cpCase([2, 3, 2], [3, 2, 2], 4, true),
  tuckerCase([4, 3], [2, 5], [2, 3], [2, 3]),
  tuckerCase([2, 3, 2], [3, 2, 2], [2, 2, 1], [1, 2, 2]),
  trCase([4, 2], [2, 5], [3, 2, 3]),
  trCase([2, 3, 2], [3, 2, 2], [2, 3, 2, 2]),
  trCase([2, 2, 2, 2], [2, 3, 2, 2], [3, 2, 3, 2, 3]),
  trCase([3, 2], [2, 2], [1, 2, 1]),
  btCase([4, 2], [2, 5], [3, 2], 2),
  btCase([2, 3, 2], [3, 2, 2], [2, 3, 2], 3),
  btCase([2, 2, 2, 2], [2, 3, 2, 2], [2, 1, 3, 2], 2),
  btCase([3, 2], [2, 2], [1, 1], 1),
];

function factorised(x: tf.Tensor2D, w: MatrixFormat): tf.Tensor2D;
function factorised(x: NdArray, w: MatrixFormat<NdArray>): NdArray;
// biome-ignore lint/suspicious/noExplicitAny: one body for both overloads
function factorised(x: any, w: MatrixFormat<any>): any {
  switch (w.kind) {
    case 'tt-matrix':
      return ttMatmul(x, w);
    case 'cp-matrix':
      return cpMatmul(x, w);
    case 'tucker-matrix':
      return tuckerMatmul(x, w);
    case 'tr-matrix':
      return trMatmul(x, w);
    case 'bt-matrix':
      return btMatmul(x, w);
  }
}

const toDense = (w: MatrixFormat): tf.Tensor2D => {
  switch (w.kind) {
    case 'tt-matrix':
      return ttMatrixToDense(w);
    case 'cp-matrix':
      return cpMatrixToDense(w);
    case 'tucker-matrix':
      return tuckerMatrixToDense(w);
    case 'tr-matrix':
      return trMatrixToDense(w);
    case 'bt-matrix':
      return btMatrixToDense(w);
  }
};

/** The factor tensors of a format, in a fixed order, and a way to put replacements back. */
function factorsOf(w: MatrixFormat): { tensors: tf.Tensor[]; rebuild(ts: tf.Tensor[]): MatrixFormat } {
  const def = definitionOf(w);
  return { tensors: def.tensors(w), rebuild: (ts) => def.assemble(w, ts) as MatrixFormat };
}

function disposeFormat(w: MatrixFormat): void {
  tf.dispose(factorsOf(w).tensors);
}

describe('factorised matmul in float64 equals x times the reference dense matrix', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const rng = new Rng(7);
      const { w, dense } = c.make(rng);
      const x = randn(rng, [3, dense.shape[0]!]);
      const y = factorised(x, w);
      const ref = matMulRef(x, dense);
      expect(y.shape).toEqual(ref.shape);
      for (const [i, v] of y.data.entries()) expect(v).toBeCloseTo(ref.data[i]!, 10);
      // A TT-matrix: every way of merging consecutive cores gives the same product.
      if (w.kind === 'tt-matrix') {
        for (const groups of compositions(w.cores.length)) {
          const yg = ttMatmul(x, w, groups);
          for (const [i, v] of yg.data.entries()) expect(v).toBeCloseTo(ref.data[i]!, 10);
        }
      }
    });
  }
});

/** Every split of d consecutive cores into groups. */
function compositions(d: number): number[][] {
  if (d === 0) return [[]];
  const out: number[][] = [];
  for (let first = 1; first <= d; first++) for (const rest of compositions(d - first)) out.push([first, ...rest]);
  return out;
}

describe('views (the layout steps of a staged product)', () => {
  it('unapplyView undoes applyView; groups that do not cover the cores are refused', () => {
    const rng = new Rng(5);
    const w = CASES[2]!.make(rng).w as Extract<MatrixFormat<NdArray>, { kind: 'tt-matrix' }>;
    const staged = ttStages(f64Ops, w);
    let v = randn(rng, [5, 12]);
    for (const stage of staged.stages) {
      const laid = applyView(f64Ops, v, stage.view);
      const back = unapplyView(f64Ops, laid, stage.view, v.shape);
      expect(back.shape).toEqual(v.shape);
      expect([...back.data]).toEqual([...v.data]);
      v = f64Ops.matMul(laid, stage.matrix);
    }
    expect(staged.stages.some((st) => st.view.some((op) => 'transpose' in op))).toBe(true);
    expect(() => ttStages(f64Ops, w, [1, 1])).toThrow(
      /groups must be positive integers that sum to the number of cores \(3\), got \[1, 1\]/,
    );
    expect(() => ttStages(f64Ops, w, [0, 3])).toThrow(/groups must be positive integers/);
  });

  it('inverseView is the view unapplyView applies: back to the input, for permutations that are not their own inverse', () => {
    const rng = new Rng(6);
    const x = randn(rng, [4, 30]);
    const view = [
      { reshape: [-1, 2, 3, 5] },
      { transpose: [0, 2, 3, 1] },
      { reshape: [-1, 10] },
      { transpose: [1, 0] },
    ] as const;
    const laid = applyView(f64Ops, x, view);
    const inverse = inverseView(view, x.shape);
    expect(inverse).toEqual([
      { transpose: [1, 0] },
      { reshape: [4, 3, 5, 2] },
      { transpose: [0, 3, 1, 2] },
      { reshape: [4, 30] },
    ]);
    const back = applyView(f64Ops, laid, inverse);
    expect(back.shape).toEqual(x.shape);
    expect([...back.data]).toEqual([...x.data]);
    expect([...unapplyView(f64Ops, laid, view, x.shape).data]).toEqual([...x.data]);
  });
});

describeEachBackend('factorised matmul', (ctx) => {
  for (const c of CASES) {
    for (const batch of [1, 3, 8]) {
      it(`${c.name}, B = ${batch}: rebuild, contraction, both prepared paths and the planner agree with the reference`, async () => {
        const rng = new Rng(11 + batch);
        const { w: w64, dense } = c.make(rng);
        const x64 = randn(rng, [batch, dense.shape[0]!]);
        const ref = matMulRef(x64, dense);
        const w = convertFormat(w64, 'tensor');
        const x = toTensor(x64) as tf.Tensor2D;
        const scale = Math.max(...ref.data.map(Math.abs));
        const opts = { rtol: ctx.tol * 10, atol: ctx.tol * 10 * scale };
        await expectNoLeak(() => {
          const outputs = [toDense(w), matrixToDense(w)];
          expectClose(outputs[0]!, dense.data, {
            rtol: ctx.tol * 10,
            atol: ctx.tol * 10 * Math.max(...dense.data.map(Math.abs)),
          });
          expectClose(outputs[1]!, outputs[0]!, { rtol: 0, atol: 0 });
          const ys = [factorised(x, w), plannedMatmul(x, w)];
          for (const path of ['factorised', 'rebuild'] as const) {
            const prepared = prepareMatmul(w, path);
            ys.push(prepared.apply(x), prepared.apply(x));
            prepared.dispose();
          }
          if (w.kind === 'tt-matrix' || w.kind === 'tr-matrix' || w.kind === 'bt-matrix') {
            // A ring needs two groups at least (one group would be its trace); a Block-Term product
            // splits after its first group.
            const d = w.inModes.length;
            const all = compositions(d).filter((g) => w.kind === 'tt-matrix' || (g.length >= 2 && g[0]! < d));
            for (const groups of all) {
              const prepared = prepareMatmul(w, 'factorised', { groups });
              expect(prepared.groups).toEqual(groups);
              ys.push(prepared.apply(x));
              prepared.dispose();
            }
          }
          for (const y of ys) expectClose(y, ref.data, opts);
          tf.dispose([...outputs, ...ys]);
        });
        tf.dispose(x);
        disposeFormat(w);
      });
    }
  }

  for (const c of [CASES[3]!, CASES[5]!, CASES[7]!, CASES[9]!, CASES[10]!, CASES[13]!, CASES[14]!]) {
    it(`${c.name}: gradients w.r.t. every factor match central finite differences`, async () => {
      const rng = new Rng(3);
      const { w: w64, dense } = c.make(rng);
      const batch = 2;
      const x = toTensor(randn(rng, [batch, dense.shape[0]!])) as tf.Tensor2D;
      const probe = toTensor(randn(rng, [batch, dense.shape[1]!]));
      const w = convertFormat(w64, 'tensor');
      const { tensors, rebuild } = factorsOf(w);
      // L = sum(y * probe) is linear in each factor, so central differences are exact up to rounding.
      const loss = (ts: tf.Tensor[]): tf.Scalar => tf.sum(tf.mul(factorised(x, rebuild(ts)), probe));
      await expectNoLeak(() => {
        const grads = tf.grads((...ts: tf.Tensor[]) => loss(ts))(tensors);
        tensors.forEach((t, k) => {
          const fd = finiteDifferences((v) => loss(tensors.map((u, j) => (j === k ? v : u))), t, 1e-2);
          const scale = Math.max(1, ...fd.map(Math.abs));
          expectClose(grads[k]!, fd, { rtol: 1e-2, atol: 1e-2 * scale });
        });
        tf.dispose(grads);
      });
      tf.dispose([x, probe]);
      disposeFormat(w);
    });
  }

  it('TT with cores merged in groups (2, 2) and (1, 3), batch 2 and 1 (two groups at batch 1: no transpose): gradients match central finite differences', async () => {
    const rng = new Rng(9);
    const { w: w64, dense } = CASES[3]!.make(rng);
    const w = convertFormat(w64, 'tensor');
    const { tensors, rebuild } = factorsOf(w);
    for (const [groups, batch] of [
      [[2, 2], 2],
      [[1, 3], 2],
      [[2, 2], 1],
      [[1, 3], 1],
    ] as const) {
      const x = toTensor(randn(rng, [batch, dense.shape[0]!])) as tf.Tensor2D;
      const probe = toTensor(randn(rng, [batch, dense.shape[1]!]));
      const loss = (ts: tf.Tensor[]): tf.Scalar =>
        tf.tidy(() => {
          const prepared = prepareMatmul(rebuild(ts), 'factorised', { groups });
          return tf.sum(tf.mul(prepared.apply(x), probe));
        });
      await expectNoLeak(() => {
        const grads = tf.grads((...ts: tf.Tensor[]) => loss(ts))(tensors);
        tensors.forEach((t, k) => {
          const fd = finiteDifferences((v) => loss(tensors.map((u, j) => (j === k ? v : u))), t, 1e-2);
          expectClose(grads[k]!, fd, { rtol: 1e-2, atol: 1e-2 * Math.max(1, ...fd.map(Math.abs)) });
        });
        tf.dispose(grads);
      });
      tf.dispose([x, probe]);
    }
    disposeFormat(w);
  });

  it('TT in two merged cores, CP and Tucker (two plain factors) at batch 1, outside a tape: one TensorizedMatMulPair kernel where the backend has it, the op-by-op sums bit for bit, the float64 reference', async () => {
    const rng = new Rng(12);
    // The paper's hidden-to-gates shape (512 -> 1536) with small ranks, and an odd one; CP (weighted
    // too) and Tucker, whose prepared products are their two bottleneck factors.
    const cases: Array<[Case, PrepareOptions]> = [
      [ttCase([8, 4, 4, 4], [12, 8, 4, 4], [1, 3, 5, 3, 1]), { groups: [2, 2] }],
      [ttCase([3, 5, 2], [4, 2, 6], [1, 2, 3, 1]), { groups: [1, 2] }],
      [cpCase([8, 4, 4, 4], [12, 8, 4, 4], 6, false), {}],
      [cpCase([3, 5, 2], [4, 2, 6], 4, true), {}],
      [tuckerCase([4, 3], [2, 5], [2, 3], [2, 3]), {}],
    ];
    for (const [spec, options] of cases) {
      const c = spec.make(rng);
      const w = convertFormat(c.w, 'tensor');
      const prepared = prepareMatmul(w, 'factorised', options);
      // A TT-matrix by its batch-1 form; CP and Tucker as their two stages.
      if (prepared.tt) expect(prepared.batchOne).toBeDefined();
      else expect(prepared.stages.map((st) => st.view.length)).toEqual([0, 0]);
      const x64 = randn(rng, [1, c.dense.shape[0]!]);
      const x = toTensor(x64) as tf.Tensor2D;
      const kernel = tf.getKernel(MATMUL_PAIR_KERNEL, tf.getBackend());
      // @tensorized/backends (imported by the test utilities) registers it for these two.
      if (['cpu', 'wasm'].includes(tf.getBackend())) expect(kernel).toBeDefined();
      const y = await expectNoLeak(() => prepared.apply(x), 1);
      const profile = await tf.profile(() => prepared.apply(x));
      expect(profile.kernels.map((k) => k.name)).toEqual(
        kernel
          ? [MATMUL_PAIR_KERNEL]
          : prepared.tt
            ? ['Reshape', 'BatchMatMul', 'Reshape', 'BatchMatMul', 'Reshape']
            : ['BatchMatMul', 'BatchMatMul'],
      );
      tf.dispose(profile.result as tf.Tensor);
      expect(y.shape).toEqual([1, c.dense.shape[1]]);
      expectClose(y, matMulRef(x64, c.dense).data);
      if (kernel) {
        tf.unregisterKernel(MATMUL_PAIR_KERNEL, tf.getBackend());
        try {
          const ops = prepared.apply(x);
          expect(Array.from(y.dataSync())).toEqual(Array.from(ops.dataSync()));
          tf.dispose(ops);
        } finally {
          tf.registerKernel(kernel);
        }
      }
      // With a bias: x W + bias, the same sums as adding it after (one kernel still, where there is one).
      const bias = toTensor(randn(rng, [c.dense.shape[1]!])) as tf.Tensor1D;
      const withBias = await expectNoLeak(() => prepared.apply(x, bias), 1);
      const added = tf.add(y, bias);
      expect(Array.from(withBias.dataSync())).toEqual(Array.from(added.dataSync()));
      const biased = await tf.profile(() => prepared.apply(x, bias));
      if (kernel) expect(biased.kernels.map((k) => k.name)).toEqual([MATMUL_PAIR_KERNEL]);
      tf.dispose([biased.result as tf.Tensor, withBias, added]);
      const short = tf.zeros([3]) as tf.Tensor1D;
      expect(() => prepared.apply(x, short)).toThrow(
        new RegExp(`PreparedMatmul.apply: bias must have shape \\[${c.dense.shape[1]}\\].*got \\[3\\]`),
      );
      // Under a tape the products run op by op and differentiate, the bias too.
      const gb = tf.grad((b: tf.Tensor) => tf.sum(prepared.apply(x, b as tf.Tensor1D)))(bias);
      expect(Array.from(gb.dataSync())).toEqual(new Array(c.dense.shape[1]!).fill(1));
      tf.dispose([bias, short, gb]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(prepared.apply(v as tf.Tensor2D)))(x);
      const rowSums = tf.tidy(() => tf.sum(matrixToDense(w), 1));
      expectClose(g, rowSums.dataSync());
      tf.dispose([x, y, g, rowSums]);
      prepared.dispose();
      disposeFormat(w);
    }
  });

  it('rejects an input whose width is not the product of the input modes', () => {
    const w = convertFormat(CASES[2]!.make(new Rng(1)).w, 'tensor');
    const x = tf.zeros([2, 11]) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    expect(() => factorised(x, w)).toThrow(
      /ttMatmul: x must have shape \[B, 12\].*got \[2,11\]|ttMatmul: x must have shape \[B, 12\]/,
    );
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(x);
    disposeFormat(w);
  });
});

describeEachBackend('bad input to the matmuls (issue 11, item 7)', () => {
  it('a disposed x gets an error that says so, not a TypeError', () => {
    const w = ttMatrixInit({ inModes: [2, 3], outModes: [3, 2], ranks: [1, 2, 1] });
    const x = tf.ones([4, 6]) as tf.Tensor2D;
    x.dispose();
    expect(() => plannedMatmul(x, w)).toThrow(/plannedMatmul: x has been disposed/);
    tf.dispose([...w.cores]);
  });
});
