import { check, fmt } from '../errors.js';
import { Matrix, pseudoInverse } from 'ml-matrix';
import { mergeTtCores } from '../contract/tt.js';
import { type TrMatrix, trDense, trMatrix } from '../formats/tr.js';
import { frobeniusNorm, matMulNd, type NdArray, reshapeNd, transposeNd } from '../ndarray.js';
import { type Core, f64Ops } from '../ops.js';
import { scaleRows, svd, truncateSvd, truncationRank } from '../linalg/svd.js';
import { checkModesMatch, checkPositiveInts } from '../validate.js';
import { checkEps, inputTensor } from './options.js';
import { ttSvd } from './tt_svd.js';

export interface TrMatrixFromDenseOptions {
  inModes: readonly number[];
  outModes: readonly number[];
  /**
   * Relative accuracy: ||W - W_hat||_F <= eps ||W||_F unless `ranks` cut deeper. Default 1e-12
   * (numerically exact).
   */
  eps?: number;
  /**
   * Upper bounds on the ranks r_0..r_d (r_0 = r_d, the ring's closing rank, is taken exactly, padded
   * with zeros where the matrix has lower rank). Default: r_0 from the first unfolding (the divisor
   * pair r_0 r_1 of its rank closest to a square), the others from eps.
   */
  ranks?: readonly number[];
  /**
   * ALS sweeps after TR-SVD (each core in turn the least-squares fit given the others; Zhao et al.'s
   * TR-ALS): TR-SVD's ranks are not the smallest ring, so with `ranks` it can miss a ring of those
   * ranks that the sweeps find. Default 0.
   */
  maxIter?: number;
  /** Stop the sweeps when the relative error changes by less than this (default 1e-10). */
  tol?: number;
}

/**
 * A TR-matrix approximating the dense (N x M) matrix w by TR-SVD (Zhao et al., "Tensor Ring
 * Decomposition", 2016, Alg. 1), on w seen as the d-way tensor of merged (n_k m_k) pairs: the first
 * unfolding's truncated SVD U S V^T gives G_1 = U as (r_0, n_1 m_1, r_1) and splits the rest's
 * leading index into (r_0, r_1); the rest, with r_0 moved to its end, is a TT whose cores TT-SVD
 * finds. Each of the d truncations keeps its error within eps ||w||_F / sqrt(d) (the first within
 * sqrt(2) times that), so the total is at most eps ||w||_F. Float64. TR-SVD's ranks need not be the
 * smallest ring that represents w: the split of the first rank is a choice.
 */
export function trMatrixFromDense(w: Core, options: TrMatrixFromDenseOptions): TrMatrix<NdArray> {
  const fn = 'trMatrixFromDense';
  const { inModes, outModes, eps = 1e-12, ranks } = options;
  const x = inputTensor(fn, w, 2);
  check(x.shape.length === 2, 'SHAPE_MISMATCH', () => `${fn}: w must be a matrix (N x M), got shape ${fmt(x.shape)}`);
  checkPositiveInts(fn, 'inModes', inModes);
  checkPositiveInts(fn, 'outModes', outModes);
  check(
    inModes.length === outModes.length && inModes.length >= 2,
    'INVALID_MODES',
    () =>
      `${fn}: inModes and outModes must have the same length d >= 2 (a ring of one core is a trace), got ${fmt(inModes)} and ${fmt(outModes)}`,
  );
  checkModesMatch(fn, 'inModes', inModes, x.shape[0]);
  checkModesMatch(fn, 'outModes', outModes, x.shape[1]);
  checkEps(fn, eps);
  const d = inModes.length;
  if (ranks !== undefined) {
    checkPositiveInts(fn, 'ranks', ranks);
    check(
      ranks.length === d + 1 && ranks[0] === ranks[d],
      'INVALID_RANK',
      () => `${fn}: ranks must be d + 1 = ${d + 1} numbers with r_0 = r_d, got ${fmt(ranks)}`,
    );
  }
  const sizes = inModes.map((n, k) => n * outModes[k]!);
  const interleave = inModes.flatMap((_, k) => [k, d + k]);
  const t = reshapeNd(transposeNd(reshapeNd(x, [...inModes, ...outModes]), interleave), sizes);
  const sweeps = options.maxIter ?? 0;
  check(
    Number.isInteger(sweeps) && sweeps >= 0,
    'INVALID_ARGUMENT',
    () => `${fn}: maxIter must be an integer >= 0, got ${fmt(options.maxIter)}`,
  );
  let cores = ringSvd(t, eps, ranks);
  if (sweeps > 0) {
    // ALS can stall in a local minimum that depends on where the ring is cut open: start from each
    // of the d cuts (the modes rotated) and keep the best.
    let best = { cores: trAls(t, cores, sweeps, options.tol ?? 1e-10), err: Number.POSITIVE_INFINITY };
    best.err = ringError(t, best.cores);
    for (let shift = 1; shift < d && ranks && best.err > 1e-12; shift++) {
      const perm = sizes.map((_, j) => (j + shift) % d);
      const rotatedRanks = [...perm.map((j) => ranks[j]!), ranks[shift]!];
      const rotated = transposeNd(t, perm);
      const fitted = trAls(rotated, ringSvd(rotated, eps, rotatedRanks), sweeps, options.tol ?? 1e-10);
      // Rotated core j is the original core (j + shift) mod d.
      const back = sizes.map((_, k) => fitted[(k - shift + d) % d]!);
      const err = ringError(t, back);
      if (err < best.err) best = { cores: back, err };
    }
    cores = best.cores;
  }
  const shaped = cores.map((c, k) => reshapeNd(c, [c.shape[0]!, inModes[k]!, outModes[k]!, c.shape[3]!]));
  return trMatrix(shaped, { checkFinite: false });
}

