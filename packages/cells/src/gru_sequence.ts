import * as tf from '@tensorflow/tfjs-core';
import { MATMUL_PAIR_KERNEL } from '@tensorized/decomp';
import {
  applyStages,
  applyView,
  columnSums,
  foldedTranspose,
  hasDenseGradient,
  inverseView,
  planWeightGradient,
  type StagedMatmul,
  stageGradientsFromDense,
  stageShapes,
  tfOps,
  unapplyView,
  type ViewOp,
  viewThenMatMul,
  type WeightGradientRoute,
} from '@tensorized/decomp/stages';
import { check } from './errors.js';
import { gruGates } from './gru_gates.js';
import {
  GRU_KERNELS,
  type GateActivation,
  gateOf,
  type GruStacks,
  gruBackStepper,
  gruStepper,
  hasFusedKernel,
  slopeOf,
} from './gru_step.js';
import { unstackLeading } from './unstack.js';
import { recordingGradients } from './weight.js';

/** The kernel @tensorized/backends registers for a layout change in one launch (its FUSED_KERNELS.view; a test checks). */
export const VIEW_KERNEL = 'TensorizedView';

/**
 * applyView where nothing is recorded (the fused recurrence's own passes): a view of a transpose
 * and more steps as one TensorizedView launch where the backend has it (a TT-GRU's views between
 * its cores are reshape, transpose, reshape at every step); else step by step.
 */
function laidOut(x: tf.Tensor, view: readonly ViewOp[]): tf.Tensor {
  if (view.length > 1 && view.some((op) => 'transpose' in op) && hasFusedKernel(VIEW_KERNEL))
    return tf.engine().runKernel(VIEW_KERNEL, { x }, { view } as never) as tf.Tensor;
  return applyView(tfOps, x, view);
}

/**
 * [P X, Q (P X)] for matrices P, X, Q in one TensorizedMatMulPair launch (secondLeft, keep): the
 * two left products of a flipped step through two plain stages, and the middle the backward pass
 * keeps. Outside a tape only.
 */
function leftChain(p: tf.Tensor, x: tf.Tensor, q: tf.Tensor): [tf.Tensor2D, tf.Tensor2D] {
  return tf.engine().runKernel(MATMUL_PAIR_KERNEL, { first: p, x, second: q }, {
    outShape: [q.shape[0]!, x.shape[1]!],
    secondLeft: true,
    keep: true,
  } as never) as unknown as [tf.Tensor2D, tf.Tensor2D];
}

/** unapplyView as laidOut: the inverse view, in one launch where it can be. */
function unlaidOut(g: tf.Tensor, view: readonly ViewOp[], inputShape: readonly number[]): tf.Tensor {
  return view.some((op) => 'transpose' in op)
    ? laidOut(g, inverseView(view, inputShape))
    : unapplyView(tfOps, g, view, inputShape);
}

/** A staged product that applies itself (PreparedMatmul, the cells' AppliedWeight). */
interface Applier {
  apply(x: tf.Tensor2D): tf.Tensor2D;
}

/**
 * Whether the per-step product h M (h: B x K, M: K x N fixed over the steps) runs faster as
 * (M^T h^T)^T on the active backend. On wasm, XNNPACK packs the right-hand side of a product and
 * streams the packed copy once per block of a few rows of the left: at B = 16 a 512 x 1536 U (3 MB)
 * is read from memory four times per step. The other way round the small h^T is packed (it stays in
 * the first-level cache) and U^T is read once. `node apps/bench/scripts/flipped-product.mjs` measures
 * (M^T h^T)^T with both transposes against h M: about 0.8x from B = 8 up for M of 256 x 768 values or
 * more (512 x 1536, 1024 x 3072 and 512 x 512 alike), 1.1x to 5x below B = 8 or for 128 x 384.
 */
export function flipsStepProduct(B: number, K: number, N: number): boolean {
  return flipsStepChain(B, [[K, N]]);
}

/**
 * flipsStepProduct for a chain of per-step products h M_1 M_2 .. M_k (plain matrices, no layout
 * between them: CP's and Tucker's two bottleneck factors), run flipped as M_k^T .. M_1^T h^T: the
 * same rule, with the matrices' values counted together. Flipped, no transpose is left between the
 * products, and each one packs only the small right-hand side: for CP's 512 x 80 and 80 x 1536 at
 * B = 16, forward and backward 0.84x the time, Tucker's 512 x 64 and 64 x 1536 0.86x; at rank 20
 * (41 Ki values) 0.93x to 0.95x, below B = 8 1.1x to 3.8x (`node apps/bench/scripts/flipped-chain.mjs`,
 * recorded 2026-12-06T0119).
 */
export function flipsStepChain(B: number, shapes: ReadonlyArray<readonly [number, number]>): boolean {
  const values = shapes.reduce((sum, [K, N]) => sum + K * N, 0);
  return tf.getBackend() === 'wasm' && B >= 8 && values >= 2 ** 17;
}

/** h M computed as (M^T h^T)^T, given mT = M^T (see flipsStepProduct). */
function flippedProduct(h: tf.Tensor2D, mT: tf.Tensor2D): tf.Tensor2D {
  const hT = tf.transpose(h);
  const out = tf.matMul(mT, hT) as tf.Tensor2D;
  const result = tf.transpose(out);
  tf.dispose([hT, out]);
  return result;
}

