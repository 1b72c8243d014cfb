import * as tf from '@tensorflow/tfjs-core';
import {
  checkBoolean,
  checkFloatInput,
  checkShape,
  copyRowsInto,
  FUSED_KERNELS,
  type GateActivation,
  gruStep,
  gruStepGrad,
  HOSTS,
  type Host,
  transposed,
} from './fused_kernels.js';
import { type ViewStep, viewOn } from './view.js';
import { SMALL_MATMUL_MAX_THREADED, smallMatMulRoute } from './wasm_kernels.js';

/** Attributes of TensorizedGruSequence. */
export interface GruSequenceAttrs {
  gate: GateActivation;
  /** Also return what the backward pass needs: the stacks hs and kept (see the kernel). */
  record: boolean;
  /** `a` comes batch-major, (B, T, 3H), and the states go out batch-major, (B, T, H). */
  batchMajor?: boolean;
  /** With two stages and `record`: also return every step's middle M_1^T h^T, stacked (T, R, B). */
  keepMids?: boolean;
}

/** Attributes of TensorizedGruSequenceGrad. */
export interface GruSequenceGradAttrs {
  gate: GateActivation;
  /** dy comes batch-major, (B, T, H), and d(x W + b_W) goes out batch-major, (B, T, 3H). */
  batchMajor?: boolean;
  /** With two stages: also return every step's middle M_2 d(U h)^T, stacked (T, R, B). */
  keepMids?: boolean;
}

/** The input `name`, checked float32 and, if `shape` is given, of that shape; undefined if absent and optional. */
function input(
  kernel: string,
  inputs: tf.NamedTensorInfoMap,
  name: string,
  shape?: readonly number[],
  optional = false,
): tf.TensorInfo | undefined {
  const x = inputs[name];
  if (!x) {
    if (optional) return undefined;
    throw new RangeError(`${kernel}: input '${name}' is missing`);
  }
  checkFloatInput(kernel, name, x);
  if (shape) checkShape(kernel, name, x, shape);
  return x;
}

function checkGate(kernel: string, gate: unknown): void {
  if (gate !== 'sigmoid' && gate !== 'hardSigmoid')
    throw new RangeError(`${kernel}: attribute 'gate' must be 'sigmoid' or 'hardSigmoid', got ${String(gate)}`);
}

/** A forward sequence kernel's inputs a ((T, B, 3H) or batch-major (B, T, 3H)), bU, h0 and mask, checked. */
function forwardInputs(kernel: string, inputs: tf.NamedTensorInfoMap, batchMajor: boolean) {
  const a = input(kernel, inputs, 'a')!;
  if (a.shape.length !== 3 || a.shape[2]! % 3 !== 0)
    throw new RangeError(
      `${kernel}: input 'a' must be (T, B, 3H) or batch-major (B, T, 3H), got [${a.shape.join(', ')}]`,
    );
  const [d0, d1, H3] = a.shape as [number, number, number];
  const [T, B] = batchMajor ? [d1, d0] : [d0, d1];
  const H = H3 / 3;
  if (T === 0 || B === 0 || H === 0) throw new RangeError(`${kernel}: input 'a' is empty, got [${a.shape.join(', ')}]`);
  const bU = input(kernel, inputs, 'bU', [H3])!;
  const h0 = input(kernel, inputs, 'h0', [B, H])!;
  const mask = input(kernel, inputs, 'mask', [T, B, 1], true);
  return { a, bU, h0, mask, T, B, H, H3 };
}