/** TR-SVD of a d-way tensor: cores (r_{k-1}, I_k, 1, r_k). */
function ringSvd(t: NdArray, eps: number, ranks: readonly number[] | undefined): NdArray[] {
  const sizes = t.shape;
  const d = sizes.length;
  const norm = frobeniusNorm(t);
  const delta = (eps / Math.sqrt(d)) * norm;

  // The first unfolding (I_1 x rest): its rank r_0 r_1.
  const rest = t.data.length / sizes[0]!;
  const full = svd(reshapeNd(t, [sizes[0]!, rest]));
  const available = full.s.length;
  let r0: number;
  let r1: number;
  if (ranks) {
    r0 = ranks[0]!;
    r1 = Math.min(ranks[1]!, truncationRank(full.s, Math.SQRT2 * delta, Math.floor(available / r0) || 1));
  } else {
    const r = truncationRank(full.s, Math.SQRT2 * delta);
    // The split closest to a square with r_0 r_1 >= r.
    r0 = Math.max(1, Math.floor(Math.sqrt(r)));
    r1 = Math.ceil(r / r0);
  }
  const kept = Math.min(r0 * r1, available);
  const { u, s, vt } = truncateSvd(full, kept);
  // Zero rows/columns where the unfolding's rank is below r_0 r_1.
  const uPad = new Float64Array(sizes[0]! * r0 * r1);
  for (let i = 0; i < sizes[0]!; i++) for (let j = 0; j < kept; j++) uPad[i * r0 * r1 + j] = u.data[i * kept + j]!;
  const sv = scaleRows(s, vt);
  const svPad = new Float64Array(r0 * r1 * rest);
  svPad.set(sv.data);
  // G_1: (I_1, r_0, r_1) -> (r_0, I_1, r_1).
  const g1 = transposeNd({ shape: [sizes[0]!, r0, r1], data: uPad }, [1, 0, 2]);
  // The rest (r_0, r_1, I_2..I_d) -> (r_1, I_2, .., I_d, r_0): a TT with r_1 and r_0 merged into the
  // first and last modes.
  const moved = transposeNd({ shape: [r0, r1, ...sizes.slice(1)], data: svPad }, [
    1,
    ...sizes.slice(1).map((_, k) => k + 2),
    0,
  ]);
  const ttModes = d === 2 ? [r1 * sizes[1]! * r0] : [r1 * sizes[1]!, ...sizes.slice(2, d - 1), sizes[d - 1]! * r0];
  const restNorm = frobeniusNorm(moved);
  // TT-SVD's per-bond delta is eps' ||rest|| / sqrt(d - 2); make it delta.
  const ttEps = d > 2 && restNorm > 0 ? Math.min((delta * Math.sqrt(d - 2)) / restNorm, 0.999) : 0;
  const tt = ttSvd(reshapeNd(moved, ttModes), {
    eps: ttEps,
    ...(ranks && d > 2 ? { maxRank: ranks.slice(2, d) } : {}),
  });
  // Cores as (r_{k-1}, I_k, 1, r_k) while ALS may refine them; split into (n_k, m_k) at the end.
  const cores: NdArray[] = [reshapeNd(g1, [r0, sizes[0]!, 1, r1])];
  tt.cores.forEach((c, j) => {
    const k = j + 1;
    const left = k === 1 ? r1 : c.shape[0]!;
    const right = k === d - 1 ? r0 : c.shape[2]!;
    cores.push(reshapeNd(c, [left, sizes[k]!, 1, right]));
  });
  return cores;
}