/**
 * The GRU recurrence over a whole sequence as one differentiable op with its backward pass written
 * out (backpropagation through time), for U given as matMul stages with layout views
 * (PreparedMatmul.stages): U h = outView(view_k(... view_1(view_0(h) M_1) ...) M_k). Dense U and a
 * rebuilt U are one stage; CP and Tucker are their two bottleneck factors; a contracted TT-matrix
 * is one stage per (merged) core, its views reshapes and transposes.
 *
 * Why: left to autodiff, every step adds a gradient of every matrix and a matMul to make it; here
 * the weight gradients are one matMul per M_i over all steps at once,
 * dM_i = [c^i_1 .. c^i_T]^T [g^i_1 .. g^i_T] (c^i: the laid-out input of M_i, g^i: the gradient of
 * its output; for stages with many rows per step, a TT-matrix's, the same sum formed step by step
 * in the backward loop: Layout.perStep), and a view's gradient is its inverse layout. Where the
 * stages allow it (TT stages, plain factors), the weight gradients can instead come from the whole
 * U's gradient dU = [h_0 .. h_{T-1}]^T [d(Uh)_1 .. d(Uh)_T] (one product, as for a dense U) by
 * stageGradientsFromDense; nothing per stage is kept then. The
 * planner's cost model picks the route (planWeightGradient) unless `weightGradient` forces one.
 *
 * a: (T, B, 3H) time-major input projections x_t W + b_W; h0: (B, H); bU: (3H); mask: (T, B, 1) or
 * none. Returns the states h_1..h_T, (T, B, H); a masked step keeps the previous state. With
 * `batchMajor`, a is (B, T, 3H) and the states come as (B, T, H) (the mask stays time-major): the
 * layouts of x W and of the layers after the recurrence, which then need no transposes.
 */
