import * as tf from '@tensorflow/tfjs-core';
import { type NativeKernels, nativeKernels, offsetOf, sharedMemory, type WasmBackendInternals } from './wasm_native.js';

/**
 * Fused kernels for the arithmetic that a GRU step and an Adam update otherwise spread over many
 * small TF.js ops (about 18 forward and 9 backward per GRU step, 14 per Adam variable). Registered
 * for the cpu backend, where every op is a generic JavaScript loop and the fused ones pay
 * (`node apps/bench/scripts/fused-kernels.mjs cpu`: a GRU training step 0.64x, inference 0.25x),
 * and for wasm, where they run compiled into WebAssembly with SIMD on the backend's own heap
 * (wasm/kernels.ts, src/wasm_native.ts). On wasm the JavaScript loops below are only the fallback
 * (a WebAssembly without SIMD, a hidden size not a multiple of 4): V8 reads and writes typed arrays
 * on a WebAssembly.Memory about 3x slower than on plain ArrayBuffers, and those loops were no faster
 * than XNNPACK's ops one by one in training. The packages that use the kernels run them where the
 * active backend has them and otherwise the same arithmetic op by op (the reference;
 * @tensorized/cells for the GRU kernels). The names are the contract.
 */
export const FUSED_KERNELS = {
  gruStep: 'TensorizedGruStep',
  gruStepGrad: 'TensorizedGruStepGrad',
  /**
   * A whole recurrence of flipped steps with their products through one or two plain stages, and its
   * backward pass, in one launch each (src/gru_sequence.ts; GruSequenceAttrs, GruSequenceGradAttrs).
   */
  gruSequence: 'TensorizedGruSequence',
  gruSequenceGrad: 'TensorizedGruSequenceGrad',
  /**
   * A whole recurrence through matMul stages with layout views between them (a TT-matrix's cores), and
   * its backward pass, in one launch each (src/gru_sequence.ts; GruStagedSequenceAttrs).
   */
  gruStagedSequence: 'TensorizedGruStagedSequence',
  gruStagedSequenceGrad: 'TensorizedGruStagedSequenceGrad',
  adam: 'TensorizedAdam',
  /** Adam for many variables in one launch, with gradient-norm clipping over all of them (AdamAllAttrs). */
  adamAll: 'TensorizedAdamAll',
  /** The Khatri-Rao product of two factors a (p x R), b (q x R) -> (pq x R), and its gradient (no attributes). */
  khatriRao: 'TensorizedKhatriRao',
  khatriRaoGrad: 'TensorizedKhatriRaoGrad',
  /** A TT-matrix's batch-1 product (and bias) in one kernel, cpu and wasm (src/matmul_pair.ts; MatMulPairAttrs). */
  matMulPair: 'TensorizedMatMulPair',
  /** Inverted dropout with a mask computed from (seed, index), never stored (DropoutAttrs). */
  dropout: 'TensorizedDropout',
  /**
   * Binary cross-entropy with logits summed per row, and its gradient with respect to the logits
   * (no attributes; see sigmoidCrossEntropy below).
   */
  sigmoidCrossEntropy: 'TensorizedSigmoidCrossEntropy',
  sigmoidCrossEntropyGrad: 'TensorizedSigmoidCrossEntropyGrad',
  /** Reshapes and transposes in one launch, no gradient (src/view.ts; ViewAttrs). */
  view: 'TensorizedView',
  /**
   * x (..., n) where a per-row mask (...) is not 0, zeros where it is (no attributes, no gradient;
   * see rowMask below).
   */
  rowMask: 'TensorizedRowMask',
} as const;

/**
 * Where a kernel reads its inputs and puts its outputs: a backend's way of holding data (the cpu
 * backend's arrays). A view is valid until the next alloc or sigmoid (on a backend whose memory can
 * grow, either may replace its buffer): take views again after them.
 */
export interface Host {
  /** A new float32 tensor of this shape (an output, or scratch to free). */
  alloc(shape: readonly number[]): tf.TensorInfo;
  view(x: tf.TensorInfo): Float32Array;
  /** A new tensor holding the logistic sigmoid of x. */
  sigmoid(x: tf.TensorInfo): tf.TensorInfo;
  free(x: tf.TensorInfo): void;
  /** A new tensor holding the matrix product a b, or a^T b (a and b matrices), by the backend's BatchMatMul kernel. */
  matMul(a: tf.TensorInfo, b: tf.TensorInfo, transposeA?: boolean): tf.TensorInfo;
  /** The backend (for its other kernels) and its name. */
  backend: object;
  backendName: string;
  /**
   * The WebAssembly kernels and the byte offset of a tensor on the heap they run on (wasm only);
   * `shared`: the heap is the threaded build's.
   */
  native?: { kernels: NativeKernels; offset(x: tf.TensorInfo | undefined): number; shared: boolean };
}

/** a b by the BatchMatMul kernel registered for `backendName` (the kernel looked up at the call). */
function matMulOn(
  backendName: string,
  backend: object,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  transposeA = false,
): tf.TensorInfo {
  const kernel = tf.getKernel('BatchMatMul', backendName);
  if (!kernel) throw new Error(`fused kernels: the ${backendName} backend has no BatchMatMul kernel`);
  return kernel.kernelFunc({
    inputs: { a, b },
    backend: backend as never,
    attrs: { transposeA, transposeB: false },
  }) as tf.TensorInfo;
}

interface CpuBackendLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  disposeData(dataId: object, force?: boolean): boolean;
}

const count = (shape: readonly number[]): number => shape.reduce((p, q) => p * q, 1);

function cpuHost(backend: CpuBackendLike): Host {
  const host: Host = {
    alloc: (shape) => backend.makeTensorInfo([...shape], 'float32', new Float32Array(count(shape))),
    view: (x) => backend.data.get(x.dataId).values as Float32Array,
    sigmoid: (x) => {
      const out = host.alloc(x.shape);
      const [xv, ov] = [host.view(x), host.view(out)];
      for (let i = 0; i < xv.length; i++) ov[i] = 1 / (1 + Math.exp(-xv[i]!));
      return out;
    },
    free: (x) => void backend.disposeData(x.dataId, true),
    matMul: (a, b, transposeA) => matMulOn('cpu', backend, a, b, transposeA),
    backend,
    backendName: 'cpu',
  };
  return host;
}

interface WasmBackendLike extends WasmBackendInternals {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

/**
 * The wasm backend's heap: outputs allocated there, views of it (taken again after an alloc, which
 * may grow the heap and replace its buffer), the backend's own SIMD Sigmoid kernel.
 */
function wasmHost(backend: WasmBackendLike): Host {
  const sigmoidKernel = tf.getKernel('Sigmoid', 'wasm')!;
  const kernels = nativeKernels(backend);
  return {
    native: kernels && {
      kernels,
      offset: (x) => (x ? offsetOf(backend, x.dataId) : 0),
      shared: sharedMemory(backend),
    },
    alloc: (shape) => backend.makeOutput([...shape], 'float32'),
    view: (x) => backend.typedArrayFromHeap(x) as Float32Array,
    sigmoid: (x) => sigmoidKernel.kernelFunc({ inputs: { x }, backend: backend as never, attrs: {} }) as tf.TensorInfo,
    free: (x) => void backend.disposeData(x.dataId, true),
    matMul: (a, b, transposeA) => matMulOn('wasm', backend, a, b, transposeA),
    backend,
    backendName: 'wasm',
  };
}

// The checks below run at every step of a recurrence (twice per step): written without closures,
// entry arrays or objects with computed keys, which cost about as much as a small kernel.

function checkFloat(kernel: string, named: Record<string, tf.TensorInfo | undefined>): void {
  for (const name in named) checkFloatInput(kernel, name, named[name]);
}

/** checkFloat for one input. */
export function checkFloatInput(kernel: string, name: string, x: tf.TensorInfo | undefined): void {
  if (x && x.dtype !== 'float32') throw new TypeError(`${kernel}: input '${name}' must be float32, got ${x.dtype}`);
}

export function checkShape(kernel: string, name: string, x: tf.TensorInfo, shape: readonly number[]): void {
  let same = x.shape.length === shape.length;
  for (let i = 0; same && i < shape.length; i++) same = x.shape[i] === shape[i];
  if (!same)
    throw new RangeError(
      `${kernel}: input '${name}' must have shape [${shape.join(', ')}], got [${x.shape.join(', ')}]`,
    );
}

/** A new (cols, rows) tensor holding x (rows, cols) transposed. */
export function transposed(host: Host, x: tf.TensorInfo): tf.TensorInfo {
  const [rows, cols] = x.shape as [number, number];
  const out = host.alloc([cols, rows]);
  if (host.native) {
    host.native.kernels.transpose(host.native.offset(x), host.native.offset(out), rows, cols);
    return out;
  }
  const [xv, ov] = [host.view(x), host.view(out)];
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) ov[j * rows + i] = xv[i * cols + j]!;
  return out;
}

