import { describe, expect, it } from 'vitest';
import {
  cpAls,
  cpToDense,
  cpTensor,
  DecompError,
  frobeniusNorm,
  type NdArray,
  relativeError,
  Rng,
  ttMatrixFromDense,
  ttMatrixToDense,
  ttRound,
  ttSvd,
  ttTensor,
  ttToDense,
  tuckerHooi,
  tuckerHosvd,
  tuckerToDense,
  svd,
} from '../index.js';
import { cpMatrixDenseRef, prod, randn, ttMatrixDenseRef, tuckerDenseRef } from '../../test/reference.js';

/** A dense tensor of exactly the given TT ranks (with probability one). */
function randomTt(rng: Rng, shape: number[], ranks: number[]): NdArray {
  const cores = shape.map((n, k) => randn(rng, [ranks[k]!, n, 1, ranks[k + 1]!]));
  return { shape, data: ttMatrixDenseRef(cores).data };
}

describe('ttSvd', () => {
  it('recovers random exactly-low-rank TT tensors to 1e-8 with the true ranks', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const ranks = [1, 3, 4, 2, 1];
      const x = randomTt(rng, [4, 5, 6, 3], ranks);
      const tt = ttSvd(x, { eps: 1e-10 });
      expect(tt.ranks).toEqual(ranks);
      expect(relativeError(ttToDense(tt), x)).toBeLessThan(1e-8);
    }
  });

  it('keeps ||X - X_hat||_F <= eps ||X||_F on random full-rank tensors', () => {
    const rng = new Rng(5);
    const x = randn(rng, [6, 7, 5, 6]);
    let previousRanks = Infinity;
    for (const eps of [0.02, 0.1, 0.3, 0.6]) {
      const tt = ttSvd(x, { eps });
      const err = relativeError(ttToDense(tt), x);
      expect(err).toBeLessThanOrEqual(eps);
      const total = tt.ranks.reduce((a, b) => a + b, 0);
      expect(total).toBeLessThanOrEqual(previousRanks);
      previousRanks = total;
    }
  });

  it('where nothing is truncated, skips the SVDs: full ranks, exact, orthonormal on both sides', () => {
    // Bonds: 4 x 360 and 20 x 72 (wide: identity cores), 240 x 6 and 1440 x 2 (tall: the rest is the
    // centre core, identities after it).
    const shape = [4, 5, 12, 3, 2];
    const x = randn(new Rng(21), shape);
    const tt = ttSvd(x);
    const full = shape.map((_, k) => Math.min(prod(shape.slice(0, k)), prod(shape.slice(k))));
    expect(tt.ranks).toEqual([...full, 1]);
    expect(relativeError(ttToDense(tt), x)).toBeLessThan(1e-14);
    // Left of the centre: left-orthonormal cores (sum over r_{k-1}, n_k of C C^T = I); right of it:
    // right-orthonormal (sum over n_k, r_k of C C^T = I on r_{k-1}).
    const gramOf = (c: NdArray, left: boolean): number => {
      const [r0, n, r1] = c.shape as [number, number, number];
      let dev = 0;
      const size = left ? r1 : r0;
      for (let a = 0; a < size; a++)
        for (let b = 0; b < size; b++) {
          let s = 0;
          for (let i = 0; i < (left ? r0 * n : n * r1); i++)
            s += left ? c.data[i * r1 + a]! * c.data[i * r1 + b]! : c.data[a * n * r1 + i]! * c.data[b * n * r1 + i]!;
          dev = Math.max(dev, Math.abs(s - (a === b ? 1 : 0)));
        }
      return dev;
    };
    expect(gramOf(tt.cores[0]!, true)).toBeLessThan(1e-14);
    expect(gramOf(tt.cores[1]!, true)).toBeLessThan(1e-14);
    expect(gramOf(tt.cores[3]!, false)).toBeLessThan(1e-14);
    expect(gramOf(tt.cores[4]!, false)).toBeLessThan(1e-14);
    // A cap on a later bond still cuts there (the shortcut would have kept it full).
    const capped = ttSvd(x, { maxRank: [100, 100, 100, 1] });
    expect(capped.ranks).toEqual([1, 4, 20, 6, 1, 1]);
    expect(relativeError(ttToDense(capped), x)).toBeLessThan(1);
    // An unfolding with a singular value below the threshold is truncated as by the SVD: scale the
    // last slice of the last mode down to 1e-14 of the rest: bond 4 (1440 x 2) then has rank 1 and
    // bond 3 (240 x (3 x 2)) rank 3.
    const y = { shape, data: Float64Array.from(x.data, (v, i) => (i % 2 === 1 ? v * 1e-14 : v)) };
    const cut = ttSvd(y, { eps: 1e-12 });
    expect(cut.ranks).toEqual([1, 4, 20, 3, 1, 1]);
    expect(relativeError(ttToDense(cut), y)).toBeLessThan(1e-12);
  });

  it('honours maxRank, alone or per bond', () => {
    const x = randn(new Rng(9), [5, 6, 7]);
    expect(ttSvd(x, { maxRank: 3 }).ranks).toEqual([1, 3, 3, 1]);
    expect(ttSvd(x, { maxRank: [2, 4] }).ranks).toEqual([1, 2, 4, 1]);
  });

  it('rejects bad input with a clear error', () => {
    const x = randn(new Rng(1), [3, 4]);
    expect(() => ttSvd(x, { eps: 1.5 })).toThrow(/ttSvd: eps must be a number in \[0, 1\), got 1.5/);
    expect(() => ttSvd(x, { maxRank: 0 })).toThrow(/ttSvd: maxRank must be positive integers/);
    expect(() => ttSvd(x, { maxRank: [1, 2] })).toThrow(/one per inner bond/);
    const bad = { shape: [2, 2], data: Float64Array.from([1, NaN, 3, 4]) };
    expect(() => ttSvd(bad)).toThrow(DecompError);
    expect(() => ttSvd(bad)).toThrow(/ttSvd: x must be finite, found NaN at flat index 1/);
  });
});