/** A backward sequence kernel's inputs hs (T, B, H), dy ((T, B, H) or batch-major), kept and mask, checked. */
function backwardInputs(kernel: string, inputs: tf.NamedTensorInfoMap, batchMajor: boolean) {
  const hs = input(kernel, inputs, 'hs')!;
  if (hs.shape.length !== 3 || hs.shape.some((d) => d === 0))
    throw new RangeError(`${kernel}: input 'hs' must be (T, B, H) and not empty, got [${hs.shape.join(', ')}]`);
  const [T, B, H] = hs.shape as [number, number, number];
  const dy = input(kernel, inputs, 'dy', batchMajor ? [B, T, H] : [T, B, H])!;
  const kept = input(kernel, inputs, 'kept', [4, T, B, H])!;
  const mask = input(kernel, inputs, 'mask', [T, B, 1], true);
  return { hs, dy, kept, mask, T, B, H, H3: 3 * H };
}

/** A stage matrix: a float32 matrix whose columns are `cols`; its rows. */
function matrixRows(kernel: string, name: string, x: tf.TensorInfo, cols: number): number {
  if (x.shape.length !== 2 || x.shape[1] !== cols)
    throw new RangeError(
      `${kernel}: input '${name}' must be a matrix with ${cols} columns, got [${x.shape.join(', ')}]`,
    );
  return x.shape[0]!;
}

/**
 * Whether the WebAssembly sequence kernels can run: SIMD kernels on the heap, B and H multiples of 4,
 * and every per-step product (M x K by K x B) one that the backend's BatchMatMul runs by the
 * WebAssembly `matmul` itself (so that the values are those of the step-by-step launches, bit for bit).
 */
function nativeOn(host: Host, B: number, H: number, products: ReadonlyArray<readonly [number, number]>): boolean {
  const native = host.native;
  if (!native || B % 4 !== 0 || H % 4 !== 0) return false;
  return products.every(
    ([M, K]) => smallMatMulRoute(M, K, B) === 'matmul' && !(native.shared && M * K * B > SMALL_MATMUL_MAX_THREADED),
  );
}

/**
 * TensorizedGruSequence: the GRU recurrence (reset gate after U) over all T steps in one launch, its
 * per-step products flipped through one or two plain stages: (U h)^T = M_2^T (M_1^T h^T), then
 * TensorizedGruStep's arithmetic with `flipped` (see GruStepAttrs). Inputs a (T, B, 3H) = x W + b_W,
 * or (B, T, 3H) batch-major; bU (3H); h0 (B, H); m1T, M_1^T: (3H, H) for one stage, else (R, H);
 * m2T, M_2^T (3H, R), for two; mask (T, B, 1) optional. Outputs the states h_1..h_T, (T, B, H) or
 * (B, T, H) batch-major; with `record` then hs (T, B, H), the state each step started from, and kept
 * (4, T, B, H): r, z, n, un (TensorizedGruStep's stacks); with `keepMids`, last, the middles
 * M_1^T h^T of every step (T, R, B). On wasm one WebAssembly loop (wasm/kernels.ts, gruSequenceT)
 * where its products are the WebAssembly matmul's; otherwise, and on cpu, the same launches step by
 * step inside the kernel (the backend's BatchMatMul and TensorizedGruStep): the same values either way,
 * bit for bit. The launches of a recurrence's steps (four per step forward and back, each about 10 us
 * of JavaScript on this project's machine) are most of what the engine costs a GRU's training.
 */
