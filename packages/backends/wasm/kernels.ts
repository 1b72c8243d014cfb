// The fused kernels of @tensorized/backends (src/fused_kernels.ts) compiled into WebAssembly with
// 128-bit SIMD, for the wasm backend: they read and write the backend's own heap (its memory is
// imported), so a kernel call moves no data. AssemblyScript; compiled by scripts/build-wasm.mjs into
// src/kernels_wasm.generated.ts. Every argument named like a tensor is a byte offset into the heap.
//
// Nothing here may use static data (a lookup table, a string): the module's data segments would be
// written into the backend's heap at start-up. The build refuses a module with a data section,
// which is why exp is our own polynomial below and not Mathf.exp (a table-driven port of musl).
// The kernels need H (the hidden size) a multiple of 4; src/fused_kernels.ts runs the JavaScript
// loops otherwise. Adam takes any length. matmul (the small products of src/wasm_kernels.ts) needs
// N a multiple of 4.

const LOG2E: f32 = 1.4426950408889634;
// ln 2 split in a part exact in float32 and the rest (Cody and Waite), so that x - n ln2 stays exact.
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.428606765330187e-6;
// 1.5 2^23 + 127: added to y = x log2(e) in [-126, 127] (x clamped), float32 rounds y to an integer
// and keeps y + 127 in the low bits of the sum (a shifter constant; the 1.5 keeps negative y in the
// same binade).
const ROUND_127: f32 = 12583039.0;

/** exp(x) in 4 lanes: x = n ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor polynomial of degree 6
 * (relative error below 2.3e-7 on that interval), 2^n through the exponent bits. x is clamped to
 * [-87, 88], inside float32's normal range. pmin and pmax (one x86 instruction each; a NaN stays
 * NaN) and not min and max, whose IEEE semantics cost V8 several instructions: 3.1 -> 2.1 ns per
 * value on this machine. */
// @ts-ignore: decorator
@inline
function exp4(x: v128): v128 {
  x = f32x4.pmin(f32x4.pmax(x, f32x4.splat(-87.0)), f32x4.splat(88.0));
  // x log2(e) + ROUND_127 rounds to an integer (float32's spacing there is 1; ties to even, as
  // f32x4.nearest): n is that integer, and the low bits of the sum are n + 127, the exponent of 2^n.
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), f32x4.splat(ROUND_127));
  const n = f32x4.sub(t, f32x4.splat(ROUND_127));
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.0 / 720.0);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0));
  // (n + 127) << 23 is 2^n; the sum's higher bits shift out.
  return f32x4.mul(p, i32x4.shl(t, 23));
}

// @ts-ignore: decorator
@inline
function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1.0);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

// @ts-ignore: decorator
@inline
function hardSigmoid4(x: v128): v128 {
  const y = f32x4.add(f32x4.mul(x, f32x4.splat(0.2)), f32x4.splat(0.5));
  return f32x4.pmin(f32x4.pmax(y, f32x4.splat(0.0)), f32x4.splat(1.0));
}

// @ts-ignore: decorator
@inline
function gate4(x: v128, hard: bool): v128 {
  return hard ? hardSigmoid4(x) : sigmoid4(x);
}

/** gate'(x) from the gate's value s: s (1 - s) for the sigmoid, 0.2 inside hardSigmoid's slope. */
// @ts-ignore: decorator
@inline
function gateGrad4(s: v128, hard: bool): v128 {
  if (!hard) return f32x4.mul(s, f32x4.sub(f32x4.splat(1.0), s));
  const inside = v128.and(f32x4.gt(s, f32x4.splat(0.0)), f32x4.lt(s, f32x4.splat(1.0)));
  return v128.and(inside, f32x4.splat(0.2));
}

/**
 * Reads the 4 bytes at p and drops them: brings p's cache line in while the arithmetic around it
 * runs. The step kernels read the next step's rows of their large inputs this way, a little per
 * iteration (see gruStepT's warmNext): those rows were written long before (a whole sequence's
 * x W + b_W, the forward pass's saved gates), and a step that meets them cold waits on memory, 12
 * streams at a time, which the hardware prefetchers do not follow.
 */
// @ts-ignore: decorator
@inline
function touch(p: usize): void {
  load<i32>(p);
}

/**
 * One GRU step, reset gate after U (src/fused_kernels.ts, gruStep): a (T, B, 3H) = x W + b_W, or
 * (B, T, 3H) when aT (its T) is not 0; uh (B, 3H) = U h, bU (3H), h (B, H), mask (T, B, 1) or 0 for
 * none; writes next (B, H) and, when rOut is not 0, r, z, n and un = (U h)_n + b_n (B, H each).
 */
export function gruStep(
  a: usize,
  uh: usize,
  bU: usize,
  h: usize,
  mask: usize,
  next: usize,
  rOut: usize,
  zOut: usize,
  nOut: usize,
  unOut: usize,
  t: i32,
  B: i32,
  H: i32,
  hard: bool,
  aT: i32,
  warmNext: bool,
): void {
  const row = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const m: f32 = mask != 0 ? load<f32>(mask + ((<usize>(t * B + b)) << 2)) : 1.0;
    const ar = a + <usize>(aT != 0 ? b * aT + t : t * B + b) * 3 * row;
    // Row b of the next step's a (see warmNext in gruStepT); this row's own when there is none.
    const aw = warmNext ? a + <usize>(aT != 0 ? b * aT + t + 1 : (t + 1) * B + b) * 3 * row : ar;
    const ur = uh + <usize>b * 3 * row;
    const o = <usize>b * row;
    for (let j: usize = 0; j < row; j += 16) {
      touch(aw + 3 * j);
      const u = ur + j;
      const stepped = gruLanes(ar, v128.load(u), v128.load(u + row), v128.load(u + 2 * row), bU, v128.load(h + o + j), m, row, j, o, rOut, zOut, nOut, unOut, hard);
      v128.store(next + o + j, stepped);
    }
  }
}

// Columns of a 4 x 4 block held as 4 rows v0..v3 (lane k of row i is element (i, k)): col_k holds
// element (i, k) in lane i. Written per column so that each is one inline expression; the shared
// shuffles are computed once after inlining.
// @ts-ignore: decorator
@inline
function col0(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), 0, 1, 4, 5);
}
// @ts-ignore: decorator
@inline
function col1(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), 2, 3, 6, 7);
}
// @ts-ignore: decorator
@inline
function col2(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), v128.shuffle<f32>(v2, v3, 2, 6, 3, 7), 0, 1, 4, 5);
}
// @ts-ignore: decorator
@inline
function col3(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  return v128.shuffle<f32>(v128.shuffle<f32>(v0, v1, 2, 6, 3, 7), v128.shuffle<f32>(v2, v3, 2, 6, 3, 7), 2, 3, 6, 7);
}

/** One batch row's 4 units of gruStep from its U h values (ur, uz, un without bias); returns h'. */
// @ts-ignore: decorator
@inline
function gruLanes(
  ar: usize,
  ur: v128,
  uz: v128,
  un0: v128,
  bU: usize,
  hp: v128,
  m: f32,
  row: usize,
  j: usize,
  o: usize,
  rOut: usize,
  zOut: usize,
  nOut: usize,
  unOut: usize,
  hard: bool,
): v128 {
  const one = f32x4.splat(1.0);
  const two = f32x4.splat(2.0);
  const r = gate4(f32x4.add(f32x4.add(v128.load(ar + j), ur), v128.load(bU + j)), hard);
  const z = gate4(f32x4.add(f32x4.add(v128.load(ar + row + j), uz), v128.load(bU + row + j)), hard);
  const un = f32x4.add(un0, v128.load(bU + 2 * row + j));
  const pre = f32x4.add(v128.load(ar + 2 * row + j), f32x4.mul(r, un));
  const n = f32x4.sub(f32x4.mul(two, sigmoid4(f32x4.mul(two, pre))), one);
  const stepped = f32x4.add(n, f32x4.mul(z, f32x4.sub(hp, n)));
  if (rOut != 0) {
    v128.store(rOut + o + j, r);
    v128.store(zOut + o + j, z);
    v128.store(nOut + o + j, n);
    v128.store(unOut + o + j, un);
  }
  return m == 1.0 ? stepped : f32x4.add(hp, f32x4.mul(f32x4.splat(m), f32x4.sub(stepped, hp)));
}

/**
 * gruStep with U h flipped: uhT (3H, B) = (U h)^T, and h' also written transposed into nextT (H, B)
 * (0: not); B and H multiples of 4. The same arithmetic as gruStep, bit for bit, on 4 x 4 blocks
 * (4 batch rows by 4 units) transposed in registers: no separate transpose passes.
 */