describe('ttRound', () => {
  it('brings an over-ranked TT back to its true ranks without losing accuracy', () => {
    const rng = new Rng(4);
    const ranks = [1, 2, 3, 2, 1];
    const shape = [3, 4, 5, 3];
    const x = randomTt(rng, shape, ranks);
    // Pad the ranks: the same tensor written with cores of ranks (1, 5, 6, 4, 1).
    const exact = ttSvd(x, { eps: 1e-12 });
    const padded = exact.cores.map((c, k) => {
      const [r0, n, r1] = c.shape as number[];
      const p0 = k === 0 ? 1 : r0! + 3;
      const p1 = k === shape.length - 1 ? 1 : r1! + 3;
      const data = new Float64Array(p0 * n! * p1);
      for (let a = 0; a < r0!; a++)
        for (let i = 0; i < n!; i++)
          for (let b = 0; b < r1!; b++) data[(a * n! + i) * p1 + b] = c.data[(a * n! + i) * r1! + b]!;
      return { shape: [p0, n!, p1], data };
    });
    const rounded = ttRound(ttTensor(padded), { eps: 1e-10 });
    expect(rounded.ranks).toEqual(ranks);
    expect(relativeError(ttToDense(rounded), x)).toBeLessThan(1e-8);
  });

  it('keeps the eps bound and maxRank', () => {
    const x = randn(new Rng(8), [5, 6, 5, 4]);
    const tt = ttSvd(x);
    for (const eps of [0.05, 0.2, 0.5]) {
      const r = ttRound(tt, { eps });
      expect(relativeError(ttToDense(r), x)).toBeLessThanOrEqual(eps);
    }
    expect(Math.max(...ttRound(tt, { maxRank: 2 }).ranks)).toBe(2);
  });
});

describe('ttMatrixFromDense', () => {
  it('recovers a TT-matrix from its dense matrix', () => {
    const rng = new Rng(12);
    const cores = [randn(rng, [1, 4, 2, 3]), randn(rng, [3, 2, 3, 2]), randn(rng, [2, 3, 2, 1])];
    const w = ttMatrixDenseRef(cores);
    const tt = ttMatrixFromDense(w, { inModes: [4, 2, 3], outModes: [2, 3, 2], eps: 1e-10 });
    expect(tt.ranks).toEqual([1, 3, 2, 1]);
    expect(tt.inModes).toEqual([4, 2, 3]);
    expect(relativeError(ttMatrixToDense(tt), w)).toBeLessThan(1e-8);
  });

  it('names the modes that do not fit', () => {
    const w = randn(new Rng(1), [24, 12]);
    expect(() => ttMatrixFromDense(w, { inModes: [4, 5], outModes: [3, 4] })).toThrow(
      /ttMatrixFromDense: inModes \[4, 5\] multiply to 20, expected 24/,
    );
    expect(() => ttMatrixFromDense(w, { inModes: [4, 6], outModes: [12] })).toThrow(/same length/);
  });
});