function gruSequence(host: Host, inputs: tf.NamedTensorInfoMap, attrs: GruSequenceAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruSequence;
  const { gate, record } = attrs;
  const batchMajor = attrs.batchMajor ?? false;
  const keepMids = attrs.keepMids ?? false;
  checkBoolean(name, 'record', record);
  checkBoolean(name, 'batchMajor', batchMajor);
  checkBoolean(name, 'keepMids', keepMids);
  checkGate(name, gate);
  const { a, bU, h0, mask, T, B, H, H3 } = forwardInputs(name, inputs, batchMajor);
  const m2T = input(name, inputs, 'm2T', undefined, true);
  const m1T = input(name, inputs, 'm1T')!;
  const P = matrixRows(name, 'm1T', m1T, H);
  const R = m2T ? P : 0;
  if (m2T) checkShape(name, 'm2T', m2T, [H3, R]);
  else if (P !== H3)
    throw new RangeError(
      `${name}: input 'm1T' of one stage must have shape [${H3}, ${H}], got [${m1T.shape.join(', ')}]`,
    );
  if (keepMids && !(m2T && record)) throw new RangeError(`${name}: attribute 'keepMids' needs two stages and 'record'`);
  const outShape = batchMajor ? [B, T, H] : [T, B, H];
  const products: Array<[number, number]> = m2T
    ? [
        [R, H],
        [H3, R],
      ]
    : [[H3, H]];
  const mids = keepMids ? host.alloc([T, R, B]) : undefined;
  if (nativeOn(host, B, H, products)) {
    const { kernels, offset: at } = host.native!;
    const out = host.alloc(outShape);
    const [hs, kept] = record ? [host.alloc([T, B, H]), host.alloc([4, T, B, H])] : [];
    const scratch = [
      transposed(host, h0),
      host.alloc([4, B, H]),
      host.alloc([H3, B]),
      ...(m2T && !mids ? [host.alloc([R, B])] : []),
    ];
    const [h0T, states, uhT, mid] = scratch;
    kernels.gruSequenceT(
      at(a),
      at(bU),
      at(mask),
      at(h0),
      at(h0T),
      at(m1T),
      at(m2T),
      R,
      at(mids),
      at(mid),
      at(uhT),
      at(states),
      at(hs),
      at(kept),
      at(out),
      T,
      B,
      H,
      gate === 'hardSigmoid' ? 1 : 0,
      batchMajor ? T : 0,
    );
    for (const x of scratch) host.free(x!);
    return [out, ...(record ? [hs!, kept!] : []), ...(mids ? [mids] : [])];
  }
  // Step by step: the backend's products and TensorizedGruStep (with its stacks when recording).
  const out = record ? undefined : host.alloc(outShape);
  let stacks: tf.TensorInfo[] = [];
  let h = h0;
  let hT = transposed(host, h0);
  const stepAttrs = { gate, record, flipped: true, batchMajor, stacks: record };
  for (let t = 0; t < T; t++) {
    const mid = host.matMul(m1T, hT);
    if (mids) copyRowsInto(host, mid, mids, t * R * B, 1, R * B, R * B);
    const uhT = m2T ? host.matMul(m2T, mid) : mid;
    if (m2T) host.free(mid);
    const given = record && t > 0 ? { hs: stacks[0]!, kept: stacks[1]!, out: stacks[2]! } : {};
    const stepped = gruStep(host, { a, uh: uhT, bU, h, ...(mask ? { mask } : {}), ...given }, { t, ...stepAttrs });
    host.free(uhT);
    if (record && t === 0) stacks = stepped.slice(1, 4);
    const next = stepped[0]!;
    if (out) {
      if (batchMajor) copyRowsInto(host, next, out, t * H, B, H, T * H);
      else copyRowsInto(host, next, out, t * B * H, 1, B * H, B * H);
    }
    if (h !== h0) host.free(h);
    host.free(hT);
    [h, hT] = [next, stepped[stepped.length - 1]!];
  }
  if (h !== h0) host.free(h);
  host.free(hT);
  return record ? [stacks[2]!, stacks[0]!, stacks[1]!, ...(mids ? [mids] : [])] : [out!];
}

/**
 * TensorizedGruSequenceGrad: the backward pass of TensorizedGruSequence (recorded) in one launch:
 * TensorizedGruStepGrad's chain rule (with `flipped`, `stacks` and `dUStack`) at every step from
 * T - 1 down to 0, each followed by the gradient back through the stages, gi^T = M_1 (M_2 d(U h)^T).
 * Inputs dy (T, B, H), or (B, T, H) batch-major: the gradient of the states; hs (T, B, H) and kept
 * (4, T, B, H) as the forward kernel returned them; m1 = M_1: (H, 3H) for one stage, else (H, R);
 * m2 = M_2 (R, 3H) for two; mask (T, B, 1) optional. Outputs d(x W + b_W) of all steps, (T, B, 3H) or
 * (B, T, 3H) batch-major; d(U h + b_U) of all steps, (T, B, 3H); the total gradient of h_1 (B, H) and
 * the gradient through U h_0, transposed (H, B), which give h_0's; with `keepMids`, the middles
 * M_2 d(U h)^T of every step (T, R, B). WebAssembly or step by step as TensorizedGruSequence.
 */