/** The gates' activation of a GRU and its derivative as a function of the activation's value. */
export type GateActivation = 'sigmoid' | 'hardSigmoid';

/**
 * Attributes of TensorizedGruStep: the step t of the time-major inputs, the gate activation, and
 * whether to also return r, z, n and (U h + b_U)_n for a backward pass.
 */
export interface GruStepAttrs {
  t: number;
  gate: GateActivation;
  record: boolean;
  /**
   * `uh` comes flipped, (3H, B) = U^T h^T, and h'^T (H, B) is returned last: the layouts of a
   * recurrence whose product U^T h^T runs faster than h U (@tensorized/cells, flipsStepProduct).
   */
  flipped?: boolean;
  /** `a` comes batch-major, (B, T, 3H) (the input projections as x W gives them). */
  batchMajor?: boolean;
  /**
   * With `record`: what is kept goes into stacks over all steps instead of new tensors per step. Step
   * 0 allocates them and returns them after h': `hs` (T, B, H), the state each step starts from;
   * `kept` (4, T, B, H), r, z, n and un; `out` (T, B, H), or (B, T, H) with batchMajor, the states
   * h_1..h_T. Steps 1..T-1 take the three as inputs of those names and write their own slot into
   * them: a kernel that writes into its inputs, for a caller that owns them (a sequence op, which
   * runs every step 0..T-1 in order: the stacks are allocated uninitialised).
   */
  stacks?: boolean;
}

/** gruStep's and gruStepGrad's stacks over all steps (GruStepAttrs.stacks). */
interface Stacks {
  hs: tf.TensorInfo;
  kept: tf.TensorInfo;
  /** gruStep: the states h_1..h_T; gruStepGrad: d(x W + b_W) of all steps. */
  out: tf.TensorInfo;
  /** gruStepGrad with dUStack: d(U h + b_U) of all steps, (T, B, 3H). */
  dU?: tf.TensorInfo;
  /** Allocated by this call (and returned by it). */
  fresh: boolean;
  T: number;
  batchMajor: boolean;
}

/**
 * Copies `rows` rows of `len` values from src (contiguous) into dst from value `at` on, its rows
 * `stride` values apart: a step's slot of a stack.
 */
export function copyRowsInto(
  host: Host,
  src: tf.TensorInfo,
  dst: tf.TensorInfo,
  at: number,
  rows: number,
  len: number,
  stride: number,
): void {
  if (host.native) {
    const { kernels, offset } = host.native;
    kernels.copyRows(offset(src), offset(dst) + 4 * at, rows, 4 * len, 4 * len, 4 * stride);
    return;
  }
  const [sv, dv] = [host.view(src), host.view(dst)];
  for (let i = 0; i < rows; i++) dv.set(sv.subarray(i * len, (i + 1) * len), at + i * stride);
}

export function checkBoolean(kernel: string, name: string, x: unknown): void {
  if (typeof x !== 'boolean') throw new TypeError(`${kernel}: attribute '${name}' must be a boolean, got ${x}`);
}

/**
 * The stacks of a step (GruStepAttrs.stacks): allocated at the first step (`first`), else the
 * inputs hs, kept and `outName` (the stack `out` is given under that name), checked against `shapes`.
 */
function stacksOf(
  host: Host,
  kernel: string,
  inputs: tf.NamedTensorInfoMap,
  first: boolean,
  shapes: { hs: number[]; kept: number[]; out: number[] },
  outName: string,
  T: number,
  batchMajor: boolean,
): Stacks {
  const given = { hs: inputs.hs, kept: inputs.kept, out: inputs[outName] };
  if (first) {
    for (const k in given)
      if (given[k as keyof typeof given])
        throw new RangeError(`${kernel}: input '${k === 'out' ? outName : k}' is allocated by the first step, got one`);
    return {
      hs: host.alloc(shapes.hs),
      kept: host.alloc(shapes.kept),
      out: host.alloc(shapes.out),
      fresh: true,
      T,
      batchMajor,
    };
  }
  for (const k in given) {
    const x = given[k as keyof typeof given];
    const name = k === 'out' ? outName : k;
    if (!x) throw new RangeError(`${kernel}: with 'stacks', input '${name}' is needed after the first step`);
    checkFloatInput(kernel, name, x);
    checkShape(kernel, name, x, shapes[k as keyof typeof shapes]);
  }
  return { hs: given.hs!, kept: given.kept!, out: given.out!, fresh: false, T, batchMajor };
}

/** An absent optional input of the loops below (their arguments keep one type: V8 optimises them once). */
const NONE = new Float32Array(0);

/** gruStep's first pass: the r and z pre-activations (B, 2H), hardSigmoid applied in place if `hard`. */
function gruPreRZLoop(
  av: Float32Array,
  uv: Float32Array,
  bv: Float32Array,
  pv: Float32Array,
  t: number,
  B: number,
  H: number,
  hard: boolean,
  aT: number,
): void {
  const H3 = 3 * H;
  for (let b = 0; b < B; b++) {
    const ar = (aT ? b * aT + t : t * B + b) * H3;
    const ur = b * H3;
    const pr = b * 2 * H;
    for (let j = 0; j < 2 * H; j++) {
      const x = av[ar + j]! + uv[ur + j]! + bv[j]!;
      pv[pr + j] = hard ? Math.min(1, Math.max(0, 0.2 * x + 0.5)) : x;
    }
  }
}

/** gruStep's second pass: 2 (a_n + r un) (B, H), whose sigmoid gives tanh(a_n + r un) = 2 s - 1. */
function gruPreNLoop(
  av: Float32Array,
  uv: Float32Array,
  bv: Float32Array,
  rzv: Float32Array,
  dv: Float32Array,
  t: number,
  B: number,
  H: number,
  aT: number,
): void {
  const H3 = 3 * H;
  for (let b = 0; b < B; b++) {
    const ar = (aT ? b * aT + t : t * B + b) * H3 + 2 * H;
    const ur = b * H3 + 2 * H;
    const rr = b * 2 * H;
    for (let j = 0; j < H; j++) dv[b * H + j] = 2 * (av[ar + j]! + rzv[rr + j]! * (uv[ur + j]! + bv[2 * H + j]!));
  }
}

