/**
 * Float64 kernels on row-major Float64Arrays: the products, transposes and factorisations the
 * decomposition algorithms spend their time in. Plain loops written for V8: four rows of the result
 * at a time (each row of B is loaded once for four multiply-adds), blocked transposes, and a
 * Cholesky factorisation that works on rows. No allocation in the inner loops.
 */

/**
 * C (m x n) = A (m x k) Bt^T for Bt (n x k): every entry a dot product of two contiguous rows, in
 * blocks of 4 x 2 entries held in locals (six loads for eight multiply-adds, no stores in the loop).
 * `upper`: only entries with j >= i are needed (some below the diagonal are computed too). `lowerBt`:
 * Bt is lower triangular (Bt[j][p] = 0 for p > j), so each dot stops after p = j + 1.
 */
function dotProducts(
  A: Float64Array,
  Bt: Float64Array,
  m: number,
  k: number,
  n: number,
  upper = false,
  lowerBt = false,
): Float64Array {
  const C = new Float64Array(m * n);
  const m4 = m - (m % 4);
  const n2 = n - (n % 2);
  for (let i = 0; i < m4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    const c0 = i * n;
    const c1 = c0 + n;
    const c2 = c1 + n;
    const c3 = c2 + n;
    for (let j = upper ? i : 0; j < n2; j += 2) {
      const b0 = j * k;
      const b1 = b0 + k;
      const pEnd = lowerBt ? Math.min(k, j + 2) : k;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let p = 0; p < pEnd; p++) {
        const x0 = A[a0 + p]!;
        const x1 = A[a1 + p]!;
        const x2 = A[a2 + p]!;
        const x3 = A[a3 + p]!;
        const y0 = Bt[b0 + p]!;
        const y1 = Bt[b1 + p]!;
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s30 += x3 * y0;
        s31 += x3 * y1;
      }
      C[c0 + j] = s00;
      C[c0 + j + 1] = s01;
      C[c1 + j] = s10;
      C[c1 + j + 1] = s11;
      C[c2 + j] = s20;
      C[c2 + j + 1] = s21;
      C[c3 + j] = s30;
      C[c3 + j + 1] = s31;
    }
  }
  // The rows after the last block of four, and the last column when n is odd.
  const single = (i: number, j: number): void => {
    const ai = i * k;
    const bj = j * k;
    const pEnd = lowerBt ? Math.min(k, j + 1) : k;
    let s = 0;
    for (let p = 0; p < pEnd; p++) s += A[ai + p]! * Bt[bj + p]!;
    C[i * n + j] = s;
  };
  for (let i = m4; i < m; i++) for (let j = upper ? i : 0; j < n; j++) single(i, j);
  if (n2 < n) for (let i = 0; i < m4; i++) single(i, n2);
  return C;
}

/** C (m x n) = A (m x k) B (k x n). */
export function gemm(A: Float64Array, B: Float64Array, m: number, k: number, n: number): Float64Array {
  return dotProducts(A, transpose2d(B, k, n), m, k, n);
}

/** C (m x n) = A (m x k) Bt^T for Bt (n x k). */
export function gemmNT(A: Float64Array, Bt: Float64Array, m: number, k: number, n: number): Float64Array {
  return dotProducts(A, Bt, m, k, n);
}

/** The transpose (cols x rows) of a (rows x cols) matrix, in 32 x 32 tiles. */
export function transpose2d(A: Float64Array, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  const T = 32;
  for (let i0 = 0; i0 < rows; i0 += T) {
    const i1 = Math.min(rows, i0 + T);
    for (let j0 = 0; j0 < cols; j0 += T) {
      const j1 = Math.min(cols, j0 + T);
      for (let i = i0; i < i1; i++) {
        const src = i * cols;
        for (let j = j0; j < j1; j++) out[j * rows + i] = A[src + j]!;
      }
    }
  }
  return out;
}

/** The Gram matrix G = A A^T (m x m) of a (m x n) matrix: the upper triangle, mirrored. */
export function gramRows(A: Float64Array, m: number, n: number): Float64Array {
  const G = dotProducts(A, A, m, n, m, true);
  for (let r = 0; r < m; r++) for (let c = 0; c < r; c++) G[r * m + c] = G[c * m + r]!;
  return G;
}

/**
 * The Gram matrix of the shorter side of a (m x n) matrix: A A^T when m <= n, else A^T A (of the
 * transpose's rows).
 */
export function gramShortSide(A: Float64Array, m: number, n: number): Float64Array {
  return m <= n ? gramRows(A, m, n) : gramRows(transpose2d(A, m, n), n, m);
}

/**
 * Cholesky factor R (upper triangular, R^T R = G - shift I) of a symmetric (n x n) matrix, or
 * undefined when a pivot is not positive (G - shift I is not positive definite to working accuracy).
 * Row-oriented (R's row j from the rows above it), so every inner loop runs over contiguous memory.
 */
export function cholesky(G: Float64Array, n: number, shift = 0): Float64Array | undefined {
  const R = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) R[i * n + j] = G[i * n + j]!;
  for (let i = 0; i < n; i++) R[i * n + i]! -= shift;
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    const d = R[rj + j]!;
    if (!(d > 0)) return undefined;
    const piv = Math.sqrt(d);
    R[rj + j] = piv;
    const inv = 1 / piv;
    for (let c = j + 1; c < n; c++) R[rj + c]! *= inv;
    // Trailing update: row i -= R[j][i] * row j, on the upper triangle.
    for (let i = j + 1; i < n; i++) {
      const f = R[rj + i]!;
      if (f === 0) continue;
      const ri = i * n;
      for (let c = i; c < n; c++) R[ri + c]! -= f * R[rj + c]!;
    }
  }
  return R;
}