export function gruStepT(
  a: usize,
  uhT: usize,
  bU: usize,
  h: usize,
  mask: usize,
  next: usize,
  nextT: usize,
  rOut: usize,
  zOut: usize,
  nOut: usize,
  unOut: usize,
  t: i32,
  B: i32,
  H: i32,
  hard: bool,
  aT: i32,
  warmNext: bool,
): void {
  const row = <usize>H << 2;
  const colB = <usize>B << 2;
  const gateT = <usize>H * colB;
  for (let b0 = 0; b0 < B; b0 += 4) {
    let m0: f32 = 1.0, m1: f32 = 1.0, m2: f32 = 1.0, m3: f32 = 1.0;
    if (mask != 0) {
      const mp = mask + ((<usize>(t * B + b0)) << 2);
      m0 = load<f32>(mp); m1 = load<f32>(mp, 4); m2 = load<f32>(mp, 8); m3 = load<f32>(mp, 12);
    }
    const ar0 = a + <usize>(aT != 0 ? b0 * aT + t : t * B + b0) * 3 * row;
    const aStep = <usize>(aT != 0 ? aT : 1) * 3 * row;
    const ar1 = ar0 + aStep, ar2 = ar1 + aStep, ar3 = ar2 + aStep;
    // The same rows of the next step's a, read into cache on the way (warmNext); else these rows.
    const aw0 = warmNext ? a + <usize>(aT != 0 ? b0 * aT + t + 1 : (t + 1) * B + b0) * 3 * row : ar0;
    const aw1 = aw0 + aStep, aw2 = aw1 + aStep, aw3 = aw2 + aStep;
    const o0 = <usize>b0 * row;
    const o1 = o0 + row, o2 = o1 + row, o3 = o2 + row;
    for (let j: usize = 0; j < row; j += 16) {
      const w = 3 * j;
      touch(aw0 + w); touch(aw1 + w); touch(aw2 + w); touch(aw3 + w);
      // Rows j/4 .. j/4 + 3 of each gate's block of uhT, columns b0 .. b0 + 3.
      const pr = uhT + (j >> 2) * colB + (<usize>b0 << 2);
      const r0 = v128.load(pr), r1 = v128.load(pr + colB), r2 = v128.load(pr + 2 * colB), r3 = v128.load(pr + 3 * colB);
      const pz = pr + gateT;
      const z0 = v128.load(pz), z1 = v128.load(pz + colB), z2 = v128.load(pz + 2 * colB), z3 = v128.load(pz + 3 * colB);
      const pn = pz + gateT;
      const n0 = v128.load(pn), n1 = v128.load(pn + colB), n2 = v128.load(pn + 2 * colB), n3 = v128.load(pn + 3 * colB);
      const h0 = v128.load(h + o0 + j), h1 = v128.load(h + o1 + j), h2 = v128.load(h + o2 + j), h3 = v128.load(h + o3 + j);
      const s0 = gruLanes(ar0, col0(r0, r1, r2, r3), col0(z0, z1, z2, z3), col0(n0, n1, n2, n3), bU, h0, m0, row, j, o0, rOut, zOut, nOut, unOut, hard);
      const s1 = gruLanes(ar1, col1(r0, r1, r2, r3), col1(z0, z1, z2, z3), col1(n0, n1, n2, n3), bU, h1, m1, row, j, o1, rOut, zOut, nOut, unOut, hard);
      const s2 = gruLanes(ar2, col2(r0, r1, r2, r3), col2(z0, z1, z2, z3), col2(n0, n1, n2, n3), bU, h2, m2, row, j, o2, rOut, zOut, nOut, unOut, hard);
      const s3 = gruLanes(ar3, col3(r0, r1, r2, r3), col3(z0, z1, z2, z3), col3(n0, n1, n2, n3), bU, h3, m3, row, j, o3, rOut, zOut, nOut, unOut, hard);
      v128.store(next + o0 + j, s0);
      v128.store(next + o1 + j, s1);
      v128.store(next + o2 + j, s2);
      v128.store(next + o3 + j, s3);
      if (nextT != 0) {
        const q = nextT + (j >> 2) * colB + (<usize>b0 << 2);
        v128.store(q, col0(s0, s1, s2, s3));
        v128.store(q + colB, col1(s0, s1, s2, s3));
        v128.store(q + 2 * colB, col2(s0, s1, s2, s3));
        v128.store(q + 3 * colB, col3(s0, s1, s2, s3));
      }
    }
  }
}

/**
 * The chain rule of one GRU step backwards (src/fused_kernels.ts, gruStepGrad): dy, h, r, z, n, un
 * (T, B, H), dy (B, T, H) when dyT (its T) is not 0; mask (T, B, 1) or 0; carry and gi (B, H), or
 * both 0 at the last step. Writes total (B, H), dU (B, 3H) = [dPreR, dPreZ, dPreN r] and dA (B, 3H)
 * = [dPreR, dPreZ, dPreN], the gradient of x W + b_W, its rows dAStride bytes apart (0: 3H values,
 * contiguous; a step's slot of a batch-major stack otherwise).
 */
export function gruStepGrad(
  dy: usize,
  h: usize,
  r: usize,
  z: usize,
  n: usize,
  un: usize,
  mask: usize,
  carry: usize,
  gi: usize,
  totalOut: usize,
  dUOut: usize,
  dAOut: usize,
  t: i32,
  B: i32,
  H: i32,
  hard: bool,
  dyT: i32,
  dAStride: i32,
): void {
  const carried = carry != 0;
  const row = <usize>H << 2;
  const cur = <usize>(t * B) * row;
  const nxt = <usize>((t + 1) * B) * row;
  for (let b = 0; b < B; b++) {
    const m: f32 = mask != 0 ? load<f32>(mask + ((<usize>(t * B + b)) << 2)) : 1.0;
    const mNext: f32 = mask != 0 && carried ? load<f32>(mask + ((<usize>((t + 1) * B + b)) << 2)) : 1.0;
    const o = <usize>b * row;
    const d = dUOut + <usize>b * 3 * row;
    const da = dAOut + <usize>b * (dAStride != 0 ? <usize>dAStride : 3 * row);
    const dyRow = dy + (dyT != 0 ? <usize>(b * dyT + t) * row : cur + o);
    for (let j: usize = 0; j < row; j += 16) {
      const giv = carried ? v128.load(gi + o + j) : f32x4.splat(0.0);
      gruGradLanes(dyRow, h, r, z, n, un, carry, giv, totalOut, d, da, cur, nxt, o, j, row, m, mNext, carried, hard);
    }
  }
}

/** log(1 + x) for x in [0, 1] in 4 lanes: 2 atanh(s) with s = x / (2 + x) in [0, 1/3] (no
 * cancellation for small x), by its series 2 s (1 + s^2/3 + ... + s^14/15): truncated there, the
 * relative error is below 2e-9 before float32's rounding. */
// @ts-ignore: decorator
@inline
function log1p01(x: v128): v128 {
  const s = f32x4.div(x, f32x4.add(x, f32x4.splat(2.0)));
  const s2 = f32x4.mul(s, s);
  let p = f32x4.splat(1.0 / 15.0);
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 13.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 11.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 9.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 7.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 5.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0 / 3.0));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1.0));
  return f32x4.mul(f32x4.add(s, s), p);
}

/** Binary cross-entropy of logits z against targets y in 4 lanes: max(z, 0) - z y + log(1 + exp(-|z|)). */
// @ts-ignore: decorator
@inline
function bce4(z: v128, y: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(z)));
  return f32x4.add(f32x4.sub(f32x4.pmax(z, f32x4.splat(0.0)), f32x4.mul(z, y)), log1p01(e));
}

/** sigmoid(z) - y in 4 lanes, sigmoid from e = exp(-|z|): 1 / (1 + e) for z >= 0, e / (1 + e) below. */
// @ts-ignore: decorator
@inline
function bceGrad4(z: v128, y: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(z)));
  const r = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const s = v128.bitselect(r, f32x4.mul(e, r), f32x4.ge(z, f32x4.splat(0.0)));
  return f32x4.sub(s, y);
}

/**
 * Per-row binary cross-entropy with logits (src/fused_kernels.ts, sigmoidCrossEntropy): z and y
 * (N x K), mask (N) or 0 for none; out[n] = mask[n] times the sum over k of bce(z, y), summed in 4
 * lanes, then the lanes, then the last K mod 4 values.
 */
export function sigmoidCrossEntropy(z: usize, y: usize, mask: usize, out: usize, N: i32, K: i32): void {
  const row = <usize>K << 2;
  const K4 = K & ~3;
  for (let n = 0; n < N; n++) {
    const zr = z + <usize>n * row;
    const yr = y + <usize>n * row;
    let acc = f32x4.splat(0.0);
    let k = 0;
    for (; k < K4; k += 4) {
      const at = <usize>k << 2;
      acc = f32x4.add(acc, bce4(v128.load(zr + at), v128.load(yr + at)));
    }
    let sum: f32 =
      f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + (f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3));
    for (; k < K; k++) {
      const at = <usize>k << 2;
      sum += f32x4.extract_lane(bce4(f32x4.splat(load<f32>(zr + at)), f32x4.splat(load<f32>(yr + at))), 0);
    }
    store<f32>(out + (<usize>n << 2), mask != 0 ? load<f32>(mask + (<usize>n << 2)) * sum : sum);
  }
}

/**
 * The gradient of sigmoidCrossEntropy with respect to z: dz[n, k] = dy[n] mask[n] (sigmoid(z) - y),
 * dy and mask (N) (mask 0 for none), z, y and dz (N x K).
 */