/** ||t - ring(cores)||_F / ||t||_F for cores (r, I_k, 1, r'). */
function ringError(t: NdArray, cores: readonly NdArray[]): number {
  const rebuilt = trDense(f64Ops, {
    kind: 'tr-matrix',
    inModes: t.shape,
    outModes: t.shape.map(() => 1),
    ranks: [...cores.map((c) => c.shape[0]!), cores[0]!.shape[0]!],
    cores,
  });
  let err = 0;
  for (let i = 0; i < t.data.length; i++) err += (rebuilt.data[i]! - t.data[i]!) ** 2;
  const norm = frobeniusNorm(t);
  return norm > 0 ? Math.sqrt(err) / norm : 0;
}

/**
 * TR-ALS sweeps from `start` (cores (r_{k-1}, I_k, 1, r_k) of the d-way tensor t): each core in turn
 * the least-squares fit given the others. With the other cores' ring product Q_k (r_k, prod_{j != k}
 * I_j in cyclic order from k + 1, r_{k-1}) and t unfolded the same way (I_k x rest):
 * t_(k) = G_k,(2) Q^T, so G_k,(2) = t_(k) Q (Q^T Q)^+. Returns new cores.
 */
function trAls(t: NdArray, start: readonly NdArray[], sweeps: number, tol: number): NdArray[] {
  const cores = [...start];
  const d = cores.length;
  const sizes = t.shape;
  let last = Number.POSITIVE_INFINITY;
  for (let sweep = 0; sweep < sweeps; sweep++) {
    for (let k = 0; k < d; k++) {
      const order = Array.from({ length: d - 1 }, (_, j) => (k + 1 + j) % d);
      const q = mergeTtCores(
        f64Ops,
        order.map((j) => cores[j]!),
      ); // (r_k, rest, 1, r_{k-1})
      const [rk, rest, , rk1] = q.shape as [number, number, number, number];
      // Qm[rest, (a, b)] = Q[b, rest, a], a over r_{k-1}, b over r_k.
      const qm = reshapeNd(transposeNd(reshapeNd(q, [rk, rest, rk1]), [1, 2, 0]), [rest, rk1 * rk]);
      const tk = reshapeNd(transposeNd(t, [k, ...order]), [sizes[k]!, rest]);
      const rhs = matMulNd(tk, qm); // (I_k, r_{k-1} r_k)
      const gram = matMulNd(qm, qm, true, false);
      const inv = pseudoInverse(new Matrix(toRows(gram)));
      const g = matMulNd(rhs, { shape: gram.shape, data: Float64Array.from(inv.to1DArray()) });
      // G_k,(2)[i, (a, b)] -> (a, i, 1, b).
      cores[k] = reshapeNd(transposeNd(reshapeNd(g, [sizes[k]!, rk1, rk]), [1, 0, 2]), [rk1, sizes[k]!, 1, rk]);
    }
    const rel = ringError(t, cores);
    if (Math.abs(last - rel) < tol) break;
    last = rel;
  }
  return cores;
}

function toRows(a: NdArray): number[][] {
  const [m, n] = a.shape as [number, number];
  return Array.from({ length: m }, (_, i) => Array.from(a.data.subarray(i * n, (i + 1) * n)));
}