/** gruStep's last pass: h' = n + z (h - n) under the mask, and r, z, n, un when they are kept. */
function gruFinishLoop(
  uv: Float32Array,
  bv: Float32Array,
  hv: Float32Array,
  rzv: Float32Array,
  sv: Float32Array,
  mv: Float32Array,
  next: Float32Array,
  rOut: Float32Array,
  zOut: Float32Array,
  nOut: Float32Array,
  unOut: Float32Array,
  t: number,
  B: number,
  H: number,
): void {
  const masked = mv.length > 0;
  const record = rOut.length > 0;
  for (let b = 0; b < B; b++) {
    const m = masked ? mv[t * B + b]! : 1;
    const rr = b * 2 * H;
    for (let j = 0; j < H; j++) {
      const o = b * H + j;
      const n = 2 * sv[o]! - 1;
      const z = rzv[rr + H + j]!;
      const hp = hv[o]!;
      const stepped = n + z * (hp - n);
      next[o] = m === 1 ? stepped : hp + m * (stepped - hp);
      if (record) {
        rOut[o] = rzv[rr + j]!;
        zOut[o] = z;
        nOut[o] = n;
        unOut[o] = uv[b * 3 * H + 2 * H + j]! + bv[2 * H + j]!;
      }
    }
  }
}

/**
 * One GRU step, reset gate after U (PAPER.md; PyTorch, cuDNN):
 *   r, z = gate(a_t[:, :2H] + (U h)[:, :2H] + b_U[:2H]); un = (U h)[:, 2H:] + b_U[2H:];
 *   n = tanh(a_t[:, 2H:] + r un); h' = n + z (h - n); with a mask m_t, h' = h + m_t (h' - h).
 * Inputs a (T, B, 3H): x W + b_W for all steps; uh (B, 3H): U h; bU (3H); h (B, H); mask (T, B, 1)
 * optional. Outputs h', and with `record` also r, z, n, un, each (B, H). With `flipped`, uh is
 * (3H, B) and h'^T (H, B) comes last; with `batchMajor`, a is (B, T, 3H).
 */
export function gruStep(host: Host, inputs: tf.NamedTensorInfoMap, attrs: GruStepAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruStep;
  const { a, bU, h, mask } = inputs as Record<string, tf.TensorInfo>;
  checkFloat(name, { a, uh: inputs.uh as tf.TensorInfo, bU, h, mask });
  const batchMajor = attrs.batchMajor ?? false;
  if (typeof batchMajor !== 'boolean')
    throw new TypeError(`${name}: attribute 'batchMajor' must be a boolean, got ${batchMajor}`);
  const [d0, d1, H3] = a!.shape as [number, number, number];
  const [T, B] = batchMajor ? [d1, d0] : [d0, d1];
  const aT = batchMajor ? T : 0;
  const H = H3 / 3;
  const { t, gate, record } = attrs;
  const flipped = attrs.flipped ?? false;
  if (!(Number.isInteger(t) && t >= 0 && t < T))
    throw new RangeError(`${name}: attribute 't' must be in [0, ${T}), got ${t}`);
  if (typeof flipped !== 'boolean')
    throw new TypeError(`${name}: attribute 'flipped' must be a boolean, got ${flipped}`);
  checkShape(name, 'uh', inputs.uh as tf.TensorInfo, flipped ? [H3, B] : [B, H3]);
  checkShape(name, 'bU', bU!, [H3]);
  checkShape(name, 'h', h!, [B, H]);
  if (mask) checkShape(name, 'mask', mask, [T, B, 1]);
  const stacked = attrs.stacks ?? false;
  checkBoolean(name, 'stacks', stacked);
  if (stacked && !record) throw new RangeError(`${name}: attribute 'stacks' needs 'record'`);
  const stacks = stacked
    ? stacksOf(
        host,
        name,
        inputs,
        t === 0,
        { hs: [T, B, H], kept: [4, T, B, H], out: batchMajor ? [B, T, H] : [T, B, H] },
        'out',
        T,
        batchMajor,
      )
    : undefined;
  // Flipped, the WebAssembly kernel reads (U h)^T and writes h'^T itself (B and H multiples of 4);
  // otherwise uh is transposed before and h' after.
  const flippedNative = flipped && host.native !== undefined && H % 4 === 0 && B % 4 === 0;
  const uh = flipped && !flippedNative ? transposed(host, inputs.uh as tf.TensorInfo) : (inputs.uh as tf.TensorInfo);
  const outs = gruStepOn(host, a!, uh, bU!, h!, mask, t, B, H, gate, record, aT, stacks, flippedNative);
  const nextT = flippedNative ? outs.pop()! : undefined;
  if (flipped && !flippedNative) host.free(uh);
  if (stacks?.fresh) outs.push(stacks.hs, stacks.kept, stacks.out);
  if (flipped) outs.push(nextT ?? transposed(host, outs[0]!));
  return outs;
}

/** gruStep on checked inputs, uh (B, 3H); a batch-major when aT (its T) is not 0. */
function gruStepOn(
  host: Host,
  a: tf.TensorInfo,
  uh: tf.TensorInfo,
  bU: tf.TensorInfo,
  h: tf.TensorInfo,
  mask: tf.TensorInfo | undefined,
  t: number,
  B: number,
  H: number,
  gate: GateActivation,
  record: boolean,
  aT: number,
  stacks?: Stacks,
  flippedNative = false,
): tf.TensorInfo[] {
  // The WebAssembly kernels read the next step's rows of a into cache while they run (its T: aT, or a's first axis).
  const warmNext = t + 1 < (aT || a.shape[0]!) ? 1 : 0;
  if (stacks) {
    // h into its slot of hs; r, z, n, un (written by the WebAssembly kernel in place, else copied)
    // into theirs of kept; h' into out's.
    const { T, kept } = stacks;
    const slab = T * B * H;
    copyRowsInto(host, h, stacks.hs, t * B * H, 1, B * H, B * H);
    let outs: tf.TensorInfo[];
    if (host.native && H % 4 === 0) {
      const at = host.native.offset;
      const next = host.alloc([B, H]);
      const slot = (k: number): number => at(kept) + 4 * (k * slab + t * B * H);
      const head = [at(a), at(uh), at(bU), at(h), at(mask), at(next)] as const;
      const tail = [slot(0), slot(1), slot(2), slot(3), t, B, H, gate === 'hardSigmoid' ? 1 : 0, aT, warmNext] as const;
      if (flippedNative) {
        const nextT = host.alloc([H, B]);
        host.native.kernels.gruStepT(...head, at(nextT), ...tail);
        outs = [next, nextT];
      } else {
        host.native.kernels.gruStep(...head, ...tail);
        outs = [next];
      }
    } else {
      outs = gruStepOn(host, a, uh, bU, h, mask, t, B, H, gate, true, aT);
      outs.slice(1).forEach((x, k) => {
        copyRowsInto(host, x, kept, k * slab + t * B * H, 1, B * H, B * H);
        host.free(x);
      });
      outs = outs.slice(0, 1);
    }
    if (stacks.batchMajor) copyRowsInto(host, outs[0]!, stacks.out, t * H, B, H, T * H);
    else copyRowsInto(host, outs[0]!, stacks.out, t * B * H, 1, B * H, B * H);
    return outs;
  }
  const hard = gate === 'hardSigmoid';
  const native = host.native;
  if (native && H % 4 === 0) {
    const outs = Array.from({ length: record ? 5 : 1 }, () => host.alloc([B, H]));
    const [next, rOut, zOut, nOut, unOut] = outs.map(native.offset);
    const at = native.offset;
    const head = [at(a), at(uh), at(bU), at(h), at(mask), next!] as const;
    const tail = [rOut ?? 0, zOut ?? 0, nOut ?? 0, unOut ?? 0, t, B, H, hard ? 1 : 0, aT, warmNext] as const;
    if (flippedNative) {
      const nextT = host.alloc([H, B]);
      native.kernels.gruStepT(...head, at(nextT), ...tail);
      return [...outs, nextT];
    }
    native.kernels.gruStep(...head, ...tail);
    return outs;
  }
  // 1. The r and z gates, (B, 2H): their pre-activations, then the host's sigmoid or hardSigmoid in
  //    place.
  const pre = host.alloc([B, 2 * H]);
  gruPreRZLoop(host.view(a), host.view(uh), host.view(bU), host.view(pre), t, B, H, hard, aT);
  const rz = hard ? pre : host.sigmoid(pre);
  if (!hard) host.free(pre);
  // 2. n = tanh(a_n + r un) = 2 sigmoid(2 (a_n + r un)) - 1, with un = (U h)_n + b_n.
  const doubled = host.alloc([B, H]);
  gruPreNLoop(host.view(a), host.view(uh), host.view(bU), host.view(rz), host.view(doubled), t, B, H, aT);
  const s = host.sigmoid(doubled);
  host.free(doubled);
  // 3. h' = n + z (h - n), kept where the mask is 1, and what a backward pass needs.
  const outs = Array.from({ length: record ? 5 : 1 }, () => host.alloc([B, H]));
  const [next, rOut, zOut, nOut, unOut] = outs.map((o) => host.view(o)) as [
    Float32Array,
    ...Array<Float32Array | undefined>,
  ];
  gruFinishLoop(
    host.view(uh),
    host.view(bU),
    host.view(h),
    host.view(rz),
    host.view(s),
    mask ? host.view(mask) : NONE,
    next,
    rOut ?? NONE,
    zOut ?? NONE,
    nOut ?? NONE,
    unOut ?? NONE,
    t,
    B,
    H,
  );
  host.free(rz);
  host.free(s);
  return outs;
}

