import { KERNELS_WASM, KERNELS_WASM_SHARED } from './kernels_wasm.generated.js';

/**
 * The fused kernels compiled into WebAssembly (wasm/kernels.ts), instantiated on the wasm backend's
 * own memory: each export reads and writes tensors where the backend keeps them, at the byte offsets
 * its data map records, so a call moves no data. Arguments as in wasm/kernels.ts; an absent
 * optional tensor is offset 0 (the allocator never returns it).
 */
export interface NativeKernels {
  gruStep(
    a: number,
    uh: number,
    bU: number,
    h: number,
    mask: number,
    next: number,
    rOut: number,
    zOut: number,
    nOut: number,
    unOut: number,
    t: number,
    B: number,
    H: number,
    hard: number,
    aT: number,
    /** 1: also read the next step's rows of a (t + 1 < T) into cache on the way. */
    warmNext: number,
  ): void;
  /** gruStep with uh (3H, B) transposed and h' also written transposed into nextT (H, B). */
  gruStepT(
    a: number,
    uhT: number,
    bU: number,
    h: number,
    mask: number,
    next: number,
    nextT: number,
    rOut: number,
    zOut: number,
    nOut: number,
    unOut: number,
    t: number,
    B: number,
    H: number,
    hard: number,
    aT: number,
    /** 1: also read the next step's rows of a (t + 1 < T) into cache on the way. */
    warmNext: number,
  ): void;
  /** gruStepGrad with gi (H, B) transposed and dU also written transposed into dUT (3H, B). */
  gruStepGradT(
    dy: number,
    h: number,
    r: number,
    z: number,
    n: number,
    un: number,
    mask: number,
    carry: number,
    giT: number,
    totalOut: number,
    dUOut: number,
    dUT: number,
    dAOut: number,
    t: number,
    B: number,
    H: number,
    hard: number,
    dyT: number,
    dAStride: number,
  ): void;
  gruStepGrad(
    dy: number,
    h: number,
    r: number,
    z: number,
    n: number,
    un: number,
    mask: number,
    carry: number,
    gi: number,
    totalOut: number,
    dUOut: number,
    dAOut: number,
    t: number,
    B: number,
    H: number,
    hard: number,
    dyT: number,
    dAStride: number,
  ): void;
  /**
   * A whole recurrence of gruStepT with its per-step products M_2^T (M_1^T h^T) (m2T 0: one stage)
   * by matmul; hs 0: not recorded; mids 0: the middles not kept (see wasm/kernels.ts).
   */
  gruSequenceT(
    a: number,
    bU: number,
    mask: number,
    h0: number,
    h0T: number,
    m1T: number,
    m2T: number,
    R: number,
    mids: number,
    mid: number,
    uhT: number,
    states: number,
    hs: number,
    kept: number,
    out: number,
    T: number,
    B: number,
    H: number,
    hard: number,
    aT: number,
  ): void;
  /** gruSequenceT's backward pass: gruStepGradT and M_1 (M_2 d(U h)^T) at every step, T - 1 down to 0. */
  gruSequenceGradT(
    dy: number,
    hs: number,
    kept: number,
    mask: number,
    m1: number,
    m2: number,
    R: number,
    dA: number,
    dU: number,
    gMids: number,
    mid: number,
    dUT: number,
    work: number,
    totalOut: number,
    giOut: number,
    T: number,
    B: number,
    H: number,
    hard: number,
    dyT: number,
  ): void;
  /** out[n] = mask[n] sum_k bce(z[n, k], y[n, k]) (mask 0: none); see src/fused_kernels.ts. */
  sigmoidCrossEntropy(z: number, y: number, mask: number, out: number, N: number, K: number): void;
  /** dz[n, k] = dy[n] mask[n] (sigmoid(z[n, k]) - y[n, k]). */
  sigmoidCrossEntropyGrad(dy: number, z: number, y: number, mask: number, dz: number, N: number, K: number): void;
  /** out = cond ? t : e elementwise over `count` 32-bit values, cond one byte per value. */
  select(cond: number, t: number, e: number, out: number, count: number): void;
  /** y = x times the dropout multipliers of indices 0..count-1 (see src/fused_kernels.ts, dropout). */
  dropout(x: number, y: number, count: number, threshold: number, scaleBits: number, key: number): void;
  khatriRao(a: number, b: number, out: number, p: number, q: number, R: number): void;
  khatriRaoGrad(dy: number, a: number, b: number, da: number, db: number, p: number, q: number, R: number): void;
  adam(
    w: number,
    m: number,
    v: number,
    g: number,
    wOut: number,
    mOut: number,
    vOut: number,
    count: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    c1: number,
    c2: number,
    scale: number,
  ): void;
  /** Adam for n variables listed at `list` (8 int32 each: w, m, v, g, wOut, mOut, vOut, count) with norm clipping; the norm to normOut. */
  adamAll(
    list: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    c1: number,
    c2: number,
    clip: number,
    normOut: number,
  ): void;
  /**
   * C = act(A B + bias), row-major float32, A (M x K), B (K x N), N a multiple of 4; bias N values
   * or offset 0 for none; act 0 (none), 1 (relu), 2 (leakyrelu with leakyAlpha).
   */
  matmul(
    a: number,
    b: number,
    c: number,
    M: number,
    K: number,
    N: number,
    bias: number,
    act: number,
    leakyAlpha: number,
  ): void;
  /** C = A^T B, row-major float32, A (K x M), B (K x N), N a multiple of 4, K > 0. */
  matmulTN(a: number, b: number, c: number, K: number, M: number, N: number): void;
  /** matmul through B packed into `packed` (K x (N & ~7) values of scratch). */
  matmulPacked(
    a: number,
    b: number,
    c: number,
    M: number,
    K: number,
    N: number,
    bias: number,
    act: number,
    leakyAlpha: number,
    packed: number,
  ): void;
  /**
   * matmulTN over blocks of `cols` columns of C and, within one, `block` rows of B, each block of B
   * first copied into `packed` (block x cols values of scratch) as panels of 8 columns.
   */
  matmulTNPacked(
    a: number,
    b: number,
    c: number,
    K: number,
    M: number,
    N: number,
    packed: number,
    block: number,
    cols: number,
  ): void;
  /** Copies `rows` runs of `bytes` bytes, the i-th from src + i srcStride to dst + i dstStride. */
  copyRows(src: number, dst: number, rows: number, bytes: number, srcStride: number, dstStride: number): void;
  rowMask(x: number, mask: number, out: number, rows: number, n: number): void;
  /** dst (A, C, B, D) = src (A, B, C, D), 4-byte values: a Transpose by [0, 2, 1, 3]. */
  swapMiddleAxes(src: number, dst: number, A: number, B: number, C: number, D: number): void;
  /** dst (cols x rows) = src (rows x cols) transposed, row-major float32. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

/** What the kernels need of TF.js's wasm backend (its Emscripten module and its data map). */
export interface WasmBackendInternals {
  wasm: { asm?: { memory?: unknown }; wasmMemory?: unknown };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
}

/** The part of the WebAssembly JavaScript API used here (this package compiles without the DOM's types). */
interface WasmMemory {
  readonly buffer: ArrayBufferLike;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: abstract new (...args: never[]) => WasmMemory;
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const atob = (globalThis as unknown as { atob(text: string): string }).atob;

let enabled = true;
const modules = new Map<boolean, object | null>();
const instances = new WeakMap<WasmMemory, NativeKernels>();

function decode(base64: string): Uint8Array {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** The compiled module for an ordinary or a shared memory; null where it cannot compile (no SIMD). */
function compiled(shared: boolean): object | null {
  if (!modules.has(shared)) {
    let module: object | null = null;
    try {
      module = new WA.Module(decode(shared ? KERNELS_WASM_SHARED : KERNELS_WASM));
    } catch {
      // A WebAssembly without SIMD (or threads, for the shared variant): the JavaScript loops serve.
    }
    modules.set(shared, module);
  }
  return modules.get(shared)!;
}

/** The backend's WebAssembly.Memory: exported by its SIMD build, made in JavaScript by its threaded build. */
function memoryOf(backend: WasmBackendInternals): WasmMemory | undefined {
  const memory = backend.wasm?.wasmMemory ?? backend.wasm?.asm?.memory;
  return memory instanceof WA.Memory ? memory : undefined;
}

/**
 * The native kernels on this backend's memory (instantiated once per memory), or undefined where
 * they cannot run: the memory is not reachable, WebAssembly has no SIMD, or they are switched off
 * with {@link setNativeWasmKernels}.
 */
export function nativeKernels(backend: WasmBackendInternals): NativeKernels | undefined {
  if (!enabled) return undefined;
  const memory = memoryOf(backend);
  if (!memory) return undefined;
  let kernels = instances.get(memory);
  if (!kernels) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const module = compiled(shared);
    if (!module) return undefined;
    kernels = new WA.Instance(module, { env: { memory } }).exports as unknown as NativeKernels;
    instances.set(memory, kernels);
  }
  return kernels;
}

/**
 * Switches the WebAssembly kernels on (the default) or off; off, the fused kernels on wasm run the
 * same arithmetic as JavaScript loops on views of the heap. For benchmarks and tests that compare
 * the two; returns the previous setting.
 */
export function setNativeWasmKernels(on: boolean): boolean {
  if (typeof on !== 'boolean') throw new TypeError(`setNativeWasmKernels: 'on' must be a boolean, got ${String(on)}`);
  const before = enabled;
  enabled = on;
  return before;
}

/** Whether the backend runs its threaded build (its memory is shared with its worker threads). */
export function sharedMemory(backend: WasmBackendInternals): boolean {
  const memory = memoryOf(backend);
  return typeof SharedArrayBuffer !== 'undefined' && memory !== undefined && memory.buffer instanceof SharedArrayBuffer;
}

/** The byte offset of a tensor's data in the wasm backend's heap. */
export function offsetOf(backend: WasmBackendInternals, dataId: object): number {
  const data = backend.dataIdMap.get(dataId);
  if (!data) throw new Error('fused kernels: a tensor has no data on the wasm backend (disposed?)');
  return data.memoryOffset;
}
