import { describe, expect, it } from 'vitest';
import {
  compressMatrix,
  cpMatrixParamCount,
  DecompError,
  type NdArray,
  relativeError,
  Rng,
  ttMatrixParamCount,
  tuckerMatrixParamCount,
  trMatrixFromDense,
  trMatrixParamCount,
  trMatrixToDense,
  btMatrixFromDense,
  btMatrixParamCount,
  btMatrixToDense,
} from '../index.js';
import {
  btMatrixDenseRef,
  cpMatrixDenseRef,
  randn,
  trMatrixDenseRef,
  ttMatrixDenseRef,
  tuckerDenseRef,
} from '../../test/reference.js';

// W of 12 x 18 as inModes (2, 3, 2) x outModes (3, 2, 3).
const inModes = [2, 3, 2];
const outModes = [3, 2, 3];
const rng = new Rng(7);

/** A Tucker-matrix reference: the 2d-way Tucker tensor of shape (n..., m...) seen as (N x M). */
function tuckerMatrixRef(core: NdArray, inF: NdArray[], outF: NdArray[]): NdArray {
  const t = tuckerDenseRef(core, [...inF, ...outF]);
  return { shape: [12, 18], data: t.data };
}

describe('compressMatrix recovers matrices that are exactly of the target format and ranks', () => {
  it('TT: ranks (1, 2, 3, 1), from the cores of the definition', () => {
    const cores = [randn(rng, [1, 2, 3, 2]), randn(rng, [2, 3, 2, 3]), randn(rng, [3, 2, 3, 1])];
    const w = ttMatrixDenseRef(cores);
    const { report } = compressMatrix(w, { format: 'tt', inModes, outModes, ranks: [1, 2, 3, 1] });
    expect(report.relativeError).toBeLessThan(1e-12);
    expect(report.ranks).toEqual([1, 2, 3, 1]);
    expect(report.params).toBe(ttMatrixParamCount({ inModes, outModes, ranks: [1, 2, 3, 1] }));
  });

  it('CP: rank 3, from factors of the definition', () => {
    const inF = inModes.map((n) => randn(rng, [n, 3]));
    const outF = outModes.map((m) => randn(rng, [m, 3]));
    const w = cpMatrixDenseRef(inF, outF);
    const { report } = compressMatrix(w, { format: 'cp', inModes, outModes, rank: 3, maxIter: 500, tol: 1e-14 });
    expect(report.relativeError).toBeLessThan(1e-6);
    expect(report.params).toBe(cpMatrixParamCount({ inModes, outModes, rank: 3 }));
  });

  it('Tucker: input ranks (1, 2, 2), output ranks (2, 1, 2), from a core and factors of the definition', () => {
    const inR = [1, 2, 2];
    const outR = [2, 1, 2];
    const core = randn(rng, [...inR, ...outR]);
    const w = tuckerMatrixRef(
      core,
      inModes.map((n, k) => randn(rng, [n, inR[k]!])),
      outModes.map((m, k) => randn(rng, [m, outR[k]!])),
    );
    const { report } = compressMatrix(w, { format: 'tucker', inModes, outModes, ranks: [...inR, ...outR] });
    expect(report.relativeError).toBeLessThan(1e-12);
    expect(report.params).toBe(tuckerMatrixParamCount({ inModes, outModes, inRanks: inR, outRanks: outR }));
  });
});