function gruSequenceGrad(host: Host, inputs: tf.NamedTensorInfoMap, attrs: GruSequenceGradAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruSequenceGrad;
  const { gate } = attrs;
  const batchMajor = attrs.batchMajor ?? false;
  const keepMids = attrs.keepMids ?? false;
  checkBoolean(name, 'batchMajor', batchMajor);
  checkBoolean(name, 'keepMids', keepMids);
  checkGate(name, gate);
  const { hs, dy, kept, mask, T, B, H, H3 } = backwardInputs(name, inputs, batchMajor);
  const m2 = input(name, inputs, 'm2', undefined, true);
  const m1 = input(name, inputs, 'm1')!;
  if (m1.shape.length !== 2 || m1.shape[0] !== H)
    throw new RangeError(`${name}: input 'm1' must be a matrix with ${H} rows, got [${m1.shape.join(', ')}]`);
  const R = m2 ? m1.shape[1]! : 0;
  if (m2) checkShape(name, 'm2', m2, [R, H3]);
  else checkShape(name, 'm1', m1, [H, H3]);
  if (keepMids && !m2) throw new RangeError(`${name}: attribute 'keepMids' needs two stages`);
  const gMids = keepMids ? host.alloc([T, R, B]) : undefined;
  const products: Array<[number, number]> = m2
    ? [
        [R, H3],
        [H, R],
      ]
    : [[H, H3]];
  if (nativeOn(host, B, H, products)) {
    const { kernels, offset: at } = host.native!;
    const outs = [
      host.alloc(batchMajor ? [B, T, H3] : [T, B, H3]),
      host.alloc([T, B, H3]),
      host.alloc([B, H]),
      host.alloc([H, B]),
    ];
    const [dA, dU, total, giT] = outs;
    const scratch = [host.alloc([4, B, H]), host.alloc([H3, B]), ...(m2 && !gMids ? [host.alloc([R, B])] : [])];
    const [work, dUT, mid] = scratch;
    kernels.gruSequenceGradT(
      at(dy),
      at(hs),
      at(kept),
      at(mask),
      at(m1),
      at(m2),
      R,
      at(dA),
      at(dU),
      at(gMids),
      at(mid),
      at(dUT),
      at(work),
      at(total),
      at(giT),
      T,
      B,
      H,
      gate === 'hardSigmoid' ? 1 : 0,
      batchMajor ? T : 0,
    );
    for (const x of scratch) host.free(x!);
    return [...(outs as tf.TensorInfo[]), ...(gMids ? [gMids] : [])];
  }
  // Step by step: TensorizedGruStepGrad into its stacks, then the backend's products.
  const stepAttrs = { gate, flipped: true, batchMajor, stacks: true, dUStack: true };
  let dA: tf.TensorInfo | undefined;
  let dU: tf.TensorInfo | undefined;
  let carry: tf.TensorInfo | undefined;
  let giT: tf.TensorInfo | undefined;
  for (let t = T - 1; t >= 0; t--) {
    const given = carry ? { carry, gi: giT!, dA: dA!, dU: dU! } : {};
    const stepped = gruStepGrad(host, { dy, hs, kept, ...(mask ? { mask } : {}), ...given }, { t, ...stepAttrs });
    if (!carry) [dA, dU] = [stepped[1]!, stepped[2]!];
    const dUT = stepped[stepped.length - 1]!;
    const mid = m2 ? host.matMul(m2, dUT) : dUT;
    if (gMids) copyRowsInto(host, mid, gMids, t * R * B, 1, R * B, R * B);
    const gi = host.matMul(m1, mid);
    if (m2) host.free(mid);
    host.free(dUT);
    if (carry) host.free(carry);
    if (giT) host.free(giT);
    [carry, giT] = [stepped[0]!, gi];
  }
  return [dA!, dU!, carry!, giT!, ...(gMids ? [gMids] : [])];
}