export function sigmoidCrossEntropyGrad(dy: usize, z: usize, y: usize, mask: usize, dz: usize, N: i32, K: i32): void {
  const row = <usize>K << 2;
  const K4 = K & ~3;
  for (let n = 0; n < N; n++) {
    const o = <usize>n * row;
    let g: f32 = load<f32>(dy + (<usize>n << 2));
    if (mask != 0) g *= load<f32>(mask + (<usize>n << 2));
    const gv = f32x4.splat(g);
    let k = 0;
    for (; k < K4; k += 4) {
      const at = o + (<usize>k << 2);
      v128.store(dz + at, f32x4.mul(gv, bceGrad4(v128.load(z + at), v128.load(y + at))));
    }
    for (; k < K; k++) {
      const at = o + (<usize>k << 2);
      store<f32>(dz + at, g * f32x4.extract_lane(bceGrad4(f32x4.splat(load<f32>(z + at)), f32x4.splat(load<f32>(y + at))), 0));
    }
  }
}

/**
 * Inverted dropout with a counter-based mask (src/fused_kernels.ts, dropout): y[i] = x[i] times
 * 1 / (1 - rate) (its bits `scaleBits`) when the top 24 bits of lowbias32(i 0x9e3779b9 + key) fall
 * below `threshold`, else times 0. Integer arithmetic modulo 2^32, as Math.imul and >>> compute it,
 * four indices at a time.
 */
export function dropout(x: usize, y: usize, count: i32, threshold: i32, scaleBits: i32, key: i32): void {
  const golden = i32x4.splat(0x9e3779b9);
  const keys = i32x4.splat(key);
  const m1 = i32x4.splat(0x7feb352d);
  const m2 = i32x4.splat(0x846ca68b);
  const limit = i32x4.splat(threshold);
  const scale = i32x4.splat(scaleBits);
  let index = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    let h = i32x4.add(i32x4.mul(index, golden), keys);
    h = v128.xor(h, i32x4.shr_u(h, 16));
    h = i32x4.mul(h, m1);
    h = v128.xor(h, i32x4.shr_u(h, 15));
    h = i32x4.mul(h, m2);
    h = v128.xor(h, i32x4.shr_u(h, 16));
    // All ones where (h >>> 8) - threshold is negative: kept.
    const kept = i32x4.shr_s(i32x4.sub(i32x4.shr_u(h, 8), limit), 31);
    const at = <usize>i << 2;
    v128.store(y + at, f32x4.mul(v128.load(x + at), v128.and(kept, scale)));
    index = i32x4.add(index, four);
  }
  for (; i < count; i++) {
    let h = i * 0x9e3779b9 + key;
    h ^= <i32>(<u32>h >> 16);
    h *= 0x7feb352d;
    h ^= <i32>(<u32>h >> 15);
    h *= 0x846ca68b;
    h ^= <i32>(<u32>h >> 16);
    const kept = (<i32>(<u32>h >> 8) - threshold) >> 31;
    const at = <usize>i << 2;
    store<f32>(y + at, load<f32>(x + at) * reinterpret<f32>(kept & scaleBits));
  }
}

/**
 * out[i] = cond[i] != 0 ? t[i] : e[i] for `count` 32-bit values, cond one byte per value (a bool
 * tensor): TF.js's Select on operands of one shape (src/wasm_kernels.ts), four values at a time.
 */
export function select(cond: usize, t: usize, e: usize, out: usize, count: i32): void {
  const zero = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= count; i += 4) {
    const c = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(cond + <usize>i)));
    const at = <usize>i << 2;
    v128.store(out + at, v128.bitselect(v128.load(t + at), v128.load(e + at), i32x4.ne(c, zero)));
  }
  for (; i < count; i++) {
    const at = <usize>i << 2;
    store<i32>(out + at, load<u8>(cond + <usize>i) != 0 ? load<i32>(t + at) : load<i32>(e + at));
  }
}

/** One batch row's 4 units of gruStepGrad, gi's values given (zero when not carried). */
// @ts-ignore: decorator
@inline
function gruGradLanes(
  dyRow: usize,
  h: usize,
  r: usize,
  z: usize,
  n: usize,
  un: usize,
  carry: usize,
  giv: v128,
  totalOut: usize,
  d: usize,
  da: usize,
  cur: usize,
  nxt: usize,
  o: usize,
  j: usize,
  row: usize,
  m: f32,
  mNext: f32,
  carried: bool,
  hard: bool,
): void {
  const one = f32x4.splat(1.0);
  let total = v128.load(dyRow + j);
  if (carried) {
    const through = f32x4.add(f32x4.mul(v128.load(z + nxt + o + j), f32x4.splat(mNext)), f32x4.splat(1.0 - mNext));
    total = f32x4.add(total, f32x4.add(f32x4.mul(v128.load(carry + o + j), through), giv));
  }
  const mv = f32x4.splat(m);
  const zt = v128.load(z + cur + o + j);
  const nt = v128.load(n + cur + o + j);
  const rt = v128.load(r + cur + o + j);
  const dn = f32x4.mul(f32x4.mul(f32x4.mul(total, f32x4.sub(one, zt)), f32x4.sub(one, f32x4.mul(nt, nt))), mv);
  const dr = f32x4.mul(f32x4.mul(dn, v128.load(un + cur + o + j)), gateGrad4(rt, hard));
  const dz = f32x4.mul(f32x4.mul(f32x4.mul(total, f32x4.sub(v128.load(h + cur + o + j), nt)), gateGrad4(zt, hard)), mv);
  v128.store(totalOut + o + j, total);
  v128.store(d + j, dr);
  v128.store(d + row + j, dz);
  v128.store(d + 2 * row + j, f32x4.mul(dn, rt));
  v128.store(da + j, dr);
  v128.store(da + row + j, dz);
  v128.store(da + 2 * row + j, dn);
}

/**
 * gruStepGrad with gi flipped, giT (H, B), and d(U h + b_U) also written transposed into dUT (3H, B);
 * B and H multiples of 4. The same arithmetic as gruStepGrad, bit for bit, on 4 x 4 blocks transposed
 * in registers: no separate transpose passes.
 */
export function gruStepGradT(
  dy: usize,
  h: usize,
  r: usize,
  z: usize,
  n: usize,
  un: usize,
  mask: usize,
  carry: usize,
  giT: usize,
  totalOut: usize,
  dUOut: usize,
  dUT: usize,
  dAOut: usize,
  t: i32,
  B: i32,
  H: i32,
  hard: bool,
  dyT: i32,
  dAStride: i32,
): void {
  const carried = carry != 0;
  const row = <usize>H << 2;
  const colB = <usize>B << 2;
  const gateT = <usize>H * colB;
  const cur = <usize>(t * B) * row;
  const nxt = <usize>((t + 1) * B) * row;
  const daRow = dAStride != 0 ? <usize>dAStride : 3 * row;
  const zero = f32x4.splat(0.0);
  for (let b0 = 0; b0 < B; b0 += 4) {
    let m0: f32 = 1.0, m1: f32 = 1.0, m2: f32 = 1.0, m3: f32 = 1.0;
    let n0: f32 = 1.0, n1: f32 = 1.0, n2: f32 = 1.0, n3: f32 = 1.0;
    if (mask != 0) {
      const mp = mask + ((<usize>(t * B + b0)) << 2);
      m0 = load<f32>(mp); m1 = load<f32>(mp, 4); m2 = load<f32>(mp, 8); m3 = load<f32>(mp, 12);
      if (carried) {
        const np = mp + (<usize>B << 2);
        n0 = load<f32>(np); n1 = load<f32>(np, 4); n2 = load<f32>(np, 8); n3 = load<f32>(np, 12);
      }
    }
    const o0 = <usize>b0 * row;
    const o1 = o0 + row, o2 = o1 + row, o3 = o2 + row;
    const d0 = dUOut + <usize>b0 * 3 * row;
    const d1 = d0 + 3 * row, d2 = d1 + 3 * row, d3 = d2 + 3 * row;
    const a0 = dAOut + <usize>b0 * daRow;
    const a1 = a0 + daRow, a2 = a1 + daRow, a3 = a2 + daRow;
    const y0 = dy + (dyT != 0 ? <usize>(b0 * dyT + t) * row : cur + o0);
    const yStep = dyT != 0 ? <usize>dyT * row : row;
    const y1 = y0 + yStep, y2 = y1 + yStep, y3 = y2 + yStep;
    for (let j: usize = 0; j < row; j += 16) {
      let g0 = zero, g1 = zero, g2 = zero, g3 = zero;
      if (carried) {
        const pg = giT + (j >> 2) * colB + (<usize>b0 << 2);
        const v0 = v128.load(pg), v1 = v128.load(pg + colB), v2 = v128.load(pg + 2 * colB), v3 = v128.load(pg + 3 * colB);
        g0 = col0(v0, v1, v2, v3); g1 = col1(v0, v1, v2, v3); g2 = col2(v0, v1, v2, v3); g3 = col3(v0, v1, v2, v3);
      }
      gruGradLanes(y0, h, r, z, n, un, carry, g0, totalOut, d0, a0, cur, nxt, o0, j, row, m0, n0, carried, hard);
      gruGradLanes(y1, h, r, z, n, un, carry, g1, totalOut, d1, a1, cur, nxt, o1, j, row, m1, n1, carried, hard);
      gruGradLanes(y2, h, r, z, n, un, carry, g2, totalOut, d2, a2, cur, nxt, o2, j, row, m2, n2, carried, hard);
      gruGradLanes(y3, h, r, z, n, un, carry, g3, totalOut, d3, a3, cur, nxt, o3, j, row, m3, n3, carried, hard);
      // The three gates' rows just written, transposed into dUT.
      for (let g: usize = 0; g < 3; g++) {
        const off = g * row + j;
        const v0 = v128.load(d0 + off), v1 = v128.load(d1 + off), v2 = v128.load(d2 + off), v3 = v128.load(d3 + off);
        const q = dUT + g * gateT + (j >> 2) * colB + (<usize>b0 << 2);
        v128.store(q, col0(v0, v1, v2, v3));
        v128.store(q + colB, col1(v0, v1, v2, v3));
        v128.store(q + 2 * colB, col2(v0, v1, v2, v3));
        v128.store(q + 3 * colB, col3(v0, v1, v2, v3));
      }
    }
  }
}