/** Attributes of TensorizedGruStepGrad: the step t and the gate activation of the forward pass. */
export interface GruStepGradAttrs {
  t: number;
  gate: GateActivation;
  /** `gi` comes flipped, (H, B), and d(U h + b_U)^T (3H, B) is returned last (see GruStepAttrs). */
  flipped?: boolean;
  /** `dy` comes batch-major, (B, T, H) (the other stacks stay time-major). */
  batchMajor?: boolean;
  /**
   * h comes as gruStep's stack `hs`, and r, z, n, un as its stack `kept` (GruStepAttrs.stacks), and
   * d(x W + b_W) goes into a stack over all steps, (T, B, 3H) or (B, T, 3H) with batchMajor: the
   * first call (t = T - 1) allocates it and returns it after dU; later ones take it as input `dA`
   * and write their slot.
   */
  stacks?: boolean;
  /**
   * With `stacks`: d(U h + b_U) of every step goes into a stack too, (T, B, 3H) time-major, instead
   * of a tensor per step (what a weight gradient over all steps reads as (T B, 3H) rows): the first
   * call allocates it and returns it after d(x W + b_W); later ones take it as input `dU` and write
   * their slot. The per-step dU is then not returned.
   */
  dUStack?: boolean;
}

/**
 * The chain rule of one GRU step backwards (the inverse of TensorizedGruStep), over the forward
 * pass's values stacked for all steps: dy (T, B, H) the gradient of the outputs h_1..h_T; h (T, B, H)
 * the states h_0..h_{T-1} each step started from; r, z, n, un (T, B, H); mask (T, B, 1) optional;
 * and, for every step but the last, what step t + 1 left: its total gradient `carry` (B, H) and the
 * gradient `gi` (B, H) that flowed back through its U h. Computes
 *   dh = carry (z_{t+1} m_{t+1} + 1 - m_{t+1}) + gi (0 at t = T - 1), total = dh + dy_t,
 *   dPreN = total (1 - z)(1 - n^2) m, dPreZ = total (h - n) gate'(z) m, dPreR = dPreN un gate'(r),
 * and returns total (B, H), d(U h + b_U) = [dPreR, dPreZ, dPreN r] (B, 3H) and d(x W + b_W) =
 * [dPreR, dPreZ, dPreN] (B, 3H). With
 * `flipped`, gi is (H, B) and d(U h + b_U)^T (3H, B) comes last; with `batchMajor`, dy is (B, T, H).
 */
export function gruStepGrad(host: Host, inputs: tf.NamedTensorInfoMap, attrs: GruStepGradAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruStepGrad;
  const { dy, h, r, z, n, un, mask, carry } = inputs as Record<string, tf.TensorInfo | undefined>;
  let { gi } = inputs as Record<string, tf.TensorInfo | undefined>;
  checkFloat(name, { dy, h, r, z, n, un, mask, carry, gi });
  const batchMajor = attrs.batchMajor ?? false;
  if (typeof batchMajor !== 'boolean')
    throw new TypeError(`${name}: attribute 'batchMajor' must be a boolean, got ${batchMajor}`);
  const [d0, d1, H] = dy!.shape as [number, number, number];
  const [T, B] = batchMajor ? [d1, d0] : [d0, d1];
  const { t, gate } = attrs;
  const flipped = attrs.flipped ?? false;
  if (!(Number.isInteger(t) && t >= 0 && t < T))
    throw new RangeError(`${name}: attribute 't' must be in [0, ${T}), got ${t}`);
  if (typeof flipped !== 'boolean')
    throw new TypeError(`${name}: attribute 'flipped' must be a boolean, got ${flipped}`);
  if (mask) checkShape(name, 'mask', mask, [T, B, 1]);
  if (Boolean(carry) !== Boolean(gi)) throw new RangeError(`${name}: inputs 'carry' and 'gi' go together`);
  if (Boolean(carry) !== t < T - 1)
    throw new RangeError(`${name}: inputs 'carry' and 'gi' are needed exactly for t < T - 1 (t = ${t}, T = ${T})`);
  if (carry) {
    checkShape(name, 'carry', carry, [B, H]);
    checkShape(name, 'gi', gi!, flipped ? [H, B] : [B, H]);
  }
  const stacked = attrs.stacks ?? false;
  checkBoolean(name, 'stacks', stacked);
  const dUStack = attrs.dUStack ?? false;
  checkBoolean(name, 'dUStack', dUStack);
  if (dUStack && !stacked) throw new RangeError(`${name}: attribute 'dUStack' needs 'stacks'`);
  let stacks: Stacks | undefined;
  if (stacked) {
    const perKind = { h, r, z, n, un };
    for (const k in perKind)
      if (perKind[k as keyof typeof perKind])
        throw new RangeError(`${name}: with 'stacks', input '${k}' comes in 'hs' or 'kept'`);
    // hs and kept are gruStep's; the first call (t = T - 1) allocates d(x W + b_W) of all steps.
    const shapes = { hs: [T, B, H], kept: [4, T, B, H], dA: batchMajor ? [B, T, 3 * H] : [T, B, 3 * H] };
    const first = t === T - 1;
    for (const k in shapes) {
      const shape = shapes[k as keyof typeof shapes];
      const x = inputs[k];
      if (k === 'dA' && first) {
        if (x) throw new RangeError(`${name}: input 'dA' is allocated by the first call (t = T - 1), got one`);
        continue;
      }
      if (!x)
        throw new RangeError(
          `${name}: with 'stacks', input '${k}' is needed${k === 'dA' ? ' after the first call' : ''}`,
        );
      checkFloatInput(name, k, x);
      checkShape(name, k, x, shape);
    }
    // With dUStack, d(U h + b_U) of all steps: allocated by the first call too.
    let dUAll: tf.TensorInfo | undefined;
    if (dUStack) {
      const given = inputs.dU;
      if (first && given)
        throw new RangeError(`${name}: input 'dU' is allocated by the first call (t = T - 1), got one`);
      if (!first) {
        if (!given) throw new RangeError(`${name}: with 'dUStack', input 'dU' is needed after the first call`);
        checkFloatInput(name, 'dU', given);
        checkShape(name, 'dU', given, [T, B, 3 * H]);
      }
      dUAll = first ? host.alloc([T, B, 3 * H]) : given;
    }
    stacks = {
      hs: inputs.hs!,
      kept: inputs.kept!,
      out: first ? host.alloc(shapes.dA) : inputs.dA!,
      dU: dUAll,
      fresh: first,
      T,
      batchMajor,
    };
  } else {
    const perKind = { h, r, z, n, un };
    for (const k in perKind) checkShape(name, k, perKind[k as keyof typeof perKind]!, [T, B, H]);
  }
  // Flipped, the WebAssembly kernel reads gi^T and writes d(U h + b_U)^T itself (B and H multiples
  // of 4); otherwise gi is transposed before and dU after.
  const flippedNative = flipped && host.native !== undefined && H % 4 === 0 && B % 4 === 0;
  const flippedGi = flipped && gi && !flippedNative ? gi : undefined;
  if (flippedGi) gi = transposed(host, flippedGi);
  // dU straight into its slot of the dU stack, unless it is needed per step first (to transpose it).
  const dUInto = Boolean(stacks?.dU) && (flippedNative || !flipped);
  const outs = gruStepGradOn(
    host,
    { dy, h, r, z, n, un, mask, carry, gi },
    t,
    B,
    H,
    gate,
    batchMajor ? T : 0,
    stacks,
    flippedNative,
    dUInto,
  );
  const dUT = flippedNative ? outs.pop()! : undefined;
  if (flippedGi) host.free(gi!);
  const dUFlipped = flipped ? (dUT ?? transposed(host, outs[1]!)) : undefined;
  if (stacks?.dU && !dUInto) {
    copyRowsInto(host, outs[1]!, stacks.dU, t * B * 3 * H, 1, B * 3 * H, B * 3 * H);
    host.free(outs.splice(1, 1)[0]!);
  }
  if (stacks?.fresh) outs.push(stacks.out, ...(stacks.dU ? [stacks.dU] : []));
  if (dUFlipped) outs.push(dUFlipped);
  return outs;
}