/** Attributes of TensorizedGruStagedSequence. */
export interface GruStagedSequenceAttrs {
  gate: GateActivation;
  /** Also return what the backward pass needs: the stacks hs and kept. */
  record: boolean;
  /** `a` comes batch-major, (B, T, 3H), and the states go out batch-major, (B, T, H). */
  batchMajor?: boolean;
  /** Per stage, the view that lays out its input before its matrix (reshapes and transposes). */
  views: ReadonlyArray<readonly ViewStep[]>;
  /** The view from the last stage's output to (B, 3H). */
  outView: readonly ViewStep[];
  /**
   * With `record`: return the laid-out inputs of the stages from this one on, one tensor per stage
   * and step (stage by stage, steps in order), for a backward pass that forms the stages' weight
   * gradients step by step. Default: none (the number of stages).
   */
  keepLaidFrom?: number;
  /**
   * Per stage, where its view's one transpose is the transpose of a matrix: [n, m], the stage's input
   * seen as (n x m) and multiplied transposed (a^T M, no copy: @tensorized/decomp's viewThenMatMul),
   * or null: the view applied. For stages whose laid-out input is not kept. Default: none.
   */
  folded?: ReadonlyArray<readonly number[] | null>;
}

/** Attributes of TensorizedGruStagedSequenceGrad. */
export interface GruStagedSequenceGradAttrs {
  gate: GateActivation;
  /** dy comes batch-major, (B, T, H), and d(x W + b_W) goes out batch-major, (B, T, 3H). */
  batchMajor?: boolean;
  /** Per stage, the view that undoes its input's layout (the inverse of the forward view). */
  backViews: ReadonlyArray<readonly ViewStep[]>;
  /** The view from d(U h) (B, 3H) to the last stage's output's shape (the inverse of outView). */
  outBack: readonly ViewStep[];
  /**
   * Form every stage's weight gradient, summed over the steps: laid{i}_{t}^T g_i(t), the inputs
   * laid{i}_{t} being the forward kernel's kept laid-out inputs (keepLaidFrom 0). Default false.
   */
  weightGradients?: boolean;
}

/** The stage matrices m0, m1, ... (as many as `k`), float32 matrices. */
function stageMatrices(kernel: string, inputs: tf.NamedTensorInfoMap, k: number): tf.TensorInfo[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`${kernel}: there must be at least one stage, got ${k}`);
  return Array.from({ length: k }, (_, i) => {
    const m = input(kernel, inputs, `m${i}`)!;
    if (m.shape.length !== 2)
      throw new RangeError(`${kernel}: input 'm${i}' must be a matrix, got [${m.shape.join(', ')}]`);
    return m;
  });
}

function checkViews(kernel: string, attr: string, views: unknown): void {
  if (!Array.isArray(views) || !views.every((v) => Array.isArray(v)))
    throw new RangeError(
      `${kernel}: attribute '${attr}' must be a list of views (lists of steps), got ${JSON.stringify(views)}`,
    );
}

/** A copy of x (its own data). */
function copied(host: Host, x: tf.TensorInfo): tf.TensorInfo {
  const out = host.alloc(x.shape);
  const n = x.shape.reduce((p, q) => p * q, 1);
  copyRowsInto(host, x, out, 0, 1, n, n);
  return out;
}