/**
 * A recurrence of flipped GRU steps in one call (src/fused_kernels.ts, gruSequence): at every step
 * t = 0 .. T - 1, (U h)^T = M_2^T (M_1^T h^T) through one or two plain stages (m2T 0: one, m1T
 * (3H x H); else m1T (R x H) and m2T (3H x R)) by matmul, then gruStepT: the same calls, in the same
 * order, as the step-by-step kernels make, so the same values bit for bit. h0 (B, H) and h0T (H, B)
 * the first state; `states` scratch for two states and their transposes (4 B H values). Writes the
 * states h_1..h_T into out, (T, B, H) or (B, T, H) when aT is not 0; when hs is not 0 (recorded),
 * also hs (T, B, H), the state each step starts from, and r, z, n, un into kept (4, T, B, H); when
 * mids is not 0, each step's M_1^T h^T into mids (T, R, B) (else into the scratch `mid`, (R, B)).
 * uhT: scratch (3H, B). B and H multiples of 4.
 */
export function gruSequenceT(
  a: usize,
  bU: usize,
  mask: usize,
  h0: usize,
  h0T: usize,
  m1T: usize,
  m2T: usize,
  R: i32,
  mids: usize,
  mid: usize,
  uhT: usize,
  states: usize,
  hs: usize,
  kept: usize,
  out: usize,
  T: i32,
  B: i32,
  H: i32,
  hard: bool,
  aT: i32,
): void {
  const bh = <usize>(B * H) << 2;
  const slab = <usize>T * bh;
  let h = h0;
  let hT = h0T;
  for (let t = 0; t < T; t++) {
    if (m2T != 0) {
      const m = mids != 0 ? mids + <usize>t * (<usize>(R * B) << 2) : mid;
      matmul(m1T, hT, m, R, H, B, 0, 0, 0.0);
      matmul(m2T, m, uhT, 3 * H, R, B, 0, 0, 0.0);
    } else matmul(m1T, hT, uhT, 3 * H, H, B, 0, 0, 0.0);
    const at = <usize>t * bh;
    if (hs != 0) memory.copy(hs + at, h, bh);
    // The two states alternate in `states`: next, nextT, then the other pair.
    const next = states + <usize>(t & 1) * 2 * bh;
    const nextT = next + bh;
    const r = hs != 0 ? kept + at : 0;
    gruStepT(a, uhT, bU, h, mask, next, nextT, r, r != 0 ? r + slab : 0, r != 0 ? r + 2 * slab : 0, r != 0 ? r + 3 * slab : 0, t, B, H, hard, aT, t + 1 < T);
    if (aT != 0) {
      const row = <usize>H << 2;
      for (let b = 0; b < B; b++) memory.copy(out + (<usize>(b * aT + t)) * row, next + <usize>b * row, row);
    } else memory.copy(out + at, next, bh);
    h = next;
    hT = nextT;
  }
}

/**
 * The backward pass of gruSequenceT in one call (src/fused_kernels.ts, gruSequenceGrad): at every
 * step t = T - 1 .. 0, gruStepGradT over the forward pass's stacks (dy (T, B, H), or (B, T, H) when
 * dyT is not 0; hs (T, B, H); kept (4, T, B, H); mask (T, B, 1) or 0), writing d(U h + b_U) into its
 * slot of dU (T, B, 3H) and d(x W + b_W) into its slot of dA ((T, B, 3H), or (B, T, 3H) when dyT is
 * not 0), then the gradient back through the stages flipped, gi^T = M_1 (M_2 d(U h)^T) (m2 0: one
 * stage, m1 (H x 3H); else m2 (R x 3H) and m1 (H x R)), whose middle goes into gMids (T, R, B) when
 * that is not 0 (else the scratch `mid`). `work` is scratch for two totals and two gi^T (4 B H
 * values) and dUT for d(U h)^T (3H, B). Leaves the last total (B, H) and gi^T (H, B), those of step
 * 0, in totalOut and giOut. The same calls in the same order as the step-by-step kernels.
 */
export function gruSequenceGradT(
  dy: usize,
  hs: usize,
  kept: usize,
  mask: usize,
  m1: usize,
  m2: usize,
  R: i32,
  dA: usize,
  dU: usize,
  gMids: usize,
  mid: usize,
  dUT: usize,
  work: usize,
  totalOut: usize,
  giOut: usize,
  T: i32,
  B: i32,
  H: i32,
  hard: bool,
  dyT: i32,
): void {
  const bh = <usize>(B * H) << 2;
  const slab = <usize>T * bh;
  const row3 = <usize>(3 * H) << 2;
  let carry: usize = 0;
  let giT: usize = 0;
  for (let t = T - 1; t >= 0; t--) {
    const last = t == 0;
    const total = last ? totalOut : work + <usize>(t & 1) * 2 * bh;
    const gi = last ? giOut : total + bh;
    const da = dyT != 0 ? dA + <usize>t * row3 : dA + <usize>(t * B) * row3;
    const stride = dyT != 0 ? <i32>(<usize>T * row3) : <i32>row3;
    gruStepGradT(dy, hs, kept, kept + slab, kept + 2 * slab, kept + 3 * slab, mask, carry, giT, total, dU + <usize>(t * B) * row3, dUT, da, t, B, H, hard, dyT, stride);
    if (m2 != 0) {
      const m = gMids != 0 ? gMids + <usize>t * (<usize>(R * B) << 2) : mid;
      matmul(m2, dUT, m, R, 3 * H, B, 0, 0, 0.0);
      matmul(m1, m, gi, H, R, B, 0, 0, 0.0);
    } else matmul(m1, dUT, gi, H, 3 * H, B, 0, 0, 0.0);
    carry = total;
    giT = gi;
  }
}

/**
 * out's rows (n 4-byte values each) = x's where mask[row] (float32) is not 0, zeros where it is 0
 * (src/fused_kernels.ts, rowMask): one bulk copy or fill per row.
 */
export function rowMask(x: usize, mask: usize, out: usize, rows: i32, n: i32): void {
  const bytes = <usize>n << 2;
  for (let r = 0; r < rows; r++) {
    const at = <usize>r * bytes;
    if (load<f32>(mask + (<usize>r << 2)) != 0) memory.copy(out + at, x + at, bytes);
    else memory.fill(out + at, 0, bytes);
  }
}

/**
 * Copies `rows` runs of `bytes` bytes each, the i-th from src + i srcStride to dst + i dstStride
 * (byte offsets): a Concat along an inner axis, a strided Slice (src/wasm_kernels.ts), one call where
 * JavaScript would make a typed-array view per run.
 */
export function copyRows(src: usize, dst: usize, rows: i32, bytes: i32, srcStride: i32, dstStride: i32): void {
  for (let i = 0; i < rows; i++) memory.copy(dst + <usize>i * dstStride, src + <usize>i * srcStride, <usize>bytes);
}

/**
 * dst (A, C, B, D) = src (A, B, C, D), the two middle axes swapped and each run of D 4-byte values
 * kept whole: a Transpose by [0, 2, 1, 3] once its axes are merged (src/wasm_kernels.ts), the layout
 * change between a TT-matrix's cores. The output is written in order, each run copied 4 values at a
 * time and its remainder (if the run has 4 values or more) as its last 4 values, else one at a time.
 */
export function swapMiddleAxes(src: usize, dst: usize, A: i32, B: i32, C: i32, D: i32): void {
  const run = <usize>D << 2;
  const run4 = run & ~(<usize>15);
  const strideB = <usize>C * run;
  let out = dst;
  for (let a = 0; a < A; a++) {
    const fromA = src + <usize>a * <usize>B * strideB;
    for (let c = 0; c < C; c++) {
      let from = fromA + <usize>c * run;
      for (let b = 0; b < B; b++) {
        let j: usize = 0;
        for (; j < run4; j += 16) v128.store(out + j, v128.load(from + j));
        // The remainder of a run of 4 values or more: its last 4 values at once, overlapping values
        // already copied (the same values: the output is written in order).
        if (j < run && run >= 16) v128.store(out + run - 16, v128.load(from + run - 16));
        else for (; j < run; j += 4) store<u32>(out + j, load<u32>(from + j));
        out += run;
        from += strideB;
      }
    }
  }
}