/** gruStepGrad on checked inputs, gi (B, H); dy batch-major when dyT (its T) is not 0. */
function gruStepGradOn(
  host: Host,
  inputs: Record<string, tf.TensorInfo | undefined>,
  t: number,
  B: number,
  H: number,
  gate: GateActivation,
  dyT: number,
  stacks?: Stacks,
  flippedNative = false,
  dUInto = false,
): tf.TensorInfo[] {
  const { dy, h, r, z, n, un, mask, carry, gi } = inputs;
  // Flipped (gi (H, B)): the WebAssembly kernel also writes dU transposed, returned last.
  const dUT = flippedNative ? host.alloc([3 * H, B]) : undefined;
  const native = host.native;
  if (stacks) {
    const { T, kept } = stacks;
    const slab = T * B * H;
    // Where step t's d(x W + b_W) goes: value `at` of the stack, rows `stride` values apart.
    const [at, stride] = stacks.batchMajor ? [t * 3 * H, T * 3 * H] : [t * B * 3 * H, 3 * H];
    // dUInto: step t's d(U h + b_U) goes into its slot of stacks.dU (time-major), not returned.
    const dUSlot = 4 * t * B * 3 * H;
    if (native && H % 4 === 0) {
      const outs = dUInto ? [host.alloc([B, H])] : [host.alloc([B, H]), host.alloc([B, 3 * H])];
      const o = native.offset;
      const totalOut = o(outs[0]);
      const dUOut = dUInto ? o(stacks.dU) + dUSlot : o(outs[1]);
      const keptAt = [0, 1, 2, 3].map((k) => o(kept) + 4 * k * slab) as [number, number, number, number];
      const head = [o(dy), o(stacks.hs), ...keptAt, o(mask), o(carry), o(gi), totalOut, dUOut] as const;
      const tail = [t, B, H, gate === 'hardSigmoid' ? 1 : 0, dyT, 4 * stride] as const;
      if (dUT) {
        native.kernels.gruStepGradT(...head, o(dUT), o(stacks.out) + 4 * at, ...tail);
        return [...outs, dUT];
      }
      native.kernels.gruStepGrad(...head, o(stacks.out) + 4 * at, ...tail);
      return outs;
    }
    // The JavaScript loops on views of the stacks, d(x W + b_W) copied into its slot.
    const views = (): Float32Array[] => {
      const keptV = host.view(kept);
      const parts = [0, 1, 2, 3].map((k) => keptV.subarray(k * slab, (k + 1) * slab));
      return [host.view(dy!), host.view(stacks.hs), ...parts];
    };
    const outs = gruStepGradLoops(host, views, { mask, carry, gi }, t, B, H, gate, dyT);
    copyRowsInto(host, outs[2]!, stacks.out, at, B, 3 * H, stride);
    host.free(outs[2]!);
    if (!dUInto) return outs.slice(0, 2);
    copyRowsInto(host, outs[1]!, stacks.dU!, dUSlot / 4, 1, B * 3 * H, B * 3 * H);
    host.free(outs[1]!);
    return outs.slice(0, 1);
  }
  if (native && H % 4 === 0) {
    const outs = [host.alloc([B, H]), host.alloc([B, 3 * H]), host.alloc([B, 3 * H])];
    const at = native.offset;
    const [totalOut, dUOut, dAOut] = outs.map(at) as [number, number, number];
    const head = [at(dy), at(h), at(r), at(z), at(n), at(un), at(mask), at(carry), at(gi), totalOut, dUOut] as const;
    const tail = [t, B, H, gate === 'hardSigmoid' ? 1 : 0, dyT, 0] as const;
    if (dUT) {
      native.kernels.gruStepGradT(...head, at(dUT), dAOut, ...tail);
      return [...outs, dUT];
    }
    native.kernels.gruStepGrad(...head, dAOut, ...tail);
    return outs;
  }
  return gruStepGradLoops(
    host,
    () => [dy!, h!, r!, z!, n!, un!].map((x) => host.view(x)),
    { mask, carry, gi },
    t,
    B,
    H,
    gate,
    dyT,
  );
}

/** gruStepGrad's JavaScript loops on views of dy, h, r, z, n, un (taken by `views`): new total, dU and dA. */
function gruStepGradLoops(
  host: Host,
  views: () => Float32Array[],
  inputs: Record<string, tf.TensorInfo | undefined>,
  t: number,
  B: number,
  H: number,
  gate: GateActivation,
  dyT: number,
): tf.TensorInfo[] {
  const { mask, carry, gi } = inputs;
  const outs = [host.alloc([B, H]), host.alloc([B, 3 * H]), host.alloc([B, 3 * H])];
  // Views taken after the allocations (which may replace the heap's buffer).
  const [dyv, hv, rv, zv, nv, unv] = views() as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const mv = mask ? host.view(mask) : undefined;
  const cv = carry ? host.view(carry) : undefined;
  const gv = gi ? host.view(gi) : undefined;
  const [totalOut, dUOut, dAOut] = outs.map((o) => host.view(o)) as [Float32Array, Float32Array, Float32Array];
  gruStepGradLoop(
    dyv,
    hv,
    rv,
    zv,
    nv,
    unv,
    mv ?? NONE,
    cv ?? NONE,
    gv ?? NONE,
    totalOut,
    dUOut,
    dAOut,
    t,
    B,
    H,
    gate === 'hardSigmoid',
    dyT,
  );
  return outs;
}