/**
 * TensorizedGruStagedSequence: the GRU recurrence (reset gate after U) over all T steps in one
 * launch, U h through matMul stages with layout views (U h = outView(view_k(... view_1(h) M_1 ...)
 * M_k)): per step the views (the backend's Transpose kernel; reshapes free), the products (its
 * BatchMatMul) and TensorizedGruStep, called directly, as @tensorized/cells launches them one by one
 * (the same values, bit for bit), without the engine's cost per launch (a TT-GRU's step is about 6
 * launches forward and 10 backward). Inputs a (T, B, 3H) or batch-major (B, T, 3H), bU (3H), h0
 * (B, H), the stage matrices m0 .. m{k-1} (k = the number of views), mask (T, B, 1) optional. Outputs
 * the states, then with `record` hs and kept (TensorizedGruStep's stacks), then the laid-out stage
 * inputs kept (keepLaidFrom). cpu and wasm.
 */
function gruStagedSequence(host: Host, inputs: tf.NamedTensorInfoMap, attrs: GruStagedSequenceAttrs): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruStagedSequence;
  const { gate, record, views, outView } = attrs;
  const batchMajor = attrs.batchMajor ?? false;
  checkBoolean(name, 'record', record);
  checkBoolean(name, 'batchMajor', batchMajor);
  checkGate(name, gate);
  checkViews(name, 'views', views);
  checkViews(name, 'outView', [outView]);
  const k = views.length;
  const keepFrom = attrs.keepLaidFrom ?? k;
  if (!(Number.isInteger(keepFrom) && keepFrom >= 0 && keepFrom <= k))
    throw new RangeError(`${name}: attribute 'keepLaidFrom' must be an integer in [0, ${k}], got ${keepFrom}`);
  if (keepFrom < k && !record) throw new RangeError(`${name}: attribute 'keepLaidFrom' needs 'record'`);
  const folded = attrs.folded ?? [];
  if (!Array.isArray(folded) || folded.length > k)
    throw new RangeError(
      `${name}: attribute 'folded' must be a list of at most ${k} entries, got ${JSON.stringify(folded)}`,
    );
  const { a, bU, h0, mask, T, B, H, H3 } = forwardInputs(name, inputs, batchMajor);
  const mats = stageMatrices(name, inputs, k);
  const { backend, backendName } = host;
  const out = record ? undefined : host.alloc(batchMajor ? [B, T, H] : [T, B, H]);
  const laid: tf.TensorInfo[][] = views.map(() => []);
  let stacks: tf.TensorInfo[] = [];
  let h = h0;
  const stepAttrs = { gate, record, batchMajor, stacks: record };
  const given = (t: number) => (record && t > 0 ? { hs: stacks[0]!, kept: stacks[1]!, out: stacks[2]! } : {});
  try {
    for (let t = 0; t < T; t++) {
      // What this step owns until it is freed or kept: the last product, a laid-out input not kept
      // yet, U h (the last product through outView).
      let product: tf.TensorInfo | undefined;
      let temp: tf.TensorInfo | undefined;
      let uh: tf.TensorInfo | undefined;
      let stepped: tf.TensorInfo[];
      try {
        let c = h;
        for (let i = 0; i < k; i++) {
          const fold = i < keepFrom ? folded[i] : null;
          let y: tf.TensorInfo;
          if (fold) y = host.matMul({ dataId: c.dataId, shape: [...fold], dtype: c.dtype }, mats[i]!, true);
          else {
            const v = viewOn(backendName, backend, c, views[i]!, name);
            const x = i >= keepFrom && !v.owned ? copied(host, v.out) : v.out;
            temp = x !== v.out || v.owned ? x : undefined;
            if (x.shape.length !== 2 || x.shape[1] !== mats[i]!.shape[0])
              throw new RangeError(
                `${name}: stage ${i}'s laid-out input [${x.shape.join(', ')}] does not fit its matrix [${mats[i]!.shape.join(', ')}]`,
              );
            y = host.matMul(x, mats[i]!);
            if (i >= keepFrom) laid[i]!.push(x);
            else if (temp) host.free(temp);
            temp = undefined;
          }
          if (product) host.free(product);
          c = product = y;
        }
        const u = viewOn(backendName, backend, c, outView, name);
        if (u.owned) host.free(product!);
        [uh, product] = [u.out, undefined];
        checkShape(name, 'U h (the last stage through outView)', uh, [B, H3]);
        stepped = gruStep(host, { a, uh, bU, h, ...(mask ? { mask } : {}), ...given(t) }, { t, ...stepAttrs });
      } finally {
        for (const x of [temp, product, uh]) if (x) host.free(x);
      }
      if (record && t === 0) stacks = stepped.slice(1, 4);
      const next = stepped[0]!;
      if (out) {
        if (batchMajor) copyRowsInto(host, next, out, t * H, B, H, T * H);
        else copyRowsInto(host, next, out, t * B * H, 1, B * H, B * H);
      }
      if (h !== h0) host.free(h);
      h = next;
    }
  } catch (e) {
    for (const x of [...laid.flat(), ...stacks, ...(out ? [out] : []), ...(h !== h0 ? [h] : [])]) host.free(x);
    throw e;
  }
  if (h !== h0) host.free(h);
  return record ? [stacks[2]!, stacks[0]!, stacks[1]!, ...laid.flat()] : [out!];
}