export function gruSequence(
  a: tf.Tensor3D,
  h0: tf.Tensor2D,
  bU: tf.Tensor1D,
  staged: StagedMatmul<tf.Tensor2D>,
  mask?: tf.Tensor3D,
  options: {
    weightGradient?: 'auto' | WeightGradientRoute;
    /** The gates' activation (default sigmoid). */
    gate?: GateActivation;
    /** Use the backend's fused step kernels where it has them (default true; false: op by op). */
    fusedKernels?: boolean;
    /**
     * The reset gate after U (default, the paper's GRU) or, with false, before it: n = tanh(a_n +
     * ((r h) U + b_U)_n), a second product of U per step (TF.js, Keras 1). That form runs op by op
     * (the fused step kernels compute the first).
     */
    resetAfter?: boolean;
    /** a as (B, T, 3H) and the states returned as (B, T, H) (default false: time-major). */
    batchMajor?: boolean;
    /**
     * Run the recurrence as one kernel launch forward and one backward where the backend has the
     * sequence kernels (default true): TensorizedGruSequence(Grad) for a flipped U through one or two
     * plain stages, TensorizedGruStagedSequence(Grad) for stages with views or a U not flipped (on
     * the weight-gradient routes they form; inference from batch 2 on). false: the steps launched
     * one by one, for comparison: the same values, bit for bit.
     */
    sequenceKernel?: boolean;
  } = {},
): tf.Tensor3D {
  const gate = options.gate ?? 'sigmoid';
  const resetBefore = options.resetAfter === false;
  const kernels = options.fusedKernels ?? true;
  const batchMajor = options.batchMajor ?? false;
  // Batch-major straight into the step kernels where they run (they read a and dy in either
  // layout); otherwise time-major, transposed around the op.
  const stepKernels =
    kernels &&
    !resetBefore &&
    hasFusedKernel(GRU_KERNELS.step) &&
    (!recordingGradients() || hasFusedKernel(GRU_KERNELS.stepGrad));
  if (batchMajor && !stepKernels) {
    return tf.tidy(() => {
      const timeMajor = tf.transpose(a, [1, 0, 2]) as tf.Tensor3D;
      const hs = gruSequence(timeMajor, h0, bU, staged, mask, { ...options, batchMajor: false });
      return tf.transpose(hs, [1, 0, 2]) as tf.Tensor3D;
    });
  }
  const { stages, outView } = staged;
  const applier =
    typeof (staged as { apply?: unknown }).apply === 'function' ? (staged as unknown as Applier) : undefined;
  const k = stages.length;
  const T = batchMajor ? a.shape[1] : a.shape[0];
  const views = stages.map((s) => s.view);
  // The first stage's laid-out input is h itself when it has no view (dense, CP, Tucker).
  const keepsFirst = views[0]!.length > 0;
  // A plain U (stages without views: dense, rebuilt, CP's and Tucker's factors) large enough: its
  // per-step products flipped (with the reset gate before U, one stage only).
  const plain = views.every((v) => v.length === 0) && outView.length === 0;
  const flips =
    plain &&
    (k === 1 || !resetBefore) &&
    flipsStepChain(
      h0.shape[0],
      stages.map((st) => st.matrix.shape),
    );
  // Flipped through one or two stages with the step kernels: the whole recurrence, forward and
  // backward, one TensorizedGruSequence(Grad) launch each where the backend has them (the same
  // values as the launches step by step, without their cost in the engine: about 10 us each).
  const sequence =
    (options.sequenceKernel ?? true) &&
    flips &&
    k <= 2 &&
    stepKernels &&
    hasFusedKernel(GRU_KERNELS.sequence) &&
    (!recordingGradients() || hasFusedKernel(GRU_KERNELS.sequenceGrad));
  const forced = options.weightGradient ?? 'auto';
  check(
    forced !== 'dense' || hasDenseGradient(staged),
    'INVALID_CONFIG',
    () => "gruSequence: weightGradient 'dense' needs TT stages (ttStages) or plain matrices without views",
  );
  // The route the weight's plan chose (WeightMatrix.plan), else the planner's for these stages.
  const planned = (staged as { plan?: { gradient?: WeightGradientRoute } }).plan?.gradient;
  const route: WeightGradientRoute =
    forced !== 'auto'
      ? forced
      : recordingGradients()
        ? (planned ?? planWeightGradient(staged, h0.shape[0], resetBefore ? 2 * T : T).route)
        : 'stages';
  // The laid-out stage inputs are kept only for the per-stage route.
  const keepsLaid = route === 'stages';
  // Shapes of each stage's input before its view, and of the last stage's output.
  const inShapes: number[][] = [];
  let lastShape: number[] = [];
  // Stages with views (or not flipped) and the step kernels: the whole recurrence, forward and
  // backward, one TensorizedGruStagedSequence(Grad) launch each where the backend has them (the same
  // launches inside the kernel, without the engine's cost per launch), for the weight-gradient
  // routes it forms: the dense one, or per stage step by step (Layout.perStep: every stage's input
  // laid out by a view, PER_STEP_MIN_ROWS rows or more). Without a tape, from batch 2 on (at batch 1
  // a prepared product has forms of its own).
  const B0 = h0.shape[0];
  const shapes = stageShapes(staged, B0);
  const stepwiseGradients = keepsFirst && shapes.every((st) => st.rows >= PER_STEP_MIN_ROWS);
  const stagedKernel =
    (options.sequenceKernel ?? true) &&
    !flips &&
    stepKernels &&
    hasFusedKernel(GRU_KERNELS.stagedSequence) &&
    (recordingGradients()
      ? hasFusedKernel(GRU_KERNELS.stagedSequenceGrad) && (route === 'dense' || stepwiseGradients)
      : B0 > 1);
  // Runs the recurrence; with `record`, keeps what the backward pass needs, per kind over all steps:
  // h_{t-1}, r, z, n, (U h + b_U)_n, and the laid-out inputs of the stages (from the first or second
  // on). customGrad copies what it saves: a few stacked tensors cost far less than T small ones.
  const forward = (
    aIn: tf.Tensor,
    hIn: tf.Tensor2D,
    bIn: tf.Tensor,
    mats: readonly tf.Tensor2D[],
    maskIn: tf.Tensor | undefined,
    record: boolean,
  ): ForwardRun => {
    const kinds: tf.Tensor[][] = record
      ? Array.from({ length: 5 + (keepsLaid ? (keepsFirst ? k : k - 1) * (resetBefore ? 2 : 1) : 0) }, () => [])
      : [];
    const outputs: tf.Tensor2D[] = [];
    // Recorded with the step kernels: h, r, z, n, un go into their stacks (kinds 0 to 4 stay empty).
    const stacks: GruStacks | undefined = record && stepKernels ? {} : undefined;
    // The stages' M_i^T for the flipped products (disposed when the recurrence is done).
    const matsT = flips ? mats.map((m) => tf.transpose(m)) : undefined;
    // Two flipped stages: both products per step in one TensorizedMatMulPair launch where the
    // backend has it.
    const pairs = hasFusedKernel(MATMUL_PAIR_KERNEL);
    // U c through the stages; the laid-out stage inputs the backward pass needs go to `laidInputs`.
    const applyU = (c: tf.Tensor, t: number, laidInputs: tf.Tensor[]): tf.Tensor2D => {
      // Nothing kept for a backward pass: the prepared product as it is, with its batch-1 form where
      // it has one (a two-core TT without the transpose between the products; see withBatchOne), by
      // its own apply where it is a PreparedMatmul (at batch 1 outside a tape, one kernel where the
      // backend has TensorizedMatMulPair).
      if (matsT) {
        const out = flippedProduct(c as tf.Tensor2D, matsT[0]!);
        if (t === 0) [inShapes[0], lastShape] = [[...c.shape], [...out.shape]];
        return out;
      }
      if (!record) return (applier ? applier.apply(c as tf.Tensor2D) : applyStages(tfOps, c, staged)) as tf.Tensor2D;
      for (let i = 0; i < k; i++) {
        if (t === 0) inShapes[i] = [...c.shape];
        if (record && keepsLaid && (i > 0 || keepsFirst)) {
          const laid = laidOut(c, views[i]!);
          laidInputs.push(laid);
          c = tf.matMul(laid as tf.Tensor2D, mats[i]!);
        } else {
          // Nothing kept: a view's transpose that is a matrix transpose goes into the matMul.
          c = viewThenMatMul(tfOps, c, views[i]!, mats[i]!);
        }
      }
      if (t === 0) lastShape = [...c.shape];
      return applyView(tfOps, c, outView) as tf.Tensor2D;
    };
    let h = hIn;
    if (resetBefore) {
      // Kept per step: h, r, z, n, r h, then the laid-out inputs of U h and of U (r h).
      const H = hIn.shape[1];
      const b = bIn as tf.Tensor1D;
      const aRZ = unstackLeading(tf.add(tf.slice(aIn, [0, 0, 0], [-1, -1, 2 * H]), tf.slice(b, [0], [2 * H])), T);
      const aN = unstackLeading(tf.slice(aIn, [0, 0, 2 * H], [-1, -1, H]), T) as tf.Tensor2D[];
      const bN = tf.slice(b, [2 * H], [H]);
      const m = maskIn ? (unstackLeading(maskIn, T) as tf.Tensor2D[]) : undefined;
      for (let t = 0; t < T; t++) {
        const laid1: tf.Tensor[] = [];
        const laid2: tf.Tensor[] = [];
        const preRZ = tf.add(aRZ[t]!, tf.slice(applyU(h, t, laid1), [0, 0], [-1, 2 * H])) as tf.Tensor2D;
        let rh: tf.Tensor2D | undefined;
        const g = gruGates(
          preRZ,
          aN[t]!,
          h,
          (r) => {
            rh = tf.mul(r, h) as tf.Tensor2D;
            return tf.add(tf.slice(applyU(rh, t, laid2), [0, 2 * H], [-1, H]), bN) as tf.Tensor2D;
          },
          (x) => gateOf(x, gate),
        );
        const next = m ? (tf.add(h, tf.mul(m[t]!, tf.sub(g.next, h))) as tf.Tensor2D) : g.next;
        if (record) for (const [j, x] of [h, g.r, g.z, g.n, rh!, ...laid1, ...laid2].entries()) kinds[j]!.push(x);
        outputs.push(next);
        h = next;
      }
      tf.dispose(matsT ?? []);
      return { outputs, kinds };
    }
    // Recording for a backward pass, the fused forward kernel only where its backward one is too (on
    // wasm there is the forward one alone, for inference).
    const fused = kernels && (!record || hasFusedKernel(GRU_KERNELS.stepGrad));
    const step = gruStepper(
      aIn as tf.Tensor3D,
      bIn as tf.Tensor1D,
      maskIn as tf.Tensor3D | undefined,
      gate,
      fused,
      Boolean(matsT),
      batchMajor,
      stacks,
    );
    // A sequence kernel's run: the states, then recorded its stacks hs and kept, and what it kept
    // of the stages' inputs.
    const whole = (outs: tf.Tensor[], recorded: boolean, laidStacked?: tf.Tensor[]): ForwardRun => {
      const value = outs[0] as tf.Tensor3D;
      const kept = recorded ? { hs: outs[1] as tf.Tensor3D, kept: outs[2] as tf.Tensor4D, out: value } : undefined;
      return { outputs, kinds, value, stacks: kept, laidStacked };
    };
    // What a recorded step keeps, from kind `at` on.
    const keep = (xs: tf.Tensor[], at: number): void => {
      for (const [j, x] of xs.entries()) kinds[at + j]!.push(x);
    };
    if (stagedKernel) {
      // Every step in one launch: the states, and recorded the stacks and, per stage and step, the
      // laid-out stage inputs (the per-stage route).
      inShapes.push([hIn.shape[0], hIn.shape[1]], ...shapes.slice(0, -1).map((st) => [st.rows, st.outer]));
      lastShape = [shapes.at(-1)!.rows, shapes.at(-1)!.outer];
      const keepLaid = record && keepsLaid;
      const outs = tf.engine().runKernel(
        GRU_KERNELS.stagedSequence,
        {
          a: aIn,
          bU: bIn,
          h0: hIn,
          ...Object.fromEntries(mats.map((m, i) => [`m${i}`, m])),
          ...(maskIn ? { mask: maskIn } : {}),
        },
        {
          gate,
          record,
          ...(batchMajor ? { batchMajor } : {}),
          views,
          outView,
          ...(keepLaid
            ? { keepLaidFrom: 0 }
            : { folded: views.map((v, i) => foldedTranspose(inShapes[i]!, v) ?? null) }),
        } as never,
      ) as tf.Tensor[];
      return whole(outs, record, keepLaid ? outs.slice(3) : undefined);
    }
    if (matsT && sequence) {
      // Every step in one launch: the states, and recorded the stacks and the middles (T, R, B).
      const keepMids = record && keepsLaid && k === 2;
      const outs = tf.engine().runKernel(
        GRU_KERNELS.sequence,
        {
          a: aIn,
          bU: bIn,
          h0: hIn,
          m1T: matsT[0]!,
          ...(k === 2 ? { m2T: matsT[1]! } : {}),
          ...(maskIn ? { mask: maskIn } : {}),
        },
        { gate, record, ...(batchMajor ? { batchMajor } : {}), ...(keepMids ? { keepMids } : {}) } as never,
      ) as tf.Tensor[];
      tf.dispose(matsT);
      return whole(outs, record, keepMids ? [outs[3]!] : undefined);
    }
    if (matsT) {
      // Flipped: (U h)^T = M_k^T .. M_1^T h^T, and the step hands back h^T for the next product. The
      // inputs of M_2 .. M_k are kept as they come, transposed (K_i, B), for the per-stage route.
      let hT = tf.transpose(hIn);
      for (let t = 0; t < T; t++) {
        const laidT: tf.Tensor[] = [];
        let cT = hT;
        if (k === 2 && pairs) {
          // M_2^T (M_1^T h^T) and its middle in one launch.
          const [mid, out] = leftChain(matsT[0]!, cT, matsT[1]!);
          if (record && keepsLaid) laidT.push(mid);
          else mid.dispose();
          cT = out;
        } else
          for (let i = 0; i < k; i++) {
            const out = tf.matMul(matsT[i]!, cT) as tf.Tensor2D;
            if (i > 0 && record && keepsLaid) laidT.push(cT);
            else if (i > 0) cT.dispose();
            cT = out;
          }
        const { next, kept, nextT } = step(t, cT, h, record);
        tf.dispose([cT, hT]);
        if (stacks) keep(laidT, 5);
        else if (record) keep([h, ...kept!, ...laidT], 0);
        outputs.push(next);
        h = next;
        hT = nextT!;
      }
      tf.dispose([hT, ...matsT]);
      return { outputs, kinds, stacks };
    }
    for (let t = 0; t < T; t++) {
      const laidInputs: tf.Tensor[] = [];
      const { next, kept } = step(t, applyU(h, t, laidInputs), h, record);
      if (stacks) keep(laidInputs, 5);
      else if (record) keep([h, ...kept!, ...laidInputs], 0);
      outputs.push(next);
      h = next;
    }
    return { outputs, kinds, stacks };
  };
  const matrices = stages.map((s) => s.matrix);
  // Without a gradient tape (inference), nothing is kept for a backward pass.
  if (!recordingGradients()) {
    return tf.tidy(() => {
      const run = forward(a, h0, bU, matrices, mask, false);
      return (run.value ?? tf.stack(run.outputs, batchMajor ? 1 : 0)) as tf.Tensor3D;
    });
  }
  const op = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [aIn, hIn, bIn, ...rest] = args.slice(0, -1) as tf.Tensor[];
    const mats = rest.slice(0, k) as tf.Tensor2D[];
    const { outputs, kinds, stacks, laidStacked } = forward(
      aIn!,
      hIn as tf.Tensor2D,
      bIn!,
      mats,
      mask ? rest[k] : undefined,
      true,
    );
    // The stage inputs of every step, when each has many rows (a TT-matrix's laid-out state, B n_k
    // rows or more): their weight gradients are then formed step by step in the backward pass (see
    // Layout.perStep), and the inputs are kept as they are, not stacked.
    const laid = kinds.slice(5);
    const perStep =
      (stagedKernel && keepsLaid) ||
      (!resetBefore &&
        !flips &&
        keepsFirst &&
        laid.length === k &&
        laid.every((list) => list.length === T && list[0]!.shape[0]! >= PER_STEP_MIN_ROWS));
    const laidKept = laidStacked ?? (perStep ? laid.flat() : laid.map((list) => tf.stack(list)));
    // With the step kernels' stacks: hs and kept, then the laid-out stage inputs; else h, r, z, n,
    // un and those, each stacked now.
    const stacked = stacks?.hs
      ? [stacks.hs, stacks.kept!, ...laidKept]
      : [...kinds.slice(0, 5).map((list) => tf.stack(list)), ...laidKept];
    save([...mats, ...(mask ? [rest[k]!] : []), ...stacked]);
    const value = (stacks?.out ?? tf.stack(outputs, batchMajor ? 1 : 0)) as tf.Tensor3D;
    // The states are in the stack now.
    if (stacks?.out) tf.dispose(outputs);
    return {
      value,
      gradFunc: (dy: tf.Tensor, kept: tf.Tensor[]) =>
        (resetBefore ? backwardResetBefore : backward)(dy as tf.Tensor3D, kept, {
          k,
          T,
          masked: Boolean(mask),
          keepsFirst,
          views,
          outView,
          inShapes,
          lastShape,
          route,
          staged,
          gate,
          kernels,
          flips,
          sequence: sequence ? 'flipped' : stagedKernel ? 'staged' : undefined,
          batchMajor,
          stacks: Boolean(stacks?.hs),
          perStep,
        }),
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return op(a, h0, bU, ...matrices, ...(mask ? [mask] : [])) as tf.Tensor3D;
}

/** What gruSequence's recurrence gives: the states per step or `value`, their stack; what a recorded one keeps. */
interface ForwardRun {
  outputs: tf.Tensor2D[];
  /** Per kind, what the steps kept (h, r, z, n, un or r h, then the laid-out stage inputs). */
  kinds: tf.Tensor[][];
  /** The step kernels' stacks (recorded). */
  stacks?: GruStacks;
  /** The states of all steps as one tensor (TensorizedGruSequence's). */
  value?: tf.Tensor3D;
  /**
   * The laid-out stage inputs as the sequence kernels kept them: TensorizedGruSequence's middles
   * stacked over the steps, or TensorizedGruStagedSequence's per stage and step (Layout.perStep).
   */
  laidStacked?: tf.Tensor[];
}

interface Layout {
  k: number;
  T: number;
  masked: boolean;
  keepsFirst: boolean;
  views: ReadonlyArray<readonly ViewOp[]>;
  outView: readonly ViewOp[];
  inShapes: readonly number[][];
  lastShape: readonly number[];
  route: WeightGradientRoute;
  staged: StagedMatmul<tf.Tensor2D>;
  gate: GateActivation;
  kernels: boolean;
  /** U's per-step products flipped (flipsStepChain): through plain stages M_1 .. M_k transposed. */
  flips: boolean;
  /**
   * The forward pass ran as one sequence kernel launch, and the backward pass is one too:
   * TensorizedGruSequence(Grad) for a flipped U ('flipped'), TensorizedGruStagedSequence(Grad) for
   * stages with views ('staged').
   */
  sequence?: 'flipped' | 'staged';
  /** a, dy and dA batch-major (only with the step kernels). */
  batchMajor: boolean;
  /** The forward pass kept the step kernels' stacks hs and kept (GruStacks), not h, r, z, n, un. */
  stacks?: boolean;
  /**
   * The weight gradients of the stages (route 'stages') formed step by step in the backward loop,
   * x_i(t)^T g_i(t) while g_i(t) is fresh in cache, and summed at the end, instead of one product
   * over all steps' stacked inputs: the stage inputs were kept per step (T tensors per stage, in
   * step order, after the stacks). For stages whose per-step inputs have PER_STEP_MIN_ROWS rows or
   * more (a TT-matrix's: each product then runs at the kernels' full rate, where the stacked product
   * over T times the rows reads its operands from memory) and every stage's input laid out by a view
   * (keepsFirst); plain and flipped products keep the stacked route.
   */
  perStep?: boolean;
}

/**
 * The fewest rows per step of every stage's input for Layout.perStep: a TT-GRU's stages at batch 16
 * have 256 and 512 (ad hoc, wasm, hot in cache: 256 x 32 ^T by 256 x 352 and 512 x 176 ^T by
 * 512 x 48 at 55.5 GFLOP/s, their stacks over 60 steps at 45.7).
 */
const PER_STEP_MIN_ROWS = 64;

/**
 * What the forward pass saved: the stage matrices, the mask, then the stacks over all steps (h, r,
 * z, n, and un or r h, or the step kernels' hs and kept; then the laid-out stage inputs, from
 * `laidAt` on); B and H from the h stack.
 */
function unpackKept(kept: tf.Tensor[], L: Layout) {
  const { k, masked } = L;
  const stacked = kept.slice(k + (masked ? 1 : 0));
  const hS = stacked[0] as tf.Tensor3D;
  return {
    mats: kept.slice(0, k) as tf.Tensor2D[],
    maskAll: masked ? kept[k]! : undefined,
    stacked,
    gates: stacked.slice(0, L.stacks ? 2 : 5) as tf.Tensor3D[],
    laidAt: L.stacks ? 2 : 5,
    B: hS.shape[1],
    H: hS.shape[2],
  };
}

function backward(dy: tf.Tensor3D, kept: tf.Tensor[], L: Layout): tf.Tensor[] {
  const { k, T, masked } = L;
  const { mats, maskAll, stacked, gates, laidAt, B, H } = unpackKept(kept, L);
  const [hS, rS, zS, nS, unS] = gates;
  // With the stacks, the steps write d(x W + b_W) into one; flipped (no per-step dU needed: the
  // products run on dU^T), d(U h + b_U) into another, which the weight gradients read as rows.
  const into: { dA?: tf.Tensor3D; dU?: tf.Tensor3D; dUStack?: boolean } | undefined = L.stacks
    ? { dUStack: L.flips }
    : undefined;
  const back = gruBackStepper(
    dy,
    L.stacks ? { hs: hS!, kept: gates[1] as unknown as tf.Tensor4D } : { h: hS!, r: rS!, z: zS!, n: nS!, un: unS! },
    maskAll,
    L.gate,
    L.kernels,
    L.flips,
    L.batchMajor,
    into,
  );
  const matsT = L.flips ? [] : mats.map((w) => tf.transpose(w));
  const dA: tf.Tensor2D[] = new Array(T);
  const dU: tf.Tensor2D[] = new Array(T);
  // g[i][t]: gradient with respect to the output of M_{i+1} at step t.
  const g: tf.Tensor2D[][] = Array.from({ length: k }, () => new Array<tf.Tensor2D>(T));
  const stageInputs = (i: number): tf.Tensor =>
    i === 0 && !L.keepsFirst ? stacked[0]! : stacked[laidAt + i - (L.keepsFirst ? 0 : 1)]!;
  // Per step (L.perStep): stage i's input at step t, and its weight gradient's share of every step.
  const stepInput = (i: number, t: number): tf.Tensor2D => stacked[laidAt + i * T + t] as tf.Tensor2D;
  const partials: tf.Tensor2D[][] = Array.from({ length: k }, () => []);
  // Two flipped stages: both products per step in one TensorizedMatMulPair launch where the backend has it.
  const pairs = L.flips && hasFusedKernel(MATMUL_PAIR_KERNEL);
  let carry: tf.Tensor2D | undefined;
  let gi: tf.Tensor2D | undefined;
  // The middles M_2 d(U h)^T of all steps (T, R, B), from TensorizedGruSequenceGrad.
  let gStacked: tf.Tensor3D | undefined;
  // The per-stage weight gradients summed over the steps, from TensorizedGruStagedSequenceGrad.
  let stagedSums: tf.Tensor2D[] | undefined;
  if (L.sequence === 'staged') {
    const outs = tf.engine().runKernel(
      GRU_KERNELS.stagedSequenceGrad,
      {
        dy,
        hs: hS!,
        kept: gates[1]!,
        ...Object.fromEntries(mats.map((m, i) => [`m${i}`, m])),
        ...(maskAll ? { mask: maskAll } : {}),
        ...(L.perStep
          ? Object.fromEntries(
              Array.from({ length: k * T }, (_, j) => [
                `laid${Math.floor(j / T)}_${j % T}`,
                stepInput(Math.floor(j / T), j % T),
              ]),
            )
          : {}),
      },
      {
        gate: L.gate,
        ...(L.batchMajor ? { batchMajor: true } : {}),
        backViews: L.views.map((v, i) => inverseView(v, L.inShapes[i]!)),
        outBack: inverseView(L.outView, L.lastShape),
        ...(L.perStep ? { weightGradients: true } : {}),
      } as never,
    ) as tf.Tensor[];
    [into!.dA, into!.dU] = outs as [tf.Tensor3D, tf.Tensor3D];
    [carry, gi] = outs.slice(2, 4) as [tf.Tensor2D, tf.Tensor2D];
    if (L.perStep) stagedSums = outs.slice(4) as tf.Tensor2D[];
  } else if (L.sequence === 'flipped') {
    const keepMids = L.route === 'stages' && k === 2;
    const outs = tf.engine().runKernel(
      GRU_KERNELS.sequenceGrad,
      {
        dy,
        hs: hS!,
        kept: gates[1]!,
        m1: mats[0]!,
        ...(k === 2 ? { m2: mats[1]! } : {}),
        ...(maskAll ? { mask: maskAll } : {}),
      },
      { gate: L.gate, ...(L.batchMajor ? { batchMajor: true } : {}), ...(keepMids ? { keepMids } : {}) } as never,
    ) as tf.Tensor[];
    [into!.dA, into!.dU] = outs as [tf.Tensor3D, tf.Tensor3D];
    [carry, gi] = outs.slice(2, 4) as [tf.Tensor2D, tf.Tensor2D];
    gStacked = outs[4] as tf.Tensor3D | undefined;
  }
  for (let t = L.sequence ? -1 : T - 1; t >= 0; t--) {
    const s = back.step(t, carry, gi);
    if (s.dA) dA[t] = s.dA;
    if (s.dU) dU[t] = s.dU;
    carry = s.total;
    if (L.flips) {
      // Plain stages (no views): the gradient back through them flipped, M_1 .. M_k d(Uh)^T, gi^T
      // (H, B) at the end; the gradients of the outputs of M_1 .. M_{k-1} kept as they come,
      // transposed (N_i, B), for the per-stage route.
      // (The last stage's output gradients are d(U h) itself: dUAll below.)
      let gT = s.dUT!;
      if (k === 2 && pairs) {
        // M_1 (M_2 d(Uh)^T) and its middle in one launch.
        const [mid, out] = leftChain(mats[1]!, gT, mats[0]!);
        if (L.route === 'stages') g[0]![t] = mid;
        else mid.dispose();
        gT.dispose();
        gT = out;
      } else
        for (let i = k - 1; i >= 0; i--) {
          const out = tf.matMul(mats[i]!, gT) as tf.Tensor2D;
          if (i < k - 1 && L.route === 'stages') g[i]![t] = gT;
          else gT.dispose();
          gT = out;
        }
      gi?.dispose();
      gi = gT;
      continue;
    }
    let gs = unlaidOut(s.dU!, L.outView, L.lastShape) as tf.Tensor2D;
    for (let i = k - 1; i >= 0; i--) {
      if (L.perStep) partials[i]!.push(tf.matMul(stepInput(i, t), gs, true, false) as tf.Tensor2D);
      else if (L.route === 'stages') g[i]![t] = gs;
      gs = unlaidOut(tf.matMul(gs, matsT[i]!), L.views[i]!, L.inShapes[i]!) as tf.Tensor2D;
    }
    gi = gs;
  }
  const dh = back.last(carry!, gi!);
  // d(U h + b_U) of all steps as (T B, 3H) rows: the steps' stack, else their outputs concatenated.
  const dUAll = (into?.dU ? tf.reshape(into.dU, [T * B, 3 * H]) : tf.concat(dU, 0)) as tf.Tensor2D;
  const dMats =
    L.route === 'dense'
      ? // dU = [h_0 .. h_{T-1}]^T [d(Uh)_1 .. d(Uh)_T], then each stage's share.
        stageGradientsFromDense(
          tfOps,
          L.staged,
          tf.matMul(tf.reshape(hS!, [-1, H]) as tf.Tensor2D, dUAll, true, false),
          mats,
        )
      : L.perStep
        ? (stagedSums ?? partials.map((list) => (list.length === 1 ? list[0]! : (tf.addN(list) as tf.Tensor2D))))
        : mats.map((_, i) => {
            // Laid-out inputs of M_{i+1} at every step, stacked: h_{t-1} when the first stage has no
            // view; flipped, the inputs of M_2 .. are (T, K, B), turned into rows.
            const [K, N] = mats[i]!.shape;
            const kept = stageInputs(i);
            const rows = tf.reshape(L.flips && i > 0 ? tf.transpose(kept, [0, 2, 1]) : kept, [-1, K]);
            // The last stage's output gradients are d(U h) themselves where U has no output view
            // (flipped, U has none); flipped, the others came transposed (N, B).
            const gs =
              (L.flips && i === k - 1) || (!gStacked && g[i]!.every((x, t) => x === dU[t]))
                ? dUAll
                : gStacked
                  ? tf.reshape(tf.transpose(gStacked, [0, 2, 1]), [-1, N])
                  : i === k - 1 && !L.flips && L.outView.every((op) => 'reshape' in op)
                    ? // The last stage's output gradients are d(U h) reshaped (a TT-matrix's (B m_1.., m_d)).
                      tf.reshape(dUAll, [-1, N])
                    : L.flips
                      ? tf.reshape(tf.transpose(tf.stack(g[i]!), [0, 2, 1]), [-1, N])
                      : tf.concat(g[i]!, 0);
            return tf.matMul(rows as tf.Tensor2D, gs, true, false);
          });
  // d(x W + b_W) = [dPreR, dPreZ, dPreN], from the steps.
  const dAAll = into?.dA ?? (L.batchMajor ? tf.stack(dA, 1) : tf.reshape(tf.concat(dA, 0), [T, B, 3 * H]));
  // (A reduction over the leading axis is slow on wasm: see columnSums.)
  const dBias = columnSums(dUAll);
  return [dAAll, dh, dBias, ...dMats, ...(masked ? [tf.zerosLike(kept[k]!)] : [])];
}

/**
 * The backward pass with the reset gate before U: per step, the gradient of U (r h)'s n block goes
 * back through the stages first (it gives d(r h), hence dPreR), then that of U h's r and z blocks:
 *   dPreN = total (1 - z)(1 - n^2) m, dPreZ = total (h - n) gate'(z) m,
 *   d(r h) = [0, 0, dPreN] U^T, dPreR = d(r h) h gate'(r),
 *   dh_t = total (z m + 1 - m) + [dPreR, dPreZ, 0] U^T + d(r h) r,
 *   dU = sum_t h_t^T [dPreR, dPreZ, 0] + (r h)_t^T [0, 0, dPreN], d b_U = d(x W + b_W) = [dPreR, dPreZ, dPreN].
 */
function backwardResetBefore(dy: tf.Tensor3D, kept: tf.Tensor[], L: Layout): tf.Tensor[] {
  const { k, T, masked } = L;
  const { mats, maskAll, stacked, gates, B, H } = unpackKept(kept, L);
  const [hS, rS, zS, nS, rhS] = gates;
  const share = (x: tf.Tensor, m: tf.Tensor | undefined): tf.Tensor => (m ? tf.add(tf.mul(x, m), tf.sub(1, m)) : x);
  let cN = tf.mul(tf.sub(1, zS!), tf.sub(1, tf.square(nS!)));
  let cZ = tf.mul(tf.sub(hS!, nS!), slopeOf(zS!, L.gate));
  if (maskAll) {
    cN = tf.mul(cN, maskAll);
    cZ = tf.mul(cZ, maskAll);
  }
  const cRh = tf.mul(hS!, slopeOf(rS!, L.gate));
  const [cNs, cZs, cRhs, cHs, rs, dOut] = [cN, cZ, cRh, share(zS!, maskAll), rS!, dy].map(
    (c) => unstackLeading(c, T) as tf.Tensor2D[],
  ) as [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[]];
  const matsT = L.flips ? [] : mats.map((w) => tf.transpose(w));
  // g[app][i][t]: gradient with respect to the output of M_{i+1} in product `app` (0: U h, 1: U (r h)).
  const g = [0, 1].map(() => Array.from({ length: k }, () => new Array<tf.Tensor2D>(T)));
  const back = (grad: tf.Tensor2D, app: number, t: number): tf.Tensor2D => {
    let gs = unlaidOut(grad, L.outView, L.lastShape) as tf.Tensor2D;
    for (let i = k - 1; i >= 0; i--) {
      if (L.route === 'stages') g[app]![i]![t] = gs;
      const product = L.flips ? flippedProduct(gs, mats[i]!) : tf.matMul(gs, matsT[i]!);
      gs = unlaidOut(product, L.views[i]!, L.inShapes[i]!) as tf.Tensor2D;
    }
    return gs;
  };
  const zerosH = tf.zeros([B, H]);
  const zeros2H = tf.zeros([B, 2 * H]);
  const dRZ: tf.Tensor2D[] = new Array(T);
  const dN: tf.Tensor2D[] = new Array(T);
  const dA: tf.Tensor2D[] = new Array(T);
  let carry: tf.Tensor2D | undefined;
  let gi: tf.Tensor2D | undefined;
  for (let t = T - 1; t >= 0; t--) {
    const total = carry ? (tf.add(tf.add(tf.mul(carry, cHs[t + 1]!), gi!), dOut[t]!) as tf.Tensor2D) : dOut[t]!;
    const dPreN = tf.mul(total, cNs[t]!) as tf.Tensor2D;
    const dPreZ = tf.mul(total, cZs[t]!) as tf.Tensor2D;
    dN[t] = tf.concat([zeros2H, dPreN], 1) as tf.Tensor2D;
    const dRh = back(dN[t]!, 1, t);
    const dPreR = tf.mul(dRh, cRhs[t]!) as tf.Tensor2D;
    dRZ[t] = tf.concat([dPreR, dPreZ, zerosH], 1) as tf.Tensor2D;
    gi = tf.add(back(dRZ[t]!, 0, t), tf.mul(dRh, rs[t]!)) as tf.Tensor2D;
    dA[t] = tf.concat([dPreR, dPreZ, dPreN], 1) as tf.Tensor2D;
    carry = total;
  }
  const first = (x: tf.Tensor): tf.Tensor => tf.reshape(tf.slice(x, [0, 0, 0], [1, -1, -1]), x.shape.slice(1));
  const dh = tf.add(tf.mul(carry!, share(first(zS!), maskAll && first(maskAll))), gi!);
  const nLaid = L.keepsFirst ? k : k - 1;
  // The laid-out inputs of M_{i+1} in product `app` at every step: h (or r h) when the first stage has no view.
  const stageInputs = (i: number, app: number): tf.Tensor =>
    i === 0 && !L.keepsFirst ? stacked[app === 0 ? 0 : 4]! : stacked[5 + app * nLaid + i - (L.keepsFirst ? 0 : 1)]!;
  const dMats =
    L.route === 'dense'
      ? stageGradientsFromDense(
          tfOps,
          L.staged,
          tf.matMul(
            tf.reshape(tf.concat([hS!, rhS!], 0), [-1, H]) as tf.Tensor2D,
            tf.concat([...dRZ, ...dN], 0) as tf.Tensor2D,
            true,
            false,
          ),
          mats,
        )
      : mats.map((_, i) => {
          const rows = tf.reshape(tf.concat([stageInputs(i, 0), stageInputs(i, 1)], 0), [-1, mats[i]!.shape[0]]);
          return tf.matMul(rows as tf.Tensor2D, tf.concat([...g[0]![i]!, ...g[1]![i]!], 0), true, false);
        });
  const dAAll = tf.concat(dA, 0) as tf.Tensor2D;
  return [
    tf.reshape(dAAll, [T, B, 3 * H]),
    dh,
    columnSums(dAAll),
    ...dMats,
    ...(masked ? [tf.zerosLike(kept[k]!)] : []),
  ];
}
