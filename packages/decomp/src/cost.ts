import { ttStageLayout } from './contract/tt.js';
import type { MatrixShape } from './formats/matrix.js';

import { prod } from './prod.js';

/**
 * What a computation costs: floating-point operations, TF.js ops launched, elements moved by
 * transposes, elements of matMul right-hand sides read (what bounds a matMul of a single row), and
 * elements of freshly computed right-hand sides that a backend repacks before its first matMul
 * (XNNPACK under wasm does; a rebuilt matrix pays it once).
 */
export interface CostEstimate {
  flops: number;
  ops: number;
  moved: number;
  read: number;
  packed: number;
  /**
   * Elements moved by full transposes of large matrices (the operand of a weight gradient x^T g,
   * which @tensorized/backends' wasm matMul transposes explicitly), which on wasm run about four times slower per element than the layout
   * transposes counted in `moved` (measured: 4 to 7 ns against 0.4 to 1.8). Absent means none.
   */
  wide?: number;
}

/** The two ways to apply a factorised matrix W to a batch: contract the factors, or rebuild W. */
export type MatmulPath = 'factorised' | 'rebuild';

/** A path's cost split into the part done once (per batch of uses) and the part done per use. */
export interface PathCost {
  prepare: CostEstimate;
  apply: CostEstimate;
}

const zero = (): CostEstimate => ({ flops: 0, ops: 0, moved: 0, read: 0, packed: 0 });

function add(acc: CostEstimate, flops: number, ops: number, moved: number, read = 0, packed = 0): CostEstimate {
  acc.flops += flops;
  acc.ops += ops;
  acc.moved += moved;
  acc.read += read;
  acc.packed += packed;
  return acc;
}

/** Total cost of `uses` applications after one preparation. */
export function totalCost(cost: PathCost, uses = 1): CostEstimate {
  return {
    flops: cost.prepare.flops + uses * cost.apply.flops,
    ops: cost.prepare.ops + uses * cost.apply.ops,
    moved: cost.prepare.moved + uses * cost.apply.moved,
    read: cost.prepare.read + uses * cost.apply.read,
    packed: cost.prepare.packed + uses * cost.apply.packed,
    wide: (cost.prepare.wide ?? 0) + uses * (cost.apply.wide ?? 0),
  };
}

/** Cost of x (B x N) times a dense (N x M) matrix. */
export function denseMatmulCost(batch: number, n: number, m: number): CostEstimate {
  return { flops: 2 * batch * n * m, ops: 1, moved: 0, read: n * m, packed: 0 };
}

/** Cost of modeProducts over `dims` -> `outs` for a batch (see contract/mode_products.ts). */
function modeProductsCost(acc: CostEstimate, batch: number, dims: readonly number[], outs: readonly number[]): void {
  let size = batch * prod(dims);
  for (let k = dims.length - 1; k >= 0; k--) {
    const rows = size / dims[k]!;
    add(acc, 2 * rows * dims[k]! * outs[k]!, 3, rows * outs[k]!, dims[k]! * outs[k]!);
    size = rows * outs[k]!;
  }
  add(acc, 0, 2, size);
}

function khatriRaoCost(acc: CostEstimate, modes: readonly number[], rank: number): void {
  let p = modes[0]!;
  for (let k = 1; k < modes.length; k++) {
    p *= modes[k]!;
    add(acc, p * rank, 4, p * rank);
  }
}

/** Cost of mergeTtCores over cores lo..hi-1 (contract/tt.ts); returns the merged (rows, cols). */
function mergeTtCoresCost(
  acc: CostEstimate,
  n: readonly number[],
  m: readonly number[],
  r: readonly number[],
  lo: number,
  hi: number,
): [number, number] {
  if (hi - lo === 1) return [n[lo]!, m[lo]!];
  const mid = lo + Math.ceil((hi - lo) / 2);
  const [na, ma] = mergeTtCoresCost(acc, n, m, r, lo, mid);
  const [nb, mb] = mergeTtCoresCost(acc, n, m, r, mid, hi);
  const outer = r[lo]! * na * ma * nb * mb * r[hi]!;
  add(acc, 2 * outer * r[mid]!, 6, outer, r[mid]! * nb * mb * r[hi]!);
  return [na * nb, ma * mb];
}

/**
 * The cost of applying W (B x N -> B x M) by `path`, as it is computed in this package: factorised is
 * ttMatmul / cpMatmul / tuckerMatmul (for a TT-matrix with its cores merged by `groups`, default one
 * core per group), rebuild is the *ToDense function followed by one dense matMul. With `backward`,
 * the cost of the backward pass of a training step is added: by default each use's products get
 * their weight gradients x^T g (autodiff, or a fused recurrence summing per stage); with
 * `denseWeightGradient` a fused recurrence instead sums dW = x^T g of the whole matrix per use and
 * takes the factors' gradients from it once (stageGradientsFromDense; see @tensorized/cells'
 * gruSequence).
 */