/** Rows and columns of the tiles transpose works in. */
const TRANSPOSE_TILE: i32 = 16;
/**
 * Rows (of src) and columns of the tiles transpose works in where dst's rows lie a multiple of 2 KiB
 * apart: then the tile's rows of dst fall into one or two sets of the L1 cache (64 sets of 64
 * bytes), and 16 of them, more than its 12 ways, evict each other before their lines are full.
 * Eight rows of dst, 64 values each, stay. Alternating, ad hoc (2026-12-06, us): 2048 x 80 165 ->
 * 22, 1536 x 80 44 -> 14, 512 x 1536 187 -> 148, 2048 x 512 1220 -> 205, 16384 x 352 7312 -> 2691;
 * other shapes keep TRANSPOSE_TILE (960 x 1536 189 against 268, 784 x 1536 159 against 221).
 */
const TRANSPOSE_ALIASED_ROWS: i32 = 64;
const TRANSPOSE_ALIASED_COLS: i32 = 8;

/**
 * dst (cols x rows) = src (rows x cols) transposed, row-major 4-byte values: the flipped layouts of
 * the GRU step kernels (src/fused_kernels.ts), and the matrix transposes of src/wasm_kernels.ts's
 * Transpose. Blocks of 4 x 4 turned in registers (eight shuffles), in tiles of TRANSPOSE_TILE; the
 * rows and columns left over one value at a time.
 */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32): void {
  const rowS = <usize>cols << 2;
  const rowD = <usize>rows << 2;
  const r4 = rows & ~3;
  const c4 = cols & ~3;
  // In tiles of TRANSPOSE_TILE rows by TRANSPOSE_TILE columns: the tile's rows of dst stay in L1
  // while its 4 x 4 blocks fill them, where a strip of 4 rows across all columns would write to
  // `cols` lines of dst a row apart before coming back to the first. Narrower tiles where dst's
  // rows are a multiple of 2 KiB apart (see TRANSPOSE_ALIASED_ROWS).
  const aliased = (rowD & 2047) == 0;
  const tileRows = aliased ? TRANSPOSE_ALIASED_ROWS : TRANSPOSE_TILE;
  const tileCols = aliased ? TRANSPOSE_ALIASED_COLS : TRANSPOSE_TILE;
  for (let i0 = 0; i0 < r4; i0 += tileRows) {
    const i1 = min(i0 + tileRows, r4);
    for (let j0 = 0; j0 < c4; j0 += tileCols) {
      const j1 = min(j0 + tileCols, c4);
      for (let i = i0; i < i1; i += 4) {
        const s = src + <usize>i * rowS;
        const d = dst + (<usize>i << 2);
        for (let j = j0; j < j1; j += 4) {
          const at = s + (<usize>j << 2);
          const v0 = v128.load(at);
          const v1 = v128.load(at + rowS);
          const v2 = v128.load(at + 2 * rowS);
          const v3 = v128.load(at + 3 * rowS);
          const t0 = v128.shuffle<f32>(v0, v1, 0, 4, 1, 5);
          const t1 = v128.shuffle<f32>(v2, v3, 0, 4, 1, 5);
          const t2 = v128.shuffle<f32>(v0, v1, 2, 6, 3, 7);
          const t3 = v128.shuffle<f32>(v2, v3, 2, 6, 3, 7);
          const o = d + <usize>j * rowD;
          v128.store(o, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
          v128.store(o + rowD, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
          v128.store(o + 2 * rowD, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
          v128.store(o + 3 * rowD, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
        }
      }
    }
    for (let i = i0; i < i1; i += 4) {
      const s = src + <usize>i * rowS;
      const d = dst + (<usize>i << 2);
      for (let j = c4; j < cols; j++)
        for (let q = 0; q < 4; q++) store<f32>(d + <usize>j * rowD + (<usize>q << 2), load<f32>(s + <usize>q * rowS + (<usize>j << 2)));
    }
  }
  for (let i = r4; i < rows; i++)
    for (let j = 0; j < cols; j++)
      store<f32>(dst + <usize>j * rowD + (<usize>i << 2), load<f32>(src + <usize>i * rowS + (<usize>j << 2)));
}

/**
 * One Adam update (src/fused_kernels.ts, adam) of `count` values: w, m, v, g in, wOut, mOut, vOut
 * out; c1 = 1 - beta1^step and c2 = 1 - beta2^step.
 */
export function adam(
  w: usize,
  m: usize,
  v: usize,
  g: usize,
  wOut: usize,
  mOut: usize,
  vOut: usize,
  count: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  c1: f32,
  c2: f32,
  scale: f32,
): void {
  const b1 = f32x4.splat(beta1);
  const b2 = f32x4.splat(beta2);
  const a1 = f32x4.splat(1.0 - beta1);
  const a2 = f32x4.splat(1.0 - beta2);
  const s = f32x4.splat(scale);
  const step = f32x4.splat(lr / c1);
  const inv2 = f32x4.splat(1.0 / c2);
  const e = f32x4.splat(eps);
  const end = <usize>count << 2;
  const vec = end & ~(<usize>15);
  for (let i: usize = 0; i < vec; i += 16) {
    const gi = f32x4.mul(v128.load(g + i), s);
    const mi = f32x4.add(f32x4.mul(b1, v128.load(m + i)), f32x4.mul(a1, gi));
    const vi = f32x4.add(f32x4.mul(b2, v128.load(v + i)), f32x4.mul(a2, f32x4.mul(gi, gi)));
    v128.store(mOut + i, mi);
    v128.store(vOut + i, vi);
    const denom = f32x4.add(f32x4.sqrt(f32x4.mul(vi, inv2)), e);
    v128.store(wOut + i, f32x4.sub(v128.load(w + i), f32x4.div(f32x4.mul(step, mi), denom)));
  }
  for (let i = vec; i < end; i += 4) {
    const gi = load<f32>(g + i) * scale;
    const mi = beta1 * load<f32>(m + i) + (1.0 - beta1) * gi;
    const vi = beta2 * load<f32>(v + i) + (1.0 - beta2) * gi * gi;
    store<f32>(mOut + i, mi);
    store<f32>(vOut + i, vi);
    store<f32>(wOut + i, load<f32>(w + i) - ((lr / c1) * mi) / (Mathf.sqrt(vi / c2) + eps));
  }
}

/**
 * Adam for many variables in one call (src/fused_kernels.ts, adamAll), with gradient-norm clipping
 * over all of them: `list` holds n entries of 8 i32 (w, m, v, g, wOut, mOut, vOut, count). First the
 * norm of all gradients, summed in float64 (two lanes of squares per half of a vector, in order
 * within a lane), written as float32 to normOut; then every variable's update with its gradients
 * times clip / (norm + 1e-6) where the norm exceeds clip, else 1.
 */
export function adamAll(
  list: usize,
  n: i32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  c1: f32,
  c2: f32,
  clip: f64,
  normOut: usize,
): void {
  let s0 = f64x2.splat(0.0);
  let s1 = f64x2.splat(0.0);
  let tail: f64 = 0.0;
  for (let k = 0; k < n; k++) {
    const p = list + (<usize>k << 5);
    const g = <usize>load<i32>(p, 12);
    const end = <usize>load<i32>(p, 28) << 2;
    const vec = end & ~(<usize>15);
    for (let i: usize = 0; i < vec; i += 16) {
      const x = v128.load(g + i);
      const lo = f64x2.promote_low_f32x4(x);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 0, 1));
      s0 = f64x2.add(s0, f64x2.mul(lo, lo));
      s1 = f64x2.add(s1, f64x2.mul(hi, hi));
    }
    for (let i = vec; i < end; i += 4) {
      const x = <f64>load<f32>(g + i);
      tail += x * x;
    }
  }
  const sum = f64x2.extract_lane(s0, 0) + f64x2.extract_lane(s0, 1) + f64x2.extract_lane(s1, 0) + f64x2.extract_lane(s1, 1) + tail;
  const norm = Math.sqrt(sum);
  store<f32>(normOut, <f32>norm);
  const scale: f32 = norm > clip ? <f32>(clip / (norm + 1e-6)) : 1.0;
  for (let k = 0; k < n; k++) {
    const p = list + (<usize>k << 5);
    adam(
      <usize>load<i32>(p), <usize>load<i32>(p, 4), <usize>load<i32>(p, 8), <usize>load<i32>(p, 12),
      <usize>load<i32>(p, 16), <usize>load<i32>(p, 20), <usize>load<i32>(p, 24), load<i32>(p, 28),
      lr, beta1, beta2, eps, c1, c2, scale,
    );
  }
}


/**
 * The Khatri-Rao product (column-wise Kronecker product) of a (p x R) and b (q x R): out (pq x R),
 * row i q + j the product of row i of a and row j of b (src/fused_kernels.ts, khatriRao).
 */
export function khatriRao(a: usize, b: usize, out: usize, p: i32, q: i32, R: i32): void {
  const row = <usize>R << 2;
  const vec = row & ~(<usize>15);
  let o = out;
  for (let i = 0; i < p; i++) {
    const ai = a + <usize>i * row;
    for (let j = 0; j < q; j++) {
      const bj = b + <usize>j * row;
      let c: usize = 0;
      for (; c < vec; c += 16) v128.store(o + c, f32x4.mul(v128.load(ai + c), v128.load(bj + c)));
      for (; c < row; c += 4) store<f32>(o + c, load<f32>(ai + c) * load<f32>(bj + c));
      o += row;
    }
  }
}

/**
 * The gradient of khatriRao: from dy (pq x R), da (p x R) with da[i] = sum_j dy[i q + j] b[j], and
 * db (q x R) with db[j] = sum_i dy[i q + j] a[i], both summed in order of j and of i.
 */
export function khatriRaoGrad(dy: usize, a: usize, b: usize, da: usize, db: usize, p: i32, q: i32, R: i32): void {
  const row = <usize>R << 2;
  const vec = row & ~(<usize>15);
  memory.fill(db, 0, <usize>q * row);
  let d = dy;
  for (let i = 0; i < p; i++) {
    const ai = a + <usize>i * row;
    const dai = da + <usize>i * row;
    memory.fill(dai, 0, row);
    for (let j = 0; j < q; j++) {
      const bj = b + <usize>j * row;
      const dbj = db + <usize>j * row;
      let c: usize = 0;
      for (; c < vec; c += 16) {
        const g = v128.load(d + c);
        v128.store(dai + c, f32x4.add(v128.load(dai + c), f32x4.mul(g, v128.load(bj + c))));
        v128.store(dbj + c, f32x4.add(v128.load(dbj + c), f32x4.mul(g, v128.load(ai + c))));
      }
      for (; c < row; c += 4) {
        const g = load<f32>(d + c);
        store<f32>(dai + c, load<f32>(dai + c) + g * load<f32>(bj + c));
        store<f32>(dbj + c, load<f32>(dbj + c) + g * load<f32>(ai + c));
      }
      d += row;
    }
  }
}

/**
 * A product's epilogue, as _FusedMatMul's separate ops would compute it: + bias (when its offset is
 * not 0) after the whole sum, then the activation (act 0: none, 1: relu, 2: leakyrelu, x < 0 ? alpha x : x).
 */
// @ts-ignore: decorator
@inline
function finish(s: v128, bias: usize, at: usize, act: i32, alpha: v128): v128 {
  if (bias) s = f32x4.add(s, v128.load(bias + at));
  if (act == 1) s = f32x4.pmax(s, f32x4.splat(0));
  else if (act == 2) s = v128.bitselect(f32x4.mul(s, alpha), s, f32x4.lt(s, f32x4.splat(0)));
  return s;
}

/** From this many columns up, a row left over is multiplied by rowTimesWide. */
const WIDE_ROW: i32 = 512;
/**
 * From this many values of B up (256 KiB, past L1 and most of L2), a row left over is multiplied by
 * rowTimesWide whatever the width: the 32-column blocks would read B from memory column block by
 * column block, each a whole row of B apart (1 x 2048 by 2048 x 256, a bias's gradient as column
 * sums: 66 -> 40 us hot).
 */
const WIDE_ROW_VALUES: i32 = 65536;

/**
 * c = a B for one row a (K values) and a wide B (K x N, N a multiple of 4), streaming through B's
 * rows in order, four at a time, with c accumulated in place: going down a column block instead
 * would stride a whole row of B (6 KiB for N = 1536) per step, past what the prefetcher follows.
 * Each c[j] is still 0 + a_0 b_0j + a_1 b_1j + ... in order, one multiply and one add per term,
 * the same sums as the column-block loops. Bias and activation on a last pass (see finish).
 */
// @ts-ignore: decorator
@inline
function rowTimesWide(a0: usize, b: usize, c0: usize, K: i32, N: i32, bias: usize, act: i32, alpha: v128): void {
  const rowB = <usize>N << 2;
  const bytes = rowB;
  for (let j: usize = 0; j < bytes; j += 16) v128.store(c0 + j, f32x4.splat(0));
  let k = 0;
  for (; k + 4 <= K; k += 4) {
    const ko = <usize>k << 2;
    const x0 = v128.load32_splat(a0 + ko), x1 = v128.load32_splat(a0 + ko + 4);
    const x2 = v128.load32_splat(a0 + ko + 8), x3 = v128.load32_splat(a0 + ko + 12);
    const p0 = b + <usize>k * rowB;
    const p1 = p0 + rowB, p2 = p1 + rowB, p3 = p2 + rowB;
    for (let j: usize = 0; j < bytes; j += 16) {
      let s = v128.load(c0 + j);
      s = f32x4.add(s, f32x4.mul(x0, v128.load(p0 + j)));
      s = f32x4.add(s, f32x4.mul(x1, v128.load(p1 + j)));
      s = f32x4.add(s, f32x4.mul(x2, v128.load(p2 + j)));
      s = f32x4.add(s, f32x4.mul(x3, v128.load(p3 + j)));
      v128.store(c0 + j, s);
    }
  }
  for (; k < K; k++) {
    const x0 = v128.load32_splat(a0 + (<usize>k << 2));
    const p0 = b + <usize>k * rowB;
    for (let j: usize = 0; j < bytes; j += 16)
      v128.store(c0 + j, f32x4.add(v128.load(c0 + j), f32x4.mul(x0, v128.load(p0 + j))));
  }
  if (bias != 0 || act != 0) for (let j: usize = 0; j < bytes; j += 16) v128.store(c0 + j, finish(v128.load(c0 + j), bias, j, act, alpha));
}

/**
 * C = A B for row-major float32 A (M x K), B (K x N), C (M x N), N a multiple of 4: the products
 * of a few rows with a matrix that stays in cache (a recurrent state by a factor, a TT core),
 * where XNNPACK (the backend's BatchMatMul) runs well below its peak. Four rows by eight columns
 * at a time in eight accumulators (one splat of A per row and two loads of B per k), the rows left
 * over one at a time by 32 columns; the columns left over by 4. Every sum runs over k in order, one
 * multiply and one add per term (no fused multiply-add in WebAssembly SIMD), as XNNPACK's does:
 * measured, the two agree bit for bit. Optionally + bias (N values; offset 0: none) and an
 * activation (act 1: relu, 2: leakyrelu with `leakyAlpha`) on the way out (see finish).
 */
export function matmul(
  a: usize,
  b: usize,
  c: usize,
  M: i32,
  K: i32,
  N: i32,
  bias: usize,
  act: i32,
  leakyAlpha: f32,
): void {
  const alpha = f32x4.splat(leakyAlpha);
  const rowA = <usize>K << 2;
  const rowB = <usize>N << 2;
  let i = 0;
  for (; i + 4 <= M; i += 4) {
    const a0 = a + <usize>i * rowA;
    const a1 = a0 + rowA, a2 = a1 + rowA, a3 = a2 + rowA;
    const c0 = c + <usize>i * rowB;
    const c1 = c0 + rowB, c2 = c1 + rowB, c3 = c2 + rowB;
    let j = 0;
    for (; j + 8 <= N; j += 8) {
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      let pb = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(pb), b1 = v128.load(pb, 16);
        const ko = <usize>k << 2;
        const x0 = v128.load32_splat(a0 + ko), x1 = v128.load32_splat(a1 + ko);
        const x2 = v128.load32_splat(a2 + ko), x3 = v128.load32_splat(a3 + ko);
        s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1));
        s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1));
        s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1));
        s30 = f32x4.add(s30, f32x4.mul(x3, b0)); s31 = f32x4.add(s31, f32x4.mul(x3, b1));
        pb += rowB;
      }
      const jo = <usize>j << 2;
      v128.store(c0 + jo, finish(s00, bias, jo, act, alpha)); v128.store(c0 + jo, finish(s01, bias, jo + 16, act, alpha), 16);
      v128.store(c1 + jo, finish(s10, bias, jo, act, alpha)); v128.store(c1 + jo, finish(s11, bias, jo + 16, act, alpha), 16);
      v128.store(c2 + jo, finish(s20, bias, jo, act, alpha)); v128.store(c2 + jo, finish(s21, bias, jo + 16, act, alpha), 16);
      v128.store(c3 + jo, finish(s30, bias, jo, act, alpha)); v128.store(c3 + jo, finish(s31, bias, jo + 16, act, alpha), 16);
    }
    for (; j < N; j += 4) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let pb = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const b0 = v128.load(pb);
        const ko = <usize>k << 2;
        s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(a0 + ko), b0));
        s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1 + ko), b0));
        s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2 + ko), b0));
        s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3 + ko), b0));
        pb += rowB;
      }
      const jo = <usize>j << 2;
      v128.store(c0 + jo, finish(s0, bias, jo, act, alpha)); v128.store(c1 + jo, finish(s1, bias, jo, act, alpha)); v128.store(c2 + jo, finish(s2, bias, jo, act, alpha)); v128.store(c3 + jo, finish(s3, bias, jo, act, alpha));
    }
  }
  for (; i < M; i++) {
    const a0 = a + <usize>i * rowA;
    const c0 = c + <usize>i * rowB;
    if (N >= WIDE_ROW || K * N >= WIDE_ROW_VALUES) {
      rowTimesWide(a0, b, c0, K, N, bias, act, alpha);
      continue;
    }
    let j = 0;
    for (; j + 32 <= N; j += 32) {
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
      let pb = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        const x = v128.load32_splat(a0 + (<usize>k << 2));
        s0 = f32x4.add(s0, f32x4.mul(x, v128.load(pb)));
        s1 = f32x4.add(s1, f32x4.mul(x, v128.load(pb, 16)));
        s2 = f32x4.add(s2, f32x4.mul(x, v128.load(pb, 32)));
        s3 = f32x4.add(s3, f32x4.mul(x, v128.load(pb, 48)));
        s4 = f32x4.add(s4, f32x4.mul(x, v128.load(pb, 64)));
        s5 = f32x4.add(s5, f32x4.mul(x, v128.load(pb, 80)));
        s6 = f32x4.add(s6, f32x4.mul(x, v128.load(pb, 96)));
        s7 = f32x4.add(s7, f32x4.mul(x, v128.load(pb, 112)));
        pb += rowB;
      }
      const jo = <usize>j << 2;
      const o = c0 + jo;
      v128.store(o, finish(s0, bias, jo, act, alpha)); v128.store(o, finish(s1, bias, jo + 16, act, alpha), 16); v128.store(o, finish(s2, bias, jo + 32, act, alpha), 32); v128.store(o, finish(s3, bias, jo + 48, act, alpha), 48);
      v128.store(o, finish(s4, bias, jo + 64, act, alpha), 64); v128.store(o, finish(s5, bias, jo + 80, act, alpha), 80); v128.store(o, finish(s6, bias, jo + 96, act, alpha), 96); v128.store(o, finish(s7, bias, jo + 112, act, alpha), 112);
    }
    for (; j < N; j += 4) {
      let s0 = f32x4.splat(0);
      let pb = b + (<usize>j << 2);
      for (let k = 0; k < K; k++) {
        s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(a0 + (<usize>k << 2)), v128.load(pb)));
        pb += rowB;
      }
      v128.store(c0 + (<usize>j << 2), finish(s0, bias, <usize>j << 2, act, alpha));
    }
  }
}