describe('TR-SVD (trMatrixFromDense)', () => {
  for (const ranks of [
    [2, 3, 2, 2],
    [3, 2, 2, 3],
    [1, 2, 3, 1],
  ]) {
    it(`recovers a ring of ranks (${ranks.join(', ')}) built from the definition to 1e-10`, () => {
      const cores = inModes.map((n, k) => randn(rng, [ranks[k]!, n, outModes[k]!, ranks[k + 1]!]));
      const w = trMatrixDenseRef(cores);
      const m = trMatrixFromDense(w, { inModes, outModes });
      expect(relativeError(trMatrixToDense(m), w)).toBeLessThan(1e-10);
      // The ring it finds closes, and its first unfolding needs no more than r_0 r_1.
      expect(m.ranks[0]).toBe(m.ranks[3]);
      expect(m.ranks[0]! * m.ranks[1]!).toBeLessThanOrEqual(ranks[0]! * ranks[1]! + 1);
      const { report } = compressMatrix(w, { format: 'tr', inModes, outModes, eps: 1e-12 });
      expect(report.relativeError).toBeLessThan(1e-10);
      expect(report.params).toBe(trMatrixParamCount({ inModes, outModes, ranks: report.ranks }));
      // With exactly the generator's ranks, TR-SVD's split of r_0 r_1 may miss; the ALS sweeps only
      // lower the error (each sweep is a least-squares fit), started from every cut of the ring.
      const svdOnly = compressMatrix(w, { format: 'tr', inModes, outModes, ranks, maxIter: 0 });
      const fixed = compressMatrix(w, { format: 'tr', inModes, outModes, ranks, maxIter: 300, tol: 1e-14 });
      expect(fixed.report.ranks).toEqual(ranks);
      expect(fixed.report.relativeError).toBeLessThanOrEqual(svdOnly.report.relativeError + 1e-12);
      expect(fixed.report.relativeError).toBeLessThan(1e-5);
    });
  }

  it('with d = 2, and with ranks given: the ranks asked for (r_0 exactly, the others at most)', () => {
    const cores = [randn(rng, [2, 4, 3, 3]), randn(rng, [3, 3, 6, 2])];
    const w = trMatrixDenseRef(cores);
    const exact = trMatrixFromDense(w, { inModes: [4, 3], outModes: [3, 6] });
    expect(relativeError(trMatrixToDense(exact), w)).toBeLessThan(1e-10);
    const capped = trMatrixFromDense(w, { inModes: [4, 3], outModes: [3, 6], ranks: [2, 3, 2] });
    expect(capped.ranks).toEqual([2, 3, 2]);
    expect(relativeError(trMatrixToDense(capped), w)).toBeLessThan(1e-10);
  });

  it('keeps the error within eps on a matrix of full rank', () => {
    const w = randn(new Rng(8), [12, 18]);
    for (const eps of [0.1, 0.3, 0.6]) {
      const m = trMatrixFromDense(w, { inModes, outModes, eps });
      expect(relativeError(trMatrixToDense(m), w)).toBeLessThanOrEqual(eps + 1e-12);
    }
    expect(() => trMatrixFromDense(w, { inModes: [12], outModes: [18] })).toThrow(/d >= 2/);
  });
});

describe('Block-Term fit (btMatrixFromDense)', () => {
  it('recovers a sum of 2 blocks of ranks (2, 2, 2) built from the definition', () => {
    const ranks = [2, 2, 2];
    // Its own generator: the blocks' draw decides how long the sweeps take (some draws crawl).
    const own = new Rng(3);
    const core = randn(own, [2, ...ranks]);
    const factors = inModes.map((n, k) => randn(own, [2, n, outModes[k]!, ranks[k]!]));
    const w = btMatrixDenseRef(core, factors);
    // The sweeps converge linearly (block ALS has swamps): exact recovery takes many cheap ones.
    const fit = btMatrixFromDense(w, { inModes, outModes, ranks, blocks: 2, maxIter: 1500, innerIter: 2, tol: 0 });
    expect(fit.relativeError).toBeLessThan(1e-8);
    expect(relativeError(btMatrixToDense(fit.matrix), w)).toBeLessThan(1e-8);
    const { report } = compressMatrix(w, { format: 'bt', inModes, outModes, ranks, blocks: 2 });
    expect(report.ranks).toEqual([2, 2, 2, 2]);
    expect(report.params).toBe(btMatrixParamCount({ inModes, outModes, ranks, blocks: 2 }));
  });

  it('one block is the HOOI of the merged-mode tensor; more blocks never fit worse', () => {
    const w = randn(new Rng(9), [12, 18]);
    const errs = [1, 2, 3].map(
      (blocks) => btMatrixFromDense(w, { inModes, outModes, ranks: [2, 2, 2], blocks }).relativeError,
    );
    expect(errs[1]!).toBeLessThanOrEqual(errs[0]! + 1e-12);
    expect(errs[2]!).toBeLessThanOrEqual(errs[1]! + 1e-12);
    const budget = compressMatrix(w, { format: 'bt', inModes, outModes, budget: 300 });
    expect(budget.report.params).toBeLessThanOrEqual(300);
    expect(() => compressMatrix(w, { format: 'tt', inModes, outModes, ranks: [1, 2, 2, 1], blocks: 2 })).toThrow(
      /blocks applies to format 'bt' with ranks only/,
    );
    expect(() => compressMatrix(w, { format: 'bt', inModes, outModes, ranks: [2, 2, 2], blocks: 0 })).toThrow(
      /blocks must be a positive integer, got 0/,
    );
  });
});