describe('cpAls', () => {
  it('recovers random rank-3 CP tensors below 1e-4 in at least 4 of 5 seeds', () => {
    let recovered = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = new Rng(100 + seed);
      const factors = [6, 7, 8].map((n) => randn(rng, [n, 3]));
      const x = cpToDense(cpTensor(factors));
      const result = cpAls(x, { rank: 3, seed, init: seed % 2 ? 'svd' : 'random' });
      expect(result.relativeError).toBeCloseTo(relativeError(cpToDense(result.cp), x), 12);
      if (result.relativeError < 1e-4) recovered++;
    }
    expect(recovered).toBeGreaterThanOrEqual(4);
  });

  it('reports non-convergence as a flag, not an exception', () => {
    const x = randn(new Rng(3), [5, 6, 7]);
    const result = cpAls(x, { rank: 4, maxIter: 2 });
    expect(result.converged).toBe(false);
    expect(result.iterations).toBe(2);
    expect(result.relativeError).toBeGreaterThan(0);
    expect(result.relativeError).toBeLessThan(1);
  });

  it('is deterministic for a seed', () => {
    const x = randn(new Rng(3), [4, 5, 6]);
    const a = cpAls(x, { rank: 2, init: 'random', seed: 42, maxIter: 20 });
    const b = cpAls(x, { rank: 2, init: 'random', seed: 42, maxIter: 20 });
    expect(Array.from(a.cp.factors[0]!.data)).toEqual(Array.from(b.cp.factors[0]!.data));
  });

  it('rejects bad options', () => {
    const x = randn(new Rng(3), [4, 5]);
    expect(() => cpAls(x, { rank: 0 })).toThrow(/cpAls: rank must be a positive integer, got 0/);
    expect(() => cpAls(x, { rank: 2, maxIter: 0 })).toThrow(/cpAls: maxIter must be a positive integer/);
    expect(() => cpAls(x, { rank: 2, init: 'nope' as never })).toThrow(/init must be 'svd' or 'random'/);
  });

  it('agrees with the CP matrix formula on a 2-way tensor', () => {
    const rng = new Rng(2);
    const a = randn(rng, [5, 2]);
    const b = randn(rng, [6, 2]);
    const x = cpMatrixDenseRef([a], [b]);
    expect(cpAls(x, { rank: 2 }).relativeError).toBeLessThan(1e-8);
  });
});

describe('tuckerHosvd and tuckerHooi', () => {
  it('HOSVD recovers random exactly-low-rank Tucker tensors to 1e-8', () => {
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const ranks = [2, 3, 2, 2];
      const shape = [4, 5, 3, 4];
      const x = tuckerDenseRef(
        randn(rng, ranks),
        shape.map((n, k) => randn(rng, [n, ranks[k]!])),
      );
      const t = tuckerHosvd(x, { ranks });
      expect(t.ranks).toEqual(ranks);
      expect(relativeError(tuckerToDense(t), x)).toBeLessThan(1e-8);
    }
  });

  it("HOOI's error is never above HOSVD's for the same ranks", () => {
    const rng = new Rng(21);
    let improved = 0;
    for (const ranks of [
      [1, 1, 1],
      [2, 2, 2],
      [3, 2, 4],
      [5, 6, 2],
    ]) {
      const x = randn(rng, [5, 6, 7]);
      const hosvd = relativeError(tuckerToDense(tuckerHosvd(x, { ranks })), x);
      const hooi = tuckerHooi(x, { ranks });
      expect(hooi.relativeError).toBeCloseTo(relativeError(tuckerToDense(hooi.tucker), x), 10);
      expect(hooi.relativeError).toBeLessThanOrEqual(hosvd + 1e-12);
      if (hooi.relativeError < hosvd - 1e-6) improved++;
    }
    // On random tensors the iteration does find better subspaces than the HOSVD.
    expect(improved).toBeGreaterThan(0);
  });

  it('rejects impossible ranks', () => {
    const x = randn(new Rng(1), [3, 4, 5]);
    expect(() => tuckerHosvd(x, { ranks: [4, 2, 2] })).toThrow(
      /tuckerHosvd: ranks\[0\] = 4 is impossible for mode size 3/,
    );
    expect(() => tuckerHooi(x, { ranks: [1, 2] })).toThrow(/tuckerHooi: ranks must have one entry per mode \(3\)/);
    expect(() => tuckerHooi(x, { ranks: [1, 0, 1] })).toThrow(/ranks\[1\] must be a positive integer, got 0/);
  });

  it('leaves the input untouched', () => {
    const x = randn(new Rng(2), [3, 4, 5]);
    const copy = Float64Array.from(x.data);
    tuckerHooi(x, { ranks: [2, 2, 2] });
    ttSvd(x, { eps: 0.1 });
    cpAls(x, { rank: 2, maxIter: 3 });
    expect(Array.from(x.data)).toEqual(Array.from(copy));
    expect(frobeniusNorm(x)).toBeGreaterThan(0);
    expect(prod(x.shape)).toBe(60);
  });
});