/** Rows of A and B (the summed axis) per block of matmulTN: blocks of A and B that stay in L2. */
const TN_BLOCK: i32 = 128;
/** Columns of B (a multiple of 8) matmulTN takes at a time: a block of B, 128 KiB, stays in cache for every column of A. */
const TN_COLS: i32 = 256;

/**
 * C = A^T B for row-major float32 A (K x M), B (K x N), C (M x N), N a multiple of 4: a weight
 * gradient, the summed axis K the long one (all time steps and rows of a batch), without
 * transposing A or packing B. Four columns of A by eight of B at a time in eight accumulators, as
 * matmul does with rows, over blocks of TN_BLOCK rows of A and B and TN_COLS columns of B (so that
 * the block of B is read from cache by every column of A), C carried from block to block in place; the columns of A left over one at a time, those of B by 4. Every sum runs over k in order,
 * one multiply and one add per term: the sums of matmul on A transposed (XNNPACK's, bit for bit).
 */
export function matmulTN(a: usize, b: usize, c: usize, K: i32, M: i32, N: i32): void {
  const rowA = <usize>M << 2;
  const rowB = <usize>N << 2;
  for (let k0 = 0; k0 < K; k0 += TN_BLOCK) {
    const k1 = min(k0 + TN_BLOCK, K);
    const first = k0 == 0;
    for (let j0 = 0; j0 < N; j0 += TN_COLS) {
      const j1 = min(j0 + TN_COLS, N);
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        const c0 = c + <usize>i * rowB;
        const c1 = c0 + rowB, c2 = c1 + rowB, c3 = c2 + rowB;
        let j = j0;
        for (; j + 8 <= j1; j += 8) {
          const jo = <usize>j << 2;
          let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
          let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
          if (!first) {
            s00 = v128.load(c0 + jo); s01 = v128.load(c0 + jo, 16); s10 = v128.load(c1 + jo); s11 = v128.load(c1 + jo, 16);
            s20 = v128.load(c2 + jo); s21 = v128.load(c2 + jo, 16); s30 = v128.load(c3 + jo); s31 = v128.load(c3 + jo, 16);
          }
          let pa = a + <usize>k0 * rowA + (<usize>i << 2);
          let pb = b + <usize>k0 * rowB + jo;
          for (let k = k0; k < k1; k++) {
            const b0 = v128.load(pb), b1 = v128.load(pb, 16);
            const x0 = v128.load32_splat(pa), x1 = v128.load32_splat(pa, 4);
            const x2 = v128.load32_splat(pa, 8), x3 = v128.load32_splat(pa, 12);
            s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1));
            s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1));
            s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1));
            s30 = f32x4.add(s30, f32x4.mul(x3, b0)); s31 = f32x4.add(s31, f32x4.mul(x3, b1));
            pa += rowA;
            pb += rowB;
          }
          v128.store(c0 + jo, s00); v128.store(c0 + jo, s01, 16); v128.store(c1 + jo, s10); v128.store(c1 + jo, s11, 16);
          v128.store(c2 + jo, s20); v128.store(c2 + jo, s21, 16); v128.store(c3 + jo, s30); v128.store(c3 + jo, s31, 16);
        }
        for (; j < j1; j += 4) {
          const jo = <usize>j << 2;
          let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
          if (!first) {
            s0 = v128.load(c0 + jo); s1 = v128.load(c1 + jo); s2 = v128.load(c2 + jo); s3 = v128.load(c3 + jo);
          }
          let pa = a + <usize>k0 * rowA + (<usize>i << 2);
          let pb = b + <usize>k0 * rowB + jo;
          for (let k = k0; k < k1; k++) {
            const b0 = v128.load(pb);
            s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(pa), b0));
            s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(pa, 4), b0));
            s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(pa, 8), b0));
            s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(pa, 12), b0));
            pa += rowA;
            pb += rowB;
          }
          v128.store(c0 + jo, s0); v128.store(c1 + jo, s1); v128.store(c2 + jo, s2); v128.store(c3 + jo, s3);
        }
      }
      for (; i < M; i++) {
        const c0 = c + <usize>i * rowB;
        for (let j = j0; j < j1; j += 4) {
          const jo = <usize>j << 2;
          let s0 = first ? f32x4.splat(0) : v128.load(c0 + jo);
          let pa = a + <usize>k0 * rowA + (<usize>i << 2);
          let pb = b + <usize>k0 * rowB + jo;
          for (let k = k0; k < k1; k++) {
            s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
            pa += rowA;
            pb += rowB;
          }
          v128.store(c0 + jo, s0);
        }
      }
    }
  }
}

