// Direct, loop-by-loop evaluations of the formulas in PAPER.md, written without the package's
// contraction code, to check it against.
import type { NdArray, Rng } from '../src/index.js';

export const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);

/** Row-major multi-index of a flat index. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = flat % shape[k]!;
    flat = Math.floor(flat / shape[k]!);
  }
  return idx;
}

export function at(x: NdArray, idx: readonly number[]): number {
  let flat = 0;
  for (let k = 0; k < idx.length; k++) flat = flat * x.shape[k]! + idx[k]!;
  return x.data[flat]!;
}

export function randn(rng: Rng, shape: number[], std = 1): NdArray {
  return { shape, data: rng.normalArray(prod(shape), std) };
}

/** W[(i), (j)] = G_1[:, i_1, j_1, :] ... G_d[:, i_d, j_d, :]. */
export function ttMatrixDenseRef(cores: readonly NdArray[]): NdArray {
  const inModes = cores.map((c) => c.shape[1]!);
  const outModes = cores.map((c) => c.shape[2]!);
  const n = prod(inModes);
  const m = prod(outModes);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ii = unravel(i, inModes);
    for (let j = 0; j < m; j++) {
      const jj = unravel(j, outModes);
      let row = [1];
      cores.forEach((c, k) => {
        const [r0, , , r1] = c.shape as number[];
        const next = new Array<number>(r1!).fill(0);
        for (let a = 0; a < r0!; a++) for (let b = 0; b < r1!; b++) next[b]! += row[a]! * at(c, [a, ii[k]!, jj[k]!, b]);
        row = next;
      });
      out[i * m + j] = row[0]!;
    }
  }
  return { shape: [n, m], data: out };
}

/** W[i, j] = Trace(G_1[:, i_1, j_1, :] ... G_d[:, i_d, j_d, :]) (a tensor ring), by loops. */
export function trMatrixDenseRef(cores: readonly NdArray[]): NdArray {
  const inModes = cores.map((c) => c.shape[1]!);
  const outModes = cores.map((c) => c.shape[2]!);
  const r0 = cores[0]!.shape[0]!;
  const n = prod(inModes);
  const m = prod(outModes);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ii = unravel(i, inModes);
    for (let j = 0; j < m; j++) {
      const jj = unravel(j, outModes);
      let trace = 0;
      // Row a of the product G_1 .. G_d, then its diagonal entry a.
      for (let start = 0; start < r0; start++) {
        let row = new Array<number>(r0).fill(0);
        row[start] = 1;
        cores.forEach((c, k) => {
          const [ra, , , rb] = c.shape as number[];
          const next = new Array<number>(rb!).fill(0);
          for (let a = 0; a < ra!; a++)
            for (let b = 0; b < rb!; b++) next[b]! += row[a]! * at(c, [a, ii[k]!, jj[k]!, b]);
          row = next;
        });
        trace += row[start]!;
      }
      out[i * m + j] = trace;
    }
  }
  return { shape: [n, m], data: out };
}

/**
 * W[i, j] = sum_b sum_p C_b[p_1..p_d] prod_k A_{b,k}[i_k, j_k, p_k] (Block-Term), by loops, from the
 * stacked core (N, r_1..r_d) and factors (N, n_k, m_k, r_k).
 */
export function btMatrixDenseRef(core: NdArray, factors: readonly NdArray[]): NdArray {
  const inModes = factors.map((f) => f.shape[1]!);
  const outModes = factors.map((f) => f.shape[2]!);
  const ranks = core.shape.slice(1);
  const blocks = core.shape[0]!;
  const n = prod(inModes);
  const m = prod(outModes);
  const out = new Float64Array(n * m);
  const rTotal = prod(ranks);
  for (let i = 0; i < n; i++) {
    const ii = unravel(i, inModes);
    for (let j = 0; j < m; j++) {
      const jj = unravel(j, outModes);
      let sum = 0;
      for (let b = 0; b < blocks; b++)
        for (let p = 0; p < rTotal; p++) {
          const pp = unravel(p, ranks);
          let term = at(core, [b, ...pp]);
          factors.forEach((f, k) => {
            term *= at(f, [b, ii[k]!, jj[k]!, pp[k]!]);
          });
          sum += term;
        }
      out[i * m + j] = sum;
    }
  }
  return { shape: [n, m], data: out };
}

/** W[i, j] = sum_r w_r prod_k A_k[i_k, r] prod_k B_k[j_k, r]. */
export function cpMatrixDenseRef(inF: readonly NdArray[], outF: readonly NdArray[], weights?: NdArray): NdArray {
  const inModes = inF.map((f) => f.shape[0]!);
  const outModes = outF.map((f) => f.shape[0]!);
  const rank = inF[0]!.shape[1]!;
  const n = prod(inModes);
  const m = prod(outModes);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    const ii = unravel(i, inModes);
    for (let j = 0; j < m; j++) {
      const jj = unravel(j, outModes);
      let s = 0;
      for (let r = 0; r < rank; r++) {
        let p = weights ? weights.data[r]! : 1;
        for (const [k, f] of inF.entries()) p *= at(f, [ii[k]!, r]);
        for (const [k, f] of outF.entries()) p *= at(f, [jj[k]!, r]);
        s += p;
      }
      out[i * m + j] = s;
    }
  }
  return { shape: [n, m], data: out };
}

/** X[i] = sum_s G[s] prod_k U_k[i_k, s_k] (a Tucker tensor of any order). */
export function tuckerDenseRef(core: NdArray, factors: readonly NdArray[]): NdArray {
  const shape = factors.map((f) => f.shape[0]!);
  const size = prod(shape);
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    const ii = unravel(i, shape);
    let s = 0;
    for (let c = 0; c < core.data.length; c++) {
      const ss = unravel(c, core.shape);
      let p = core.data[c]!;
      for (const [k, f] of factors.entries()) p *= at(f, [ii[k]!, ss[k]!]);
      s += p;
    }
    out[i] = s;
  }
  return { shape, data: out };
}

export function matMulRef(a: NdArray, b: NdArray): NdArray {
  const [n, k] = a.shape as [number, number];
  const m = b.shape[1]!;
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a.data[i * k + p]! * b.data[p * m + j]!;
      out[i * m + j] = s;
    }
  return { shape: [n, m], data: out };
}