describe('degenerate inputs (issue 11, item 7)', () => {
  const rng = new Rng(5);
  const x: NdArray = { shape: [4, 5, 3], data: rng.normalArray(60) };
  const scaled = (t: NdArray, s: number): NdArray => ({ shape: t.shape, data: t.data.map((v) => v * s) });

  it('cpAls of the zero tensor is exact (error 0, converged), not NaN', () => {
    const r = cpAls({ shape: [3, 4, 2], data: new Float64Array(24) }, { rank: 2 });
    expect(r.relativeError).toBe(0);
    expect(r.converged).toBe(true);
    expect(Array.from(cpToDense(r.cp).data).every((v) => v === 0)).toBe(true);
  });

  it('cpAls and tuckerHooi on data scaled by 1e200 (and 1e-200) give the errors of the unscaled data, and factors that rebuild it', () => {
    const cp = cpAls(x, { rank: 3, maxIter: 50 });
    const tucker = tuckerHooi(x, { ranks: [2, 3, 2] });
    for (const s of [1e200, 1e-200]) {
      const cpS = cpAls(scaled(x, s), { rank: 3, maxIter: 50 });
      expect(Number.isFinite(cpS.relativeError)).toBe(true);
      expect(cpS.relativeError).toBeCloseTo(cp.relativeError, 10);
      expect(relativeError(cpToDense(cpS.cp), scaled(x, s))).toBeCloseTo(cpS.relativeError, 10);
      const tS = tuckerHooi(scaled(x, s), { ranks: [2, 3, 2] });
      expect(tS.relativeError).toBeCloseTo(tucker.relativeError, 10);
      expect(relativeError(tuckerToDense(tS.tucker), scaled(x, s))).toBeCloseTo(tS.relativeError, 10);
    }
  });

  it('tuckerHooi reports the error of the factors it returns, also near zero', () => {
    // Exactly multilinear rank (2, 2, 2): the error is rounding, ~1e-16, not the 1e-8 of sqrt(||X||^2 - ||G||^2).
    const core = tuckerHosvd(x, { ranks: [2, 2, 2] });
    const exact = tuckerToDense(core);
    const r = tuckerHooi(exact, { ranks: [2, 2, 2] });
    expect(r.relativeError).toBeLessThan(1e-13);
    expect(Math.abs(r.relativeError - relativeError(tuckerToDense(r.tucker), exact))).toBeLessThan(1e-16);
  });
});

describe('TT-SVD with a rank cap takes the Gram-matrix SVD', () => {
  it('on a matrix it gives the best rank-r approximation (the Eckart-Young error from a full SVD)', () => {
    const rng = new Rng(9);
    for (const [m, n, r] of [
      [12, 40, 3],
      [40, 12, 5],
      [30, 30, 7],
    ] as const) {
      const x: NdArray = { shape: [m, n], data: rng.normalArray(m * n) };
      const tt = ttSvd(x, { maxRank: r });
      expect(tt.ranks).toEqual([1, r, 1]);
      const s = svd(x).s;
      const tail = Math.sqrt(s.slice(r).reduce((a, v) => a + v * v, 0) / s.reduce((a, v) => a + v * v, 0));
      expect(Math.abs(relativeError(ttToDense(tt), x) - tail)).toBeLessThan(1e-12);
    }
  });
});