/**
 * TensorizedGruStagedSequenceGrad: the backward pass of TensorizedGruStagedSequence (recorded) in one
 * launch: per step from T - 1 down to 0 TensorizedGruStepGrad (with `stacks`), then the gradient
 * back through the stages g_i(t) = backView_i(g_{i+1}(t) M_i^T), starting from outBack(d(U h)), and
 * with `weightGradients` each stage's laid{i}_{t}^T g_{i+1}(t), summed over the steps at the end (the
 * backend's AddN, steps from T - 1 down): as @tensorized/cells launches them one by one, the same
 * values bit for bit. Inputs dy (T, B, H) or (B, T, H) batch-major, hs and kept (the forward kernel's
 * stacks), m0 .. m{k-1}, mask (T, B, 1) optional, and with `weightGradients` laid{i}_{t}. Outputs
 * d(x W + b_W) of all steps ((T, B, 3H) or (B, T, 3H)), d(U h + b_U) of all steps (T, B, 3H), the
 * total gradient of h_1 (B, H) and the gradient through U h_0 (B, H), which give h_0's; then with
 * `weightGradients` the stage matrices' gradients. cpu and wasm.
 */
function gruStagedSequenceGrad(
  host: Host,
  inputs: tf.NamedTensorInfoMap,
  attrs: GruStagedSequenceGradAttrs,
): tf.TensorInfo[] {
  const name = FUSED_KERNELS.gruStagedSequenceGrad;
  const { gate, backViews, outBack } = attrs;
  const batchMajor = attrs.batchMajor ?? false;
  const weightGradients = attrs.weightGradients ?? false;
  checkBoolean(name, 'batchMajor', batchMajor);
  checkBoolean(name, 'weightGradients', weightGradients);
  checkGate(name, gate);
  checkViews(name, 'backViews', backViews);
  checkViews(name, 'outBack', [outBack]);
  const k = backViews.length;
  const { hs, dy, kept, mask, T, B, H, H3 } = backwardInputs(name, inputs, batchMajor);
  const mats = stageMatrices(name, inputs, k);
  const laidOf = (i: number, t: number): tf.TensorInfo => input(name, inputs, `laid${i}_${t}`)!;
  if (weightGradients) for (let i = 0; i < k; i++) for (let t = 0; t < T; t++) laidOf(i, t);
  const { backend, backendName } = host;
  const matsT = mats.map((m) => transposed(host, m));
  const dU = host.alloc([T, B, H3]);
  const partials: tf.TensorInfo[][] = mats.map(() => []);
  let dA: tf.TensorInfo | undefined;
  let carry: tf.TensorInfo | undefined;
  let gi: tf.TensorInfo | undefined;
  const stepAttrs = { gate, batchMajor, stacks: true };
  // What the step being computed owns until it is kept: its total, and g (the data under it).
  let total: tf.TensorInfo | undefined;
  let g: tf.TensorInfo | undefined;
  try {
    for (let t = T - 1; t >= 0; t--) {
      const given = carry ? { carry, gi: gi!, dA: dA! } : {};
      const stepped = gruStepGrad(host, { dy, hs, kept, ...(mask ? { mask } : {}), ...given }, { t, ...stepAttrs });
      if (!dA) dA = stepped[2]!;
      total = stepped[0]!;
      const dUt = stepped[1]!;
      g = dUt;
      copyRowsInto(host, dUt, dU, t * B * H3, 1, B * H3, B * H3);
      // g: the gradient of stage i's output, on data this loop owns (dUt's, then each product's).
      const first = viewOn(backendName, backend, dUt, outBack, name);
      if (first.owned) host.free(dUt);
      g = first.out;
      for (let i = k - 1; i >= 0; i--) {
        if (weightGradients) {
          const x = laidOf(i, t);
          if (x.shape.length !== 2 || x.shape[0] !== g.shape[0])
            throw new RangeError(
              `${name}: input 'laid${i}_${t}' [${x.shape.join(', ')}] does not fit the gradient of stage ${i}'s output [${g.shape.join(', ')}]`,
            );
          partials[i]!.push(host.matMul(x, g, true));
        }
        const y = host.matMul(g, matsT[i]!);
        host.free(g);
        g = y;
        const v = viewOn(backendName, backend, y, backViews[i]!, name);
        if (v.owned) host.free(y);
        g = v.out;
      }
      checkShape(name, 'the gradient through U h (the first stage through its backView)', g, [B, H]);
      if (carry) host.free(carry);
      if (gi) host.free(gi);
      [carry, gi, total, g] = [total, g, undefined, undefined];
    }
  } catch (e) {
    const owned = [...matsT, dU, ...partials.flat(), ...(dA ? [dA] : []), ...(carry ? [carry, gi!] : [])];
    for (const x of [...owned, ...(total ? [total] : []), ...(g ? [g] : [])]) host.free(x);
    throw e;
  }
  for (const m of matsT) host.free(m);
  const sums = (weightGradients ? partials : []).map((list) => {
    if (list.length === 1) return list[0]!;
    const addN = tf.getKernel('AddN', backendName);
    if (!addN) throw new Error(`${name}: the ${backendName} backend has no AddN kernel`);
    const sum = addN.kernelFunc({ inputs: list as never, backend: backend as never, attrs: {} }) as tf.TensorInfo;
    for (const x of list) host.free(x);
    return sum;
  });
  return [dA!, dU, carry!, gi!, ...(weightGradients ? sums : [])];
}

/** Registers TensorizedGruSequence(Grad) and TensorizedGruStagedSequence(Grad) for cpu and wasm (importing @tensorized/backends does it). Idempotent. */
export function installGruSequence(): void {
  const kernels: Array<[string, (host: Host, inputs: tf.NamedTensorInfoMap, attrs: never) => tf.TensorInfo[]]> = [
    [FUSED_KERNELS.gruSequence, gruSequence as never],
    [FUSED_KERNELS.gruSequenceGrad, gruSequenceGrad as never],
    [FUSED_KERNELS.gruStagedSequence, gruStagedSequence as never],
    [FUSED_KERNELS.gruStagedSequenceGrad, gruStagedSequenceGrad as never],
  ];
  for (const [kernelName, kernel] of kernels)
    for (const backendName of ['cpu', 'wasm']) {
      if (tf.getKernel(kernelName, backendName)) continue;
      const host = HOSTS[backendName]!;
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: ({ inputs, backend, attrs }) => kernel(host(backend as never), inputs, attrs as never),
      });
    }
}

installGruSequence();