/** The arithmetic of gruStepGrad, on arrays only (see there); mv, cv, gv empty when absent. */
function gruStepGradLoop(
  dyv: Float32Array,
  hv: Float32Array,
  rv: Float32Array,
  zv: Float32Array,
  nv: Float32Array,
  unv: Float32Array,
  mv: Float32Array,
  cv: Float32Array,
  gv: Float32Array,
  totalOut: Float32Array,
  dUOut: Float32Array,
  dAOut: Float32Array,
  t: number,
  B: number,
  H: number,
  hard: boolean,
  dyT: number,
): void {
  const masked = mv.length > 0;
  const carried = cv.length > 0;
  const cur = t * B * H;
  const nxt = (t + 1) * B * H;
  for (let b = 0; b < B; b++) {
    const m = masked ? mv[t * B + b]! : 1;
    const mNext = masked && carried ? mv[(t + 1) * B + b]! : 1;
    const d = b * 3 * H;
    for (let j = 0; j < H; j++) {
      const o = b * H + j;
      const dh = carried ? cv[o]! * (zv[nxt + o]! * mNext + 1 - mNext) + gv[o]! : 0;
      const total = dh + dyv[dyT ? (b * dyT + t) * H + j : cur + o]!;
      const zt = zv[cur + o]!;
      const nt = nv[cur + o]!;
      const rt = rv[cur + o]!;
      // gate'(x) from the gate's value s: s (1 - s) for the sigmoid, 0.2 inside hardSigmoid's slope.
      const sz = hard ? (zt > 0 && zt < 1 ? 0.2 : 0) : zt * (1 - zt);
      const sr = hard ? (rt > 0 && rt < 1 ? 0.2 : 0) : rt * (1 - rt);
      const dn = total * (1 - zt) * (1 - nt * nt) * m;
      const dr = dn * unv[cur + o]! * sr;
      const dz = total * (hv[cur + o]! - nt) * sz * m;
      totalOut[o] = total;
      dUOut[d + j] = dr;
      dUOut[d + H + j] = dz;
      dUOut[d + 2 * H + j] = dn * rt;
      dAOut[d + j] = dr;
      dAOut[d + H + j] = dz;
      dAOut[d + 2 * H + j] = dn;
    }
  }
}

/** Attributes of TensorizedAdam (torch.optim.Adam's update with bias correction at step `step`). */
export interface AdamAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  step: number;
  /** The gradient is multiplied by this first (gradient-norm clipping). */
  scale: number;
}

/**
 * One Adam update of a variable from its gradient, in one pass over flat views: inputs w, m, v, g of
 * one shape; outputs the new w, m, v:
 *   g' = scale g; m' = b1 m + (1 - b1) g'; v' = b2 v + (1 - b2) g'^2;
 *   w' = w - lr (m' / (1 - b1^step)) / (sqrt(v' / (1 - b2^step)) + eps).
 */
function adam(host: Host, inputs: tf.NamedTensorInfoMap, attrs: AdamAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.adam;
  const { w, m, v, g } = inputs as Record<string, tf.TensorInfo>;
  checkFloat(name, { w, m, v, g });
  for (const [k, x] of Object.entries({ m, v, g })) checkShape(name, k, x!, w!.shape);
  const { lr, beta1, beta2, eps, step, scale } = attrs;
  if (!(Number.isInteger(step) && step >= 1))
    throw new RangeError(`${name}: attribute 'step' must be an integer >= 1, got ${step}`);
  const outs = [host.alloc(w!.shape), host.alloc(w!.shape), host.alloc(w!.shape)];
  const c1 = 1 - beta1 ** step;
  const c2 = 1 - beta2 ** step;
  const native = host.native;
  if (native) {
    const at = native.offset;
    const [wo, mo, vo] = outs.map(at) as [number, number, number];
    native.kernels.adam(at(w), at(m), at(v), at(g), wo, mo, vo, count(w!.shape), lr, beta1, beta2, eps, c1, c2, scale);
    return outs;
  }
  adamLoop(host, [w!, m!, v!, g!], outs, attrs, c1, c2, scale);
  return outs;
}