describe('compressMatrix with a budget', () => {
  const w = randn(new Rng(3), [12, 18]);
  for (const format of ['tt', 'cp', 'tucker'] as const) {
    it(`${format}: never exceeds the budget, and returns the lowest error among what it tried`, () => {
      for (const budget of [60, 120, 200]) {
        const { report } = compressMatrix(w, { format, inModes, outModes, budget, maxIter: 50 });
        expect(report.params).toBeLessThanOrEqual(budget);
        const within = report.tried.filter((t) => t.params <= budget);
        expect(report.relativeError).toBe(Math.min(...within.map((t) => t.relativeError)));
      }
    });
  }

  it('TT and CP: the search covers every configuration of its space, so it finds the brute-force best', () => {
    const budget = 150;
    // Brute force over uniform TT ranks and over CP ranks.
    let bestTt = Infinity;
    for (let r = 1; r <= 6; r++) {
      const ranks = [1, Math.min(r, 6), Math.min(r, 6), 1];
      if (ttMatrixParamCount({ inModes, outModes, ranks }) > budget) continue;
      bestTt = Math.min(bestTt, compressMatrix(w, { format: 'tt', inModes, outModes, ranks }).report.relativeError);
    }
    expect(compressMatrix(w, { format: 'tt', inModes, outModes, budget }).report.relativeError).toBe(bestTt);
    const rMax = Math.floor(budget / 15);
    const cpBrute = compressMatrix(w, { format: 'cp', inModes, outModes, rank: rMax, maxIter: 50 }).report
      .relativeError;
    expect(
      compressMatrix(w, { format: 'cp', inModes, outModes, budget, maxIter: 50 }).report.relativeError,
    ).toBeLessThanOrEqual(cpBrute);
  });

  it('Tucker: within 10% of the brute-force best error over every rank tuple that fits', () => {
    const budget = 120;
    const modes = [...inModes, ...outModes];
    let brute = Infinity;
    const ranks = new Array(6).fill(1);
    const visit = (k: number): void => {
      if (k === 6) {
        const reachable = ranks.every((r, k) => r <= ranks.reduce((p, x, j) => (j === k ? p : p * x), 1));
        if (
          reachable &&
          tuckerMatrixParamCount({ inModes, outModes, inRanks: ranks.slice(0, 3), outRanks: ranks.slice(3) }) <= budget
        ) {
          brute = Math.min(
            brute,
            compressMatrix(w, { format: 'tucker', inModes, outModes, ranks: [...ranks] }).report.relativeError,
          );
        }
        return;
      }
      for (let r = 1; r <= modes[k]!; r++) {
        ranks[k] = r;
        visit(k + 1);
      }
    };
    visit(0);
    const searched = compressMatrix(w, { format: 'tucker', inModes, outModes, budget }).report.relativeError;
    expect(searched).toBeLessThanOrEqual(brute * 1.1);
  });

  it('reports the time, and the matrix rebuilds to the reported error', () => {
    const { matrix, report } = compressMatrix(w, { format: 'tt', inModes, outModes, budget: 100 });
    expect(report.seconds).toBeGreaterThan(0);
    expect(matrix.kind).toBe('tt-matrix');
    expect(report.relativeError).toBeGreaterThan(0);
    expect(relativeError(w, w)).toBe(0);
  });
});

describe('compressMatrix bad input', () => {
  const w = randn(new Rng(4), [12, 18]);
  it.each<[string, Record<string, unknown>, RegExp]>([
    [
      'a budget below the smallest configuration',
      { format: 'tt', budget: 5 },
      /budget 5 is below the smallest tt configuration for modes \[2, 3, 2\] x \[3, 2, 3\] \(18 parameters\)/,
    ],
    [
      'modes that do not multiply to the sizes',
      { format: 'cp', rank: 2, inModes: [2, 2, 2] },
      /inModes \[2, 2, 2\] multiply to 8, expected 12/,
    ],
    [
      'two targets',
      { format: 'cp', rank: 2, budget: 100 },
      /give exactly one of ranks, rank, eps or budget, got rank, budget/,
    ],
    ['no target', { format: 'tt' }, /got none/],
    [
      'a target of another format',
      { format: 'cp', eps: 0.1 },
      /eps does not apply to format 'cp' \(it takes rank, budget\)/,
    ],
    ['an unknown format', { format: 'svd', rank: 2 }, /format must be 'tt', 'cp', 'tucker', 'tr' or 'bt', got "svd"/],
    [
      'TR ranks that do not close the ring',
      { format: 'tr', ranks: [2, 2, 2, 3] },
      /TR ranks must be d \+ 1 = 4 numbers with r_0 = r_d \(the ring closes\), got \[2, 2, 2, 3\]/,
    ],
    [
      'a Tucker rank above its mode',
      { format: 'tucker', ranks: [3, 3, 2] },
      /Tucker rank 3 \(position 0\) exceeds its mode size 2/,
    ],
    [
      'unreachable Tucker ranks',
      { format: 'tucker', ranks: [2, 1, 1, 1, 1, 1] },
      /Tucker rank 2 \(position 0\) exceeds the product of the other ranks/,
    ],
  ])('%s is a DecompError naming the argument', (_, extra, message) => {
    expect(() => compressMatrix(w, { inModes, outModes, ...extra } as never)).toThrow(message);
    expect(() => compressMatrix(w, { inModes, outModes, ...extra } as never)).toThrow(DecompError);
  });
  it('a NaN in the matrix is refused', () => {
    const bad = { shape: [12, 18], data: Float64Array.from(w.data) };
    bad.data[5] = Number.NaN;
    expect(() => compressMatrix(bad, { format: 'tt', inModes, outModes, budget: 100 })).toThrow(/x.* NaN|finite/);
  });
});