/** Bytes of A's rows per row block of matmulPacked: a block stays in L1 while every panel of B passes it. */
const PACKED_ROW_BYTES: i32 = 16384;

/**
 * matmul for many rows by a B too large for L1 (a whole sequence batch by a factor): B is first
 * copied into `packed` (K x (N & ~7) values) as panels of 8 columns, each K x 8 contiguous, so that
 * a panel is read as one stream, not K cache lines a row of B apart (6 KiB for N = 1536, which maps
 * them to two sets of the L1 cache). Rows in blocks of PACKED_ROW_BYTES, every panel over a block.
 * The same microkernel and sums as matmul (bit for bit); the last 4 columns, if N is not a multiple
 * of 8, read from B itself. The 4 x 8 tile is written out here, in matmul, matmulTN and
 * matmulTNPacked on purpose: one @inline function for all four (A and B addressed by strides)
 * measured 7% to 12% slower (ad hoc, 2026-12-06, alternating).
 */
export function matmulPacked(
  a: usize,
  b: usize,
  c: usize,
  M: i32,
  K: i32,
  N: i32,
  bias: usize,
  act: i32,
  leakyAlpha: f32,
  packed: usize,
): void {
  const alpha = f32x4.splat(leakyAlpha);
  const rowA = <usize>K << 2;
  const rowB = <usize>N << 2;
  const N8 = N & ~7;
  const panel = <usize>K << 5;
  for (let j = 0; j < N8; j += 8) {
    let src = b + (<usize>j << 2);
    let dst = packed + <usize>(j >> 3) * panel;
    for (let k = 0; k < K; k++) {
      v128.store(dst, v128.load(src));
      v128.store(dst, v128.load(src, 16), 16);
      src += rowB;
      dst += 32;
    }
  }
  const block = max(4, (PACKED_ROW_BYTES / (K << 2)) & ~3);
  for (let i0 = 0; i0 < M; i0 += block) {
    const i1 = min(M, i0 + block);
    for (let j = 0; j < N8; j += 8) {
      const pp = packed + <usize>(j >> 3) * panel;
      const jo = <usize>j << 2;
      let i = i0;
      for (; i + 4 <= i1; i += 4) {
        const a0 = a + <usize>i * rowA;
        const a1 = a0 + rowA, a2 = a1 + rowA, a3 = a2 + rowA;
        let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
        let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
        let pb = pp;
        for (let k = 0; k < K; k++) {
          const b0 = v128.load(pb), b1 = v128.load(pb, 16);
          const ko = <usize>k << 2;
          const x0 = v128.load32_splat(a0 + ko), x1 = v128.load32_splat(a1 + ko);
          const x2 = v128.load32_splat(a2 + ko), x3 = v128.load32_splat(a3 + ko);
          s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1));
          s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1));
          s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1));
          s30 = f32x4.add(s30, f32x4.mul(x3, b0)); s31 = f32x4.add(s31, f32x4.mul(x3, b1));
          pb += 32;
        }
        const c0 = c + <usize>i * rowB + jo;
        const c1 = c0 + rowB, c2 = c1 + rowB, c3 = c2 + rowB;
        v128.store(c0, finish(s00, bias, jo, act, alpha)); v128.store(c0, finish(s01, bias, jo + 16, act, alpha), 16);
        v128.store(c1, finish(s10, bias, jo, act, alpha)); v128.store(c1, finish(s11, bias, jo + 16, act, alpha), 16);
        v128.store(c2, finish(s20, bias, jo, act, alpha)); v128.store(c2, finish(s21, bias, jo + 16, act, alpha), 16);
        v128.store(c3, finish(s30, bias, jo, act, alpha)); v128.store(c3, finish(s31, bias, jo + 16, act, alpha), 16);
      }
      for (; i < i1; i++) {
        const a0 = a + <usize>i * rowA;
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
        let pb = pp;
        for (let k = 0; k < K; k++) {
          const x = v128.load32_splat(a0 + (<usize>k << 2));
          s0 = f32x4.add(s0, f32x4.mul(x, v128.load(pb)));
          s1 = f32x4.add(s1, f32x4.mul(x, v128.load(pb, 16)));
          pb += 32;
        }
        const c0 = c + <usize>i * rowB + jo;
        v128.store(c0, finish(s0, bias, jo, act, alpha)); v128.store(c0, finish(s1, bias, jo + 16, act, alpha), 16);
      }
    }
    if (N8 < N) {
      const jo = <usize>N8 << 2;
      for (let i = i0; i < i1; i++) {
        const a0 = a + <usize>i * rowA;
        let s0 = f32x4.splat(0);
        let pb = b + jo;
        for (let k = 0; k < K; k++) {
          s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(a0 + (<usize>k << 2)), v128.load(pb)));
          pb += rowB;
        }
        v128.store(c + <usize>i * rowB + jo, finish(s0, bias, jo, act, alpha));
      }
    }
  }
}

