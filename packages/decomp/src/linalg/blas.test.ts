import { describe, expect, it } from 'vitest';
import { matMulNd, stridesOf, transposeNd } from '../ndarray.js';
import { Rng } from '../random.js';
import { cholesky, gemm, gramRows, gramShortSide, transpose2d } from './blas.js';

const rng = new Rng(7);
const rand = (n: number) => rng.normalArray(n);

/** The textbook triple loop. */
function naiveMatMul(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  const C = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A[i * k + p]! * B[p * n + j]!;
      C[i * n + j] = s;
    }
  return C;
}

/** Element by element from the definition out[i_0..] = x[i_perm^-1...]. */
function naiveTranspose(data: Float64Array, shape: number[], perm: number[]): Float64Array {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = stridesOf(shape);
  const out = new Float64Array(data.length);
  for (let o = 0; o < out.length; o++) {
    let rest = o;
    let src = 0;
    for (let k = outShape.length - 1; k >= 0; k--) {
      const i = rest % outShape[k]!;
      rest = Math.floor(rest / outShape[k]!);
      src += i * inStrides[perm[k]!]!;
    }
    out[o] = data[src]!;
  }
  return out;
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('gemm and matMulNd', () => {
  it.each([
    [1, 1, 1],
    [3, 5, 2],
    [4, 7, 9],
    [9, 4, 13],
    [37, 33, 70],
  ])('%i x %i times %i x ... equals the triple loop, with every transpose flag', (m, k, n) => {
    const A = rand(m * k);
    const B = rand(k * n);
    const ref = naiveMatMul(A, B, m, k, n);
    expect(maxAbsDiff(gemm(A, B, m, k, n), ref)).toBeLessThan(1e-12);
    const At = transpose2d(A, m, k);
    const Bt = transpose2d(B, k, n);
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const c = matMulNd(
        { shape: ta ? [k, m] : [m, k], data: ta ? At : A },
        { shape: tb ? [n, k] : [k, n], data: tb ? Bt : B },
        ta,
        tb,
      );
      expect(c.shape).toEqual([m, n]);
      expect(maxAbsDiff(c.data, ref)).toBeLessThan(1e-12);
    }
  });

  it('A A^T through matMulNd is the symmetric Gram matrix, odd and even sizes', () => {
    for (const [m, n] of [
      [1, 4],
      [5, 3],
      [6, 11],
      [17, 40],
    ] as const) {
      const A = rand(m * n);
      const ref = naiveMatMul(A, transpose2d(A, m, n), m, n, m);
      const a = { shape: [m, n], data: A };
      expect(maxAbsDiff(matMulNd(a, a, false, true).data, ref)).toBeLessThan(1e-12);
      expect(maxAbsDiff(gramRows(A, m, n), ref)).toBeLessThan(1e-12);
      const short = gramShortSide(A, m, n);
      const refShort = m <= n ? ref : naiveMatMul(transpose2d(A, m, n), A, n, m, n);
      expect(maxAbsDiff(short, refShort)).toBeLessThan(1e-12);
    }
  });
});

describe('transposeNd', () => {
  it('matches the definition for every permutation of rank-4 shapes, unit axes included', () => {
    const perms: number[][] = [];
    const permute = (prefix: number[], rest: number[]) => {
      if (rest.length === 0) perms.push(prefix);
      rest.forEach((r, i) => {
        permute([...prefix, r], [...rest.slice(0, i), ...rest.slice(i + 1)]);
      });
    };
    permute([], [0, 1, 2, 3]);
    for (const shape of [
      [2, 3, 4, 5],
      [1, 3, 1, 5],
      [3, 1, 2, 1],
      [33, 2, 1, 35],
    ]) {
      const data = rand(shape.reduce((a, b) => a * b, 1));
      for (const perm of perms) {
        const out = transposeNd({ shape, data }, perm);
        expect(out.shape).toEqual(perm.map((p) => shape[p]));
        expect(maxAbsDiff(out.data, naiveTranspose(data, shape, perm))).toBe(0);
      }
    }
  });

  it('the identity permutation copies', () => {
    const x = { shape: [2, 3], data: rand(6) };
    const y = transposeNd(x, [0, 1]);
    expect(y.data).toEqual(x.data);
    expect(y.data).not.toBe(x.data);
  });
});

describe('cholesky', () => {
  it('R^T R = G, and an indefinite shift or a rank-deficient matrix is refused', () => {
    const m = 40;
    const n = 13;
    const A = rand(m * n);
    const G = gramShortSide(A, m, n);
    const R = cholesky(G, n)!;
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) expect(R[i * n + j]).toBe(0);
    const RtR = naiveMatMul(transpose2d(R, n, n), R, n, n, n);
    expect(maxAbsDiff(RtR, G)).toBeLessThan(1e-10);
    // Shifting by more than the largest eigenvalue (at most the trace) makes G - shift I indefinite.
    let trace = 0;
    for (let i = 0; i < n; i++) trace += G[i * n + i]!;
    expect(cholesky(G, n, trace + 1)).toBeUndefined();
    // A rank-deficient Gram matrix is refused too.
    const B = rand(5 * n);
    expect(cholesky(gramRows(transpose2d(B, 5, n), n, 5), n)).toBeUndefined();
  });
});
