import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { NdArray } from '../ndarray.js';
import { prod } from '../prod.js';

/**
 * The Gram matrix X_(k) X_(k)^T (n_k x n_k) of the mode-k unfolding of t, accumulated without forming
 * the unfolding: n_k^2 values of memory, one pass over t.
 */
export function unfoldingGram(t: NdArray, k: number): Float64Array {
  const n = t.shape[k]!;
  const after = prod(t.shape.slice(k + 1));
  const before = t.data.length / (n * after);
  const g = new Float64Array(n * n);
  for (let b = 0; b < before; b++) {
    for (let i = 0; i < n; i++) {
      const rowI = (b * n + i) * after;
      for (let j = i; j < n; j++) {
        const rowJ = (b * n + j) * after;
        let s = 0;
        for (let a = 0; a < after; a++) s += t.data[rowI + a]! * t.data[rowJ + a]!;
        g[i * n + j]! += s;
      }
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) g[i * n + j] = g[j * n + i]!;
  return g;
}

/**
 * Eigenvalues (descending, clipped at 0) and eigenvectors (columns, in the same order) of the Gram
 * matrix of the mode-k unfolding: its squared singular values and left singular vectors.
 */
export function unfoldingSpectrum(t: NdArray, k: number): { energies: number[]; vectors: NdArray } {
  const n = t.shape[k]!;
  const g = unfoldingGram(t, k);
  const m = new Matrix(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) m.set(i, j, g[i * n + j]!);
  const dec = new EigenvalueDecomposition(m, { assumeSymmetric: true });
  const order = dec.realEigenvalues.map((e, i) => [e, i] as const).sort((a, b) => b[0] - a[0]);
  const v = dec.eigenvectorMatrix;
  const vectors = new Float64Array(n * n);
  order.forEach(([, src], dst) => {
    for (let i = 0; i < n; i++) vectors[i * n + dst] = v.get(i, src);
  });
  return { energies: order.map(([e]) => Math.max(0, e)), vectors: { shape: [n, n], data: vectors } };
}
