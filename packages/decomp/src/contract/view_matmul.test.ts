import { describe, expect, it } from 'vitest';
import type { NdArray } from '../ndarray.js';
import { f64Ops, type Ops } from '../ops.js';
import { Rng } from '../random.js';
import { applyView, type ViewOp, viewThenMatMul } from './tt.js';

/** Counts the transposes and products an Ops runs, computing with f64Ops. */
function counting(): { ops: Ops<NdArray>; transposes: () => number; transposedProducts: () => number } {
  let transposes = 0;
  let transposedProducts = 0;
  const ops: Ops<NdArray> = {
    ...f64Ops,
    transpose: (x, perm) => {
      transposes++;
      return f64Ops.transpose(x, perm);
    },
    matMul: (a, b, ta = false, tb = false) => {
      if (ta) transposedProducts++;
      return f64Ops.matMul(a, b, ta, tb);
    },
  };
  return { ops, transposes: () => transposes, transposedProducts: () => transposedProducts };
}

describe('viewThenMatMul', () => {
  const rng = new Rng(3);
  const cases: Array<[string, number[], ViewOp[], number, boolean]> = [
    // [name, x shape, view, matrix columns, folds]
    [
      'batch 1, two blocks swapped',
      [1, 12],
      [{ reshape: [1, 3, 4] }, { transpose: [2, 0, 1] }, { reshape: [4, 3] }],
      5,
      true,
    ],
    [
      'batch 1, unit axes between',
      [1, 24],
      [{ reshape: [1, 2, 1, 3, 4] }, { transpose: [3, 4, 2, 0, 1] }, { reshape: [12, 2] }],
      3,
      true,
    ],
    [
      'batch 2, the batch in the moved block (still a matrix transpose)',
      [2, 12],
      [{ reshape: [2, 3, 4] }, { transpose: [2, 0, 1] }, { reshape: [4, 6] }],
      5,
      true,
    ],
    [
      'batch 2, the inner axes swapped per batch row (not one)',
      [2, 12],
      [{ reshape: [2, 3, 4] }, { transpose: [0, 2, 1] }, { reshape: [8, 3] }],
      5,
      false,
    ],
    [
      'three blocks permuted',
      [1, 24],
      [{ reshape: [2, 3, 4] }, { transpose: [1, 0, 2] }, { reshape: [3, 8] }],
      2,
      false,
    ],
    ['no transpose', [3, 8], [{ reshape: [6, 4] }], 2, false],
  ];
  it.each(cases)('%s: equals applyView then matMul', (_, shape, view, cols, folds) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const x: NdArray = { shape, data: rng.normalArray(size) };
    const laid = applyView(f64Ops, x, view);
    const m: NdArray = { shape: [laid.shape[1]!, cols], data: rng.normalArray(laid.shape[1]! * cols) };
    const expected = f64Ops.matMul(laid, m);
    const c = counting();
    const got = viewThenMatMul(c.ops, x, view, m);
    expect(got.shape).toEqual(expected.shape);
    for (let i = 0; i < got.data.length; i++) expect(got.data[i]).toBeCloseTo(expected.data[i]!, 12);
    expect(c.transposedProducts()).toBe(folds ? 1 : 0);
    expect(c.transposes()).toBe(folds ? 0 : view.filter((op) => 'transpose' in op).length);
  });
});