export function matmulCost(
  w: MatrixShape,
  path: MatmulPath,
  batch: number,
  options: { groups?: readonly number[]; backward?: boolean; denseWeightGradient?: boolean } = {},
): PathCost {
  const n = prod(w.inModes);
  const m = prod(w.outModes);
  const prepare = zero();
  const apply = zero();
  const d = w.inModes.length;
  // The products of one use as (rows, inner, outer, elements its view transposes), for the backward.
  const products: Array<[number, number, number, number]> = [];
  // FLOPs of the factors' gradients from a dense dW (stageGradientsFromDense), for the backward.
  let closedFormFlops = 0;
  switch (w.kind) {
    case 'tt-matrix': {
      const r = w.ranks;
      if (path === 'factorised') {
        const groups = options.groups ?? w.inModes.map(() => 1);
        // Cores merged by groups (contract/tt.ts groupTtCores), laid out, packed by the backend.
        const gn: number[] = [];
        const gm: number[] = [];
        const gr: number[] = [r[0]!];
        let lo = 0;
        for (const g of groups) {
          const [ng, mg] = mergeTtCoresCost(prepare, w.inModes, w.outModes, r, lo, lo + g);
          gn.push(ng);
          gm.push(mg);
          lo += g;
          gr.push(r[lo]!);
          const size = r[lo - g]! * ng * mg * r[lo]!;
          add(prepare, 0, 2, size, 0, size);
        }
        // Per use (ttStages): per core an optional transpose, one matMul, reshapes.
        for (let k = 0; k < gn.length; k++) {
          const rows = batch * prod(gm.slice(0, k)) * prod(gn.slice(k + 1));
          const inner = gn[k]! * gr[k]!;
          const coreSize = inner * gm[k]! * gr[k + 1]!;
          const { needed } = ttStageLayout(k, gn, gm, gr);
          add(apply, 2 * rows * coreSize, needed ? 4 : 2, needed ? rows * inner : 0, coreSize);
          products.push([rows, inner, gm[k]! * gr[k + 1]!, needed ? rows * inner : 0]);
          const before = prod(gn.slice(0, k)) * prod(gm.slice(0, k));
          closedFormFlops +=
            (k > 0 ? 2 * n * m * gr[k]! : 0) + (k < gn.length - 1 ? (2 * n * m * gr[k]! * gr[k + 1]!) / before : 0);
        }
        add(apply, 0, 1, 0);
      } else {
        add(prepare, 0, 1, 0);
        mergeTtCoresCost(prepare, w.inModes, w.outModes, r, 0, d);
        add(prepare, 0, 0, 0, 0, n * m);
        Object.assign(apply, denseMatmulCost(batch, n, m));
      }
      break;
    }
    case 'cp-matrix': {
      khatriRaoCost(prepare, w.inModes, w.rank);
      khatriRaoCost(prepare, w.outModes, w.rank);
      if (w.weights !== undefined) add(prepare, n * w.rank, 2, n * w.rank);
      if (path === 'factorised') {
        add(apply, 2 * batch * w.rank * (n + m), 2, 0, w.rank * (n + m));
        products.push([batch, n, w.rank, 0], [batch, w.rank, m, 0]);
        closedFormFlops = 4 * n * m * w.rank;
      } else {
        add(prepare, 2 * n * m * w.rank, 1, 0, m * w.rank, n * m);
        Object.assign(apply, denseMatmulCost(batch, n, m));
      }
      break;
    }
    case 'tucker-matrix': {
      const inRanks = w.inRanks;
      const outRanks = w.outRanks ?? w.inRanks;
      const rin = prod(inRanks);
      if (path === 'factorised') {
        // K_A by Kronecker products, C K_B^T by mode products; then two matMuls per use.
        let rows = w.inModes[0]!;
        let cols = inRanks[0]!;
        for (let k = 1; k < d; k++) {
          rows *= w.inModes[k]!;
          cols *= inRanks[k]!;
          add(prepare, rows * cols, 5, rows * cols);
        }
        add(prepare, 0, 1, 0);
        modeProductsCost(prepare, rin, outRanks, w.outModes);
        add(apply, 2 * batch * rin * (n + m), 2, 0, rin * (n + m));
        products.push([batch, n, rin, 0], [batch, rin, m, 0]);
        closedFormFlops = 4 * n * m * rin;
      } else {
        add(prepare, 0, 2, 0);
        modeProductsCost(prepare, 1, [...inRanks, ...outRanks], [...w.inModes, ...w.outModes]);
        add(prepare, 0, 0, 0, 0, n * m);
        Object.assign(apply, denseMatmulCost(batch, n, m));
      }
      break;
    }
  }
  if (products.length === 0) products.push([batch, n, m, 0]); // rebuild: one dense product
  if (options.backward) {
    // Per use, per product y = x M: the input's gradient g M^T and M's gradient x^T g (both FLOPs of
    // the forward), the view's inverse transpose, x transposed (a wide transpose) and g repacked for
    // x^T g (the transposed product of @tensorized/backends' wasm matMul); once per preparation, M^T made and packed, and the
    // preparation's own backward (about twice its forward).
    const [pf, po, pm] = [prepare.flops, prepare.ops, prepare.moved];
    add(prepare, 2 * pf, 2 * po, 2 * pm);
    const dense = options.denseWeightGradient === true;
    for (const [rows, inner, outer, viewMoved] of products) {
      add(prepare, 0, 1, inner * outer, 0, inner * outer);
      if (dense) {
        // The input's gradient only; the stages' shares of dW are small products once (below).
        add(apply, 2 * rows * inner * outer, viewMoved > 0 ? 4 : 2, viewMoved, inner * outer);
      } else {
        add(apply, 4 * rows * inner * outer, viewMoved > 0 ? 6 : 4, viewMoved, inner * outer, rows * outer);
        apply.wide = (apply.wide ?? 0) + rows * inner;
      }
    }
    if (dense) {
      // dW = x^T g per use (x transposed, g repacked); once, dW interleaved and
      // each stage's gradient from it (two small products per TT core, one per CP or Tucker factor).
      add(apply, 2 * batch * n * m, 1, 0, 0, batch * m);
      apply.wide = (apply.wide ?? 0) + batch * n;
      add(prepare, closedFormFlops, 4 * products.length, n * m, 0, n * m * products.length);
    }
  }
  return { prepare, apply };
}