/**
 * matmulTN with B read in panels: C = A^T B for A (K x M), B (K x N), C (M x N), N a multiple of 4.
 * Over blocks of `cols` columns of C (a multiple of 8) and, within one, blocks of `block` rows of A
 * and B, the block of B is copied into `packed` (block x cols values) as panels of 8 columns, each
 * contiguous, and multiplied by the block of A four columns of A at a time (outer) by every panel
 * (inner), C carried from block to block in place (a block of C that stays in L2 is not read from
 * memory once per block of rows). The copy is made by the first four columns of A on their way
 * through B: the rows of B come from memory while the products run, not in a pass of their own
 * (which cost a CP-GRU's factor gradient, 2048 x 80 ^T by 2048 x 1536, about 7% of its time). The
 * same sums as matmulTN (bit for bit); the last 4 columns, if N is not a multiple of 8, read from B
 * itself.
 */
export function matmulTNPacked(
  a: usize,
  b: usize,
  c: usize,
  K: i32,
  M: i32,
  N: i32,
  packed: usize,
  block: i32,
  cols: i32,
): void {
  const rowA = <usize>M << 2;
  const rowB = <usize>N << 2;
  const N8 = N & ~7;
  // Columns of C in blocks of `cols` (outermost), so that a block of C (M x cols) stays in cache
  // over the whole sum; within one, the rows of A and B in blocks of `block`.
  for (let c0 = 0; c0 < N8; c0 += cols) {
    const c1 = min(c0 + cols, N8);
    for (let k0 = 0; k0 < K; k0 += block) {
      const k1 = min(k0 + block, K);
      const kb = k1 - k0;
      const first = k0 == 0;
      const panel = <usize>kb << 5;
      if (M < 4) {
        // No group of four columns of A to copy the panels on its way: a pass of its own.
        for (let j = c0; j < c1; j += 8) {
          let src = b + <usize>k0 * rowB + (<usize>j << 2);
          let dst = packed + <usize>((j - c0) >> 3) * panel;
          for (let k = k0; k < k1; k++) {
            v128.store(dst, v128.load(src));
            v128.store(dst, v128.load(src, 16), 16);
            src += rowB;
            dst += 32;
          }
        }
      }
      let i = 0;
      for (; i + 4 <= M; i += 4) {
        for (let j = c0; j < c1; j += 8) {
          const pp = packed + <usize>((j - c0) >> 3) * panel;
          const jo = <usize>j << 2;
          const q0 = c + <usize>i * rowB + jo;
          const q1 = q0 + rowB, q2 = q1 + rowB, q3 = q2 + rowB;
          let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
          let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
          if (!first) {
            s00 = v128.load(q0); s01 = v128.load(q0, 16); s10 = v128.load(q1); s11 = v128.load(q1, 16);
            s20 = v128.load(q2); s21 = v128.load(q2, 16); s30 = v128.load(q3); s31 = v128.load(q3, 16);
          }
          let pa = a + <usize>k0 * rowA + (<usize>i << 2);
          let pb = pp;
          if (i == 0) {
            // The first four columns of A read B's rows and leave the panel behind.
            let src = b + <usize>k0 * rowB + jo;
            for (let k = 0; k < kb; k++) {
              const b0 = v128.load(src), b1 = v128.load(src, 16);
              v128.store(pb, b0); v128.store(pb, b1, 16);
              const x0 = v128.load32_splat(pa), x1 = v128.load32_splat(pa, 4);
              const x2 = v128.load32_splat(pa, 8), x3 = v128.load32_splat(pa, 12);
              s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1));
              s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1));
              s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1));
              s30 = f32x4.add(s30, f32x4.mul(x3, b0)); s31 = f32x4.add(s31, f32x4.mul(x3, b1));
              pa += rowA;
              pb += 32;
              src += rowB;
            }
          } else {
            for (let k = 0; k < kb; k++) {
              const b0 = v128.load(pb), b1 = v128.load(pb, 16);
              const x0 = v128.load32_splat(pa), x1 = v128.load32_splat(pa, 4);
              const x2 = v128.load32_splat(pa, 8), x3 = v128.load32_splat(pa, 12);
              s00 = f32x4.add(s00, f32x4.mul(x0, b0)); s01 = f32x4.add(s01, f32x4.mul(x0, b1));
              s10 = f32x4.add(s10, f32x4.mul(x1, b0)); s11 = f32x4.add(s11, f32x4.mul(x1, b1));
              s20 = f32x4.add(s20, f32x4.mul(x2, b0)); s21 = f32x4.add(s21, f32x4.mul(x2, b1));
              s30 = f32x4.add(s30, f32x4.mul(x3, b0)); s31 = f32x4.add(s31, f32x4.mul(x3, b1));
              pa += rowA;
              pb += 32;
            }
          }
          v128.store(q0, s00); v128.store(q0, s01, 16); v128.store(q1, s10); v128.store(q1, s11, 16);
          v128.store(q2, s20); v128.store(q2, s21, 16); v128.store(q3, s30); v128.store(q3, s31, 16);
        }
      }
      // The columns of A left over, one at a time, from the panels.
      for (; i < M; i++) {
        for (let j = c0; j < c1; j += 8) {
          const pp = packed + <usize>((j - c0) >> 3) * panel;
          const jo = <usize>j << 2;
          const q0 = c + <usize>i * rowB + jo;
          let s0 = first ? f32x4.splat(0) : v128.load(q0);
          let s1 = first ? f32x4.splat(0) : v128.load(q0, 16);
          let pa = a + <usize>k0 * rowA + (<usize>i << 2);
          let pb = pp;
          for (let k = 0; k < kb; k++) {
            const x = v128.load32_splat(pa);
            s0 = f32x4.add(s0, f32x4.mul(x, v128.load(pb)));
            s1 = f32x4.add(s1, f32x4.mul(x, v128.load(pb, 16)));
            pa += rowA;
            pb += 32;
          }
          v128.store(q0, s0); v128.store(q0, s1, 16);
        }
      }
    }
  }
  if (N8 < N) {
    // The last 4 columns, read from B itself, each sum over all of K at once.
    const jo = <usize>N8 << 2;
    for (let i = 0; i < M; i++) {
      let s0 = f32x4.splat(0);
      let pa = a + (<usize>i << 2);
      let pb = b + jo;
      for (let k = 0; k < K; k++) {
        s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(pa), v128.load(pb)));
        pa += rowA;
        pb += rowB;
      }
      v128.store(c + <usize>i * rowB + jo, s0);
    }
  }
}