/** Adam's update of one variable as a JavaScript loop (adam's and adamAll's reference): [w, m, v, g] in, [w', m', v'] out. */
function adamLoop(
  host: Host,
  ins: readonly tf.TensorInfo[],
  outs: readonly tf.TensorInfo[],
  { lr, beta1, beta2, eps }: { lr: number; beta1: number; beta2: number; eps: number },
  c1: number,
  c2: number,
  scale: number,
): void {
  const [wv, mv, vv, gv] = ins.map((x) => host.view(x)) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const [wo, mo, vo] = outs.map((o) => host.view(o)) as [Float32Array, Float32Array, Float32Array];
  for (let i = 0; i < wv.length; i++) {
    const gi = gv[i]! * scale;
    const mi = beta1 * mv[i]! + (1 - beta1) * gi;
    const vi = beta2 * vv[i]! + (1 - beta2) * gi * gi;
    mo[i] = mi;
    vo[i] = vi;
    wo[i] = wv[i]! - (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
  }
}

/** Attributes of TensorizedAdamAll: TensorizedAdam's without `scale` (the clipping sets it), and the clipping. */
export interface AdamAllAttrs extends Omit<AdamAttrs, 'scale'> {
  /** How many variables: inputs w0, m0, v0, g0, ..., w{n-1}, m{n-1}, v{n-1}, g{n-1}. */
  variables: number;
  /**
   * The largest norm of all gradients together: where their norm (float64 sum of squares) exceeds it,
   * every gradient is multiplied by clip / (norm + 1e-6) first. Infinity: no clipping.
   */
  clip: number;
}

/**
 * Adam for many variables in one launch: TensorizedAdam's update of every variable (inputs w{i},
 * m{i}, v{i}, g{i}, each four of one shape), with the gradients scaled for norm clipping over all of
 * them (see AdamAllAttrs.clip). Outputs the new w, m, v of variable 0, of variable 1, ..., then the
 * norm of the gradients before clipping (a float32 scalar). A model's update in one launch where it
 * took three per variable (a square, a sum and the update) and an AddN: a CP-GRU in the bench has 22
 * variables.
 */
function adamAll(host: Host, inputs: tf.NamedTensorInfoMap, attrs: AdamAllAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.adamAll;
  const { lr, beta1, beta2, eps, step, variables: n, clip } = attrs;
  if (!(Number.isInteger(n) && n >= 1))
    throw new RangeError(`${name}: attribute 'variables' must be an integer >= 1, got ${n}`);
  if (!(Number.isInteger(step) && step >= 1))
    throw new RangeError(`${name}: attribute 'step' must be an integer >= 1, got ${step}`);
  if (!(clip > 0)) throw new RangeError(`${name}: attribute 'clip' must be positive (Infinity: none), got ${clip}`);
  const vars: Array<[tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, tf.TensorInfo]> = [];
  for (let i = 0; i < n; i++) {
    const [w, m, v, g] = ['w', 'm', 'v', 'g'].map((k) => inputs[`${k}${i}`]);
    if (!w || !m || !v || !g)
      throw new RangeError(`${name}: inputs w${i}, m${i}, v${i} and g${i} are required (variables: ${n})`);
    checkFloat(name, { [`w${i}`]: w, [`m${i}`]: m, [`v${i}`]: v, [`g${i}`]: g });
    checkShape(name, `m${i}`, m, w.shape);
    checkShape(name, `v${i}`, v, w.shape);
    checkShape(name, `g${i}`, g, w.shape);
    vars.push([w, m, v, g]);
  }
  const outs = vars.flatMap(([w]) => [host.alloc(w.shape), host.alloc(w.shape), host.alloc(w.shape)]);
  const norm = host.alloc([]);
  const c1 = 1 - beta1 ** step;
  const c2 = 1 - beta2 ** step;
  const native = host.native;
  if (native) {
    const at = native.offset;
    const scratch = host.alloc([8 * n]);
    const fv = host.view(scratch);
    const list = new Int32Array(fv.buffer, fv.byteOffset, 8 * n);
    vars.forEach(([w, m, v, g], i) => {
      list.set(
        [at(w), at(m), at(v), at(g), at(outs[3 * i]), at(outs[3 * i + 1]), at(outs[3 * i + 2]), count(w.shape)],
        8 * i,
      );
    });
    native.kernels.adamAll(at(scratch), n, lr, beta1, beta2, eps, c1, c2, clip, at(norm));
    host.free(scratch);
    return [...outs, norm];
  }
  let sum = 0;
  for (const [, , , g] of vars) for (const x of host.view(g)) sum += x * x;
  const total = Math.sqrt(sum);
  host.view(norm)[0] = total;
  const scale = Math.fround(total > clip ? clip / (total + 1e-6) : 1);
  vars.forEach((ins, i) => {
    adamLoop(host, ins, outs.slice(3 * i, 3 * i + 3), attrs, c1, c2, scale);
  });
  return [...outs, norm];
}

/** Checks a and b of khatriRao and khatriRaoGrad: float32 matrices with the same number of columns. */
function khatriRaoShapes(
  name: string,
  a: tf.TensorInfo | undefined,
  b: tf.TensorInfo | undefined,
): [number, number, number] {
  for (const [k, x] of Object.entries({ a, b })) {
    if (!x) throw new RangeError(`${name}: input '${k}' is missing`);
    checkFloat(name, { [k]: x });
    if (x.shape.length !== 2)
      throw new RangeError(`${name}: input '${k}' must be a matrix, got shape [${x.shape.join(', ')}]`);
  }
  const [p, R] = a!.shape as [number, number];
  const [q, R2] = b!.shape as [number, number];
  if (R !== R2)
    throw new RangeError(`${name}: inputs 'a' and 'b' must have the same number of columns, got ${R} and ${R2}`);
  return [p, q, R];
}

/**
 * The Khatri-Rao product (column-wise Kronecker product) of a (p x R) and b (q x R): (pq x R), row
 * i q + j the elementwise product of row i of a and row j of b. One kernel where tf.mul of
 * broadcast reshapes launches four, and autodiff six more for the gradient.
 */
function khatriRao(host: Host, inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const [p, q, R] = khatriRaoShapes(FUSED_KERNELS.khatriRao, inputs.a, inputs.b);
  const out = host.alloc([p * q, R]);
  const native = host.native;
  if (native) {
    const at = native.offset;
    native.kernels.khatriRao(at(inputs.a), at(inputs.b), at(out), p, q, R);
    return [out];
  }
  const [av, bv, ov] = [inputs.a!, inputs.b!, out].map((x) => host.view(x)) as [
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  for (let i = 0; i < p; i++)
    for (let j = 0; j < q; j++) for (let c = 0; c < R; c++) ov[(i * q + j) * R + c] = av[i * R + c]! * bv[j * R + c]!;
  return [out];
}

/**
 * The gradient of TensorizedKhatriRao: from dy (pq x R), a (p x R) and b (q x R), returns
 * da[i] = sum_j dy[i q + j] b[j] and db[j] = sum_i dy[i q + j] a[i] (rows, elementwise).
 */
function khatriRaoGrad(host: Host, inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const name = FUSED_KERNELS.khatriRaoGrad;
  const [p, q, R] = khatriRaoShapes(name, inputs.a, inputs.b);
  const dy = inputs.dy;
  if (!dy) throw new RangeError(`${name}: input 'dy' is missing`);
  checkFloat(name, { dy });
  checkShape(name, 'dy', dy, [p * q, R]);
  const outs = [host.alloc([p, R]), host.alloc([q, R])];
  const native = host.native;
  if (native) {
    const at = native.offset;
    native.kernels.khatriRaoGrad(at(dy), at(inputs.a), at(inputs.b), at(outs[0]), at(outs[1]), p, q, R);
    return outs;
  }
  const [dv, av, bv, dav, dbv] = [dy, inputs.a!, inputs.b!, ...outs].map((x) => host.view(x)) as Float32Array[];
  dav!.fill(0);
  dbv!.fill(0);
  for (let i = 0; i < p; i++)
    for (let j = 0; j < q; j++)
      for (let c = 0; c < R; c++) {
        const g = dv![(i * q + j) * R + c]!;
        dav![i * R + c]! += g * bv![j * R + c]!;
        dbv![j * R + c]! += g * av![i * R + c]!;
      }
  return outs;
}

/** Attributes of TensorizedDropout. */
export interface DropoutAttrs {
  /** The probability of dropping a value, in [0, 1). */
  rate: number;
  /** An integer; the mask depends only on (seed, index). */
  seed: number;
}

/**
 * lowbias32 (C. Wellons, "Prospecting for hash functions", 2018): a 32-bit integer hash whose output
 * bits each flip with probability close to 1/2 for any flipped input bit.
 */
export function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * Inverted dropout of x (any shape, float32), counter-based: value i (row-major) is multiplied by
 * 1 / (1 - rate) when the top 24 bits of hash32(i 0x9e3779b9 + hash32(seed)) (modulo 2^32) fall below
 * round((1 - rate) 2^24), else by 0. The mask depends only on (seed, i), so the gradient is the same
 * kernel applied to dy, and no mask is stored or uploaded. One pass (four values at a time on wasm).
 */
function dropout(host: Host, inputs: tf.NamedTensorInfoMap, attrs: DropoutAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.dropout;
  const x = inputs.x;
  if (!x) throw new RangeError(`${name}: input 'x' is missing`);
  checkFloat(name, { x });
  const { rate, seed } = attrs;
  if (!(typeof rate === 'number' && rate >= 0 && rate < 1))
    throw new RangeError(`${name}: attribute 'rate' must be in [0, 1), got ${rate}`);
  if (!Number.isInteger(seed)) throw new RangeError(`${name}: attribute 'seed' must be an integer, got ${seed}`);
  const keep = 1 - rate;
  const threshold = Math.round(keep * 2 ** 24);
  const scaleBits = new Int32Array(Float32Array.of(1 / keep).buffer)[0]!;
  const key = hash32(seed >>> 0) | 0;
  const n = count(x.shape);
  const out = host.alloc(x.shape);
  const native = host.native;
  if (native) {
    native.kernels.dropout(native.offset(x), native.offset(out), n, threshold, scaleBits, key);
    return [out];
  }
  const [xv, ov] = [host.view(x), host.view(out)];
  const scale = Math.fround(1 / keep);
  for (let i = 0; i < n; i++) {
    const h = hash32((Math.imul(i, 0x9e3779b9) + key) | 0);
    ov[i] = xv[i]! * (h >>> 8 < threshold ? scale : 0);
  }
  return [out];
}

/**
 * Rows of x kept or zeroed by a mask: x (..., n) and mask (...) (x's shape without its last axis, or
 * with a last axis of 1), out = x's row where the mask is not 0 and zeros where it is 0 (a NaN or an
 * infinity in a zeroed row does not come through, as with tf.where). A sequence model's padding:
 * TF.js ops take a Cast, a broadcast of the mask over every value and a Select (about 90 us for
 * 16 x 60 x 256 values on wasm, in cache); here one copy or fill per row.
 */
function rowMask(host: Host, inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const name = FUSED_KERNELS.rowMask;
  const { x, mask } = inputs;
  if (!x || !mask) throw new RangeError(`${name}: inputs 'x' and 'mask' are required`);
  checkFloatInput(name, 'x', x);
  checkFloatInput(name, 'mask', mask);
  const lead = x.shape.slice(0, -1);
  const given =
    mask.shape[mask.shape.length - 1] === 1 && mask.shape.length === x.shape.length
      ? mask.shape.slice(0, -1)
      : mask.shape;
  if (x.shape.length === 0 || given.length !== lead.length || given.some((d, i) => d !== lead[i]))
    throw new RangeError(
      `${name}: input 'mask' must have x's shape without its last axis ([${lead.join(', ')}], or with a last axis of 1), got [${mask.shape.join(', ')}] for x of shape [${x.shape.join(', ')}]`,
    );
  const rows = count(lead);
  const n = x.shape[x.shape.length - 1]!;
  const out = host.alloc(x.shape);
  const native = host.native;
  if (native) {
    native.kernels.rowMask(native.offset(x), native.offset(mask), native.offset(out), rows, n);
    return [out];
  }
  const [xv, mv, ov] = [host.view(x), host.view(mask), host.view(out)];
  for (let r = 0; r < rows; r++) {
    if (mv[r] !== 0) ov.set(xv.subarray(r * n, (r + 1) * n), r * n);
    else ov.fill(0, r * n, (r + 1) * n);
  }
  return [out];
}

/** Checks the inputs of the cross-entropy kernels: z and y float32 (N x K), mask (N) if given. */
function crossEntropyShapes(name: string, inputs: tf.NamedTensorInfoMap): [number, number] {
  const { z, y, mask } = inputs;
  for (const [k, x] of Object.entries({ z, y })) if (!x) throw new RangeError(`${name}: input '${k}' is missing`);
  checkFloat(name, { z, y, mask });
  if (z!.shape.length !== 2)
    throw new RangeError(`${name}: input 'z' must be a matrix (N, K), got shape [${z!.shape.join(', ')}]`);
  const [N, K] = z!.shape as [number, number];
  checkShape(name, 'y', y!, [N, K]);
  if (mask) checkShape(name, 'mask', mask, [N]);
  return [N, K];
}

/**
 * Binary cross-entropy of logits z against targets y (N x K), summed over each row and times the
 * row's mask (N; optional): out[n] = mask[n] sum_k max(z, 0) - z y + log(1 + exp(-|z|)), the
 * numerically stable form. One pass where TF.js ops launch nine (and their gradients more).
 */
function sigmoidCrossEntropy(host: Host, inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const [N, K] = crossEntropyShapes(FUSED_KERNELS.sigmoidCrossEntropy, inputs);
  const { z, y, mask } = inputs;
  const out = host.alloc([N]);
  const native = host.native;
  if (native) {
    const at = native.offset;
    native.kernels.sigmoidCrossEntropy(at(z), at(y), at(mask), at(out), N, K);
    return [out];
  }
  const [zv, yv, ov] = [z!, y!, out].map((x) => host.view(x)) as [Float32Array, Float32Array, Float32Array];
  const mv = mask ? host.view(mask) : undefined;
  for (let n = 0; n < N; n++) {
    let sum = 0;
    for (let k = n * K; k < (n + 1) * K; k++) {
      const v = zv[k]!;
      sum += Math.max(v, 0) - v * yv[k]! + Math.log1p(Math.exp(-Math.abs(v)));
    }
    ov[n] = mv ? mv[n]! * sum : sum;
  }
  return [out];
}

/**
 * The gradient of TensorizedSigmoidCrossEntropy with respect to z: from dy (N), z, y (N x K) and
 * mask (N; optional), dz[n, k] = dy[n] mask[n] (sigmoid(z[n, k]) - y[n, k]).
 */
function sigmoidCrossEntropyGrad(host: Host, inputs: tf.NamedTensorInfoMap): tf.TensorInfo[] {
  const name = FUSED_KERNELS.sigmoidCrossEntropyGrad;
  const [N, K] = crossEntropyShapes(name, inputs);
  const { dy, z, y, mask } = inputs;
  if (!dy) throw new RangeError(`${name}: input 'dy' is missing`);
  checkFloat(name, { dy });
  checkShape(name, 'dy', dy, [N]);
  const out = host.alloc([N, K]);
  const native = host.native;
  if (native) {
    const at = native.offset;
    native.kernels.sigmoidCrossEntropyGrad(at(dy), at(z), at(y), at(mask), at(out), N, K);
    return [out];
  }
  const [dv, zv, yv, ov] = [dy, z!, y!, out].map((x) => host.view(x)) as Float32Array[];
  const mv = mask ? host.view(mask) : undefined;
  for (let n = 0; n < N; n++) {
    const g = dv![n]! * (mv ? mv[n]! : 1);
    for (let k = n * K; k < (n + 1) * K; k++) ov![k] = g * (1 / (1 + Math.exp(-zv![k]!)) - yv![k]!);
  }
  return [out];
}

type HostKernel<A> = (host: Host, inputs: tf.NamedTensorInfoMap, attrs: A) => tf.TensorInfo[];

const KERNELS: Array<[string, HostKernel<never>]> = [
  [FUSED_KERNELS.gruStep, gruStep as HostKernel<never>],
  [FUSED_KERNELS.gruStepGrad, gruStepGrad as HostKernel<never>],
  [FUSED_KERNELS.adam, adam as HostKernel<never>],
  [FUSED_KERNELS.adamAll, adamAll as HostKernel<never>],
  [FUSED_KERNELS.khatriRao, khatriRao as HostKernel<never>],
  [FUSED_KERNELS.khatriRaoGrad, khatriRaoGrad as HostKernel<never>],
  [FUSED_KERNELS.dropout, dropout as HostKernel<never>],
  [FUSED_KERNELS.sigmoidCrossEntropy, sigmoidCrossEntropy as HostKernel<never>],
  [FUSED_KERNELS.sigmoidCrossEntropyGrad, sigmoidCrossEntropyGrad as HostKernel<never>],
  [FUSED_KERNELS.rowMask, rowMask as HostKernel<never>],
];

export const HOSTS: Record<string, (backend: never) => Host> = {
  cpu: cpuHost as (backend: never) => Host,
  wasm: wasmHost as (backend: never) => Host,
};

/** Which backends get which kernel: every kernel on cpu and on wasm. */
const BACKENDS_OF: Record<string, readonly string[]> = {
  [FUSED_KERNELS.gruStep]: ['cpu', 'wasm'],
  [FUSED_KERNELS.gruStepGrad]: ['cpu', 'wasm'],
  [FUSED_KERNELS.adam]: ['cpu', 'wasm'],
  [FUSED_KERNELS.adamAll]: ['cpu', 'wasm'],
  [FUSED_KERNELS.khatriRao]: ['cpu', 'wasm'],
  [FUSED_KERNELS.khatriRaoGrad]: ['cpu', 'wasm'],
  [FUSED_KERNELS.dropout]: ['cpu', 'wasm'],
  [FUSED_KERNELS.sigmoidCrossEntropy]: ['cpu', 'wasm'],
  [FUSED_KERNELS.sigmoidCrossEntropyGrad]: ['cpu', 'wasm'],
  [FUSED_KERNELS.rowMask]: ['cpu', 'wasm'],
};

/**
 * Registers the fused kernels (importing @tensorized/backends does it) for cpu and wasm.
 * Idempotent; a kernel someone else registered under the same name is left alone.
 */
export function installFusedKernels(): void {
  for (const [kernelName, kernel] of KERNELS) {
    for (const backendName of BACKENDS_OF[kernelName]!) {
      const host = HOSTS[backendName]!;
      if (tf.getKernel(kernelName, backendName)) continue;
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, backend, attrs }) => kernel(host(backend as never), inputs, attrs as never),
      });
    }
  }
}

installFusedKernels();
