import * as tf from '@tensorflow/tfjs-core';
import { gruGates } from './gru_gates.js';
import { unstackLeading } from './unstack.js';

/**
 * Names of the fused GRU kernels that @tensorized/backends registers (for cpu); the same
 * strings as its FUSED_KERNELS (a test checks). Where the active backend has them, a GRU step is one
 * kernel forward and one backward besides its matMuls; elsewhere the same arithmetic runs op by op.
 */
export const GRU_KERNELS = {
  step: 'TensorizedGruStep',
  stepGrad: 'TensorizedGruStepGrad',
  /** A whole flipped recurrence through one or two plain stages, forward and backward, one launch each. */
  sequence: 'TensorizedGruSequence',
  sequenceGrad: 'TensorizedGruSequenceGrad',
  /** A whole recurrence through stages with layout views (a TT-matrix's), forward and backward, one launch each. */
  stagedSequence: 'TensorizedGruStagedSequence',
  stagedSequenceGrad: 'TensorizedGruStagedSequenceGrad',
} as const;

/** The gates' activation: the logistic sigmoid, or TF.js's hardSigmoid max(0, min(1, 0.2 x + 0.5)). */
export type GateActivation = 'sigmoid' | 'hardSigmoid';

/** Whether the active backend has the fused kernel `name`. */
export function hasFusedKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

export function gateOf(x: tf.Tensor, gate: GateActivation): tf.Tensor {
  return gate === 'hardSigmoid' ? tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1) : tf.sigmoid(x);
}

/** gate'(x) as a function of s = gate(x): s (1 - s), or 0.2 where hardSigmoid is not clipped. */
export function slopeOf(s: tf.Tensor, gate: GateActivation): tf.Tensor {
  if (gate === 'sigmoid') return tf.mul(s, tf.sub(1, s));
  return tf.mul(tf.cast(tf.logicalAnd(tf.greater(s, 0), tf.less(s, 1)), 'float32'), 0.2);
}

/** What a forward step returns; r, z, n, un only when recorded for a backward pass (and not into stacks). */
export interface GruStepOut {
  next: tf.Tensor2D;
  kept?: [r: tf.Tensor2D, z: tf.Tensor2D, n: tf.Tensor2D, un: tf.Tensor2D];
  /** next^T (H, B), from a flipped stepper. */
  nextT?: tf.Tensor2D;
}

/**
 * A recorded forward pass's values over all steps, as the step kernels write them (their
 * attribute `stacks`): hs (T, B, H), the state each step started from; kept (4, T, B, H): r, z, n,
 * un; out: the states h_1..h_T, (T, B, H) or (B, T, H) batch-major. Filled in by the first step.
 */
export interface GruStacks {
  hs?: tf.Tensor3D;
  kept?: tf.Tensor4D;
  out?: tf.Tensor3D;
}

/**
 * The gate arithmetic of a GRU's steps (reset gate after U) over time-major inputs a (T, B, 3H) =
 * x W + b_W, b_U (3H) and an optional mask (T, B, 1): step(t, uh, h) with uh = U h (no bias) gives
 * h_{t+1}. One TensorizedGruStep kernel where the backend has it (and `kernels` is not false); else
 * gruGates op by op, with the r and z inputs of all steps (a + b_U) formed once. `flipped`: uh comes
 * as (U h)^T (3H, B), and the step also returns next^T (the layouts of flipsStepProduct).
 * `batchMajor`: a is (B, T, 3H) (the mask stays (T, B, 1)). `stacks`, with the fused kernel: the
 * recorded steps, taken in order from 0, write what they keep into stacks over all steps (filled
 * into that object by step 0) instead of returning it.
 */
export function gruStepper(
  a: tf.Tensor3D,
  bU: tf.Tensor1D,
  mask: tf.Tensor3D | undefined,
  gate: GateActivation,
  kernels = true,
  flipped = false,
  batchMajor = false,
  stacks?: GruStacks,
): (t: number, uh: tf.Tensor2D, h: tf.Tensor2D, record: boolean) => GruStepOut {
  const fused = kernels && hasFusedKernel(GRU_KERNELS.step);
  // Op by op, time-major.
  if (batchMajor && !fused) return gruStepper(tf.transpose(a, [1, 0, 2]), bU, mask, gate, false, flipped);
  if (fused) {
    const inputs: tf.NamedTensorMap = mask ? { a, bU, mask } : { a, bU };
    const layout = { ...(flipped ? { flipped } : {}), ...(batchMajor ? { batchMajor } : {}) };
    return (t, uh, h, record) => {
      if (stacks && record) {
        const given: tf.NamedTensorMap = t > 0 ? { hs: stacks.hs!, kept: stacks.kept!, out: stacks.out! } : {};
        const list = tf.engine().runKernel(GRU_KERNELS.step, { ...inputs, uh, h, ...given }, {
          t,
          gate,
          record,
          stacks: true,
          ...layout,
        } as never) as tf.Tensor[];
        if (t === 0) [stacks.hs, stacks.kept, stacks.out] = list.slice(1, 4) as [tf.Tensor3D, tf.Tensor4D, tf.Tensor3D];
        return { next: list[0] as tf.Tensor2D, nextT: flipped ? (list[list.length - 1] as tf.Tensor2D) : undefined };
      }
      const attrs = { t, gate, record, ...layout };
      const out = tf.engine().runKernel(GRU_KERNELS.step, { ...inputs, uh, h }, attrs as never) as
        | tf.Tensor2D[]
        | tf.Tensor2D;
      const list = Array.isArray(out) ? out : [out];
      return {
        next: list[0]!,
        kept: record ? (list.slice(1, 5) as GruStepOut['kept']) : undefined,
        nextT: flipped ? list[list.length - 1] : undefined,
      };
    };
  }
  const [T, B, H3] = a.shape;
  const H = H3 / 3;
  if (flipped) {
    const step = gruStepper(a, bU, mask, gate, false);
    return (t, uhT, h, record) => {
      const uh = tf.transpose(uhT);
      const out = step(t, uh, h, record);
      uh.dispose();
      return { ...out, nextT: tf.transpose(out.next) };
    };
  }
  const m = mask ? (unstackLeading(mask) as tf.Tensor2D[]) : undefined;
  // Steps at which no sequence is padded need no masking (with length-bucketed batches, most).
  const mValues = mask?.dataSync();
  const padded = (t: number): boolean => mValues?.subarray(t * B, (t + 1) * B).some((x) => x !== 1) ?? false;
  // b_U of the r and z gates joins the input projections once for all steps.
  const aRZ = unstackLeading(
    tf.add(tf.slice(a, [0, 0, 0], [-1, -1, 2 * H]), tf.slice(bU, [0], [2 * H])),
    T,
  ) as tf.Tensor2D[];
  const aN = unstackLeading(tf.slice(a, [0, 0, 2 * H], [-1, -1, H]), T) as tf.Tensor2D[];
  const bN = tf.slice(bU, [2 * H], [H]);
  return (t, uh, h, record) => {
    const preRZ = tf.add(aRZ[t]!, tf.slice(uh, [0, 0], [-1, 2 * H])) as tf.Tensor2D;
    const un = tf.add(tf.slice(uh, [0, 2 * H], [-1, H]), bN) as tf.Tensor2D;
    const { r, z, n, next: stepped } = gruGates(preRZ, aN[t]!, h, un, (x) => gateOf(x, gate));
    const next = m && padded(t) ? (tf.add(h, tf.mul(m[t]!, tf.sub(stepped, h))) as tf.Tensor2D) : stepped;
    return { next, kept: record ? [r, z, n, un] : undefined };
  };
}

/**
 * What a backward step returns: the step's total gradient of h_{t+1}, d(U h + b_U) = [dPreR, dPreZ,
 * dPreN r] and d(x W + b_W) = [dPreR, dPreZ, dPreN].
 */
export interface GruBackStep {
  total: tf.Tensor2D;
  /** Absent where the steps write it into a stack (`into.dUStack`). */
  dU?: tf.Tensor2D;
  /** Absent where the steps write it into a stack (gruBackStepper's `into`). */
  dA?: tf.Tensor2D;
  /** dU^T (3H, B), from a flipped stepper. */
  dUT?: tf.Tensor2D;
}

/**
 * The chain rule of the steps backwards, given the forward pass's values stacked over all steps (h:
 * the states h_0..h_{T-1} the steps started from; r, z, n, un) and dy (T, B, H), the gradient of the
 * outputs: step(t, carry, gi), carry and gi being what step t + 1 returned as `total` and the
 * gradient through its U h (none at t = T - 1), gives step t's GruBackStep; last(total, gi) the
 * gradient of h_0. One TensorizedGruStepGrad kernel per step where the backend has it (and `kernels`
 * is not false); else op by op, with the chain rule's coefficients formed once for all steps:
 *   dPreN = total (1 - z)(1 - n^2) m, dPreZ = total (h - n) gate'(z) m, dPreR = dPreN un gate'(r),
 *   the state's own share total (z m + 1 - m).
 * `flipped`: gi comes as (H, B), last's too, and each step also returns dU^T (see gruStepper).
 * `batchMajor`: dy is (B, T, H) (the stacks stay time-major). The forward pass's values may come as
 * the step kernels' stacks `{ hs, kept }` (GruStacks; the fused kernel only): then the steps, taken
 * from T - 1 down, write d(x W + b_W) into a stack over all steps, (T, B, 3H) or (B, T, 3H)
 * batch-major, which the first one puts into `into.dA`; with `into.dUStack` also d(U h + b_U), into
 * a stack (T, B, 3H) put into `into.dU`, and the steps return no dU of their own.
 */
export function gruBackStepper(
  dy: tf.Tensor3D,
  stacks:
    | { h: tf.Tensor3D; r: tf.Tensor3D; z: tf.Tensor3D; n: tf.Tensor3D; un: tf.Tensor3D }
    | { hs: tf.Tensor3D; kept: tf.Tensor4D },
  mask: tf.Tensor | undefined,
  gate: GateActivation,
  kernels = true,
  flipped = false,
  batchMajor = false,
  into?: { dA?: tf.Tensor3D; dU?: tf.Tensor3D; dUStack?: boolean },
): {
  step: (t: number, carry: tf.Tensor2D | undefined, gi: tf.Tensor2D | undefined) => GruBackStep;
  last: (total: tf.Tensor2D, gi: tf.Tensor2D) => tf.Tensor2D;
} {
  const fused = kernels && hasFusedKernel(GRU_KERNELS.stepGrad);
  const stacked = 'kept' in stacks;
  if (stacked && !(fused && into))
    throw new Error('gruBackStepper: the stacks { hs, kept } need the fused kernel and an `into` for dA');
  // Op by op, time-major.
  if (batchMajor && !fused) return gruBackStepper(tf.transpose(dy, [1, 0, 2]), stacks, mask, gate, false, flipped);
  const T = (stacked ? stacks.hs : stacks.h).shape[0];
  // The state's own share of the gradient, z m + 1 - m (z where nothing is masked).
  const share = (x: tf.Tensor, m: tf.Tensor | undefined): tf.Tensor => (m ? tf.add(tf.mul(x, m), tf.sub(1, m)) : x);
  const first = (x: tf.Tensor): tf.Tensor => tf.reshape(tf.slice(x, [0, 0, 0], [1, -1, -1]), x.shape.slice(1));
  // z at the first step: kept[1][0] of the stacks (r, z, n, un), one contiguous run of B H values
  // (a slice of the flat stack: 0.13 -> 0.055 ms on wasm for 16 x 512 values of a 60-step batch).
  const firstZ = (): tf.Tensor => {
    if (!stacked) return first(stacks.z);
    const [, steps, batch, hidden] = stacks.kept.shape;
    const run = batch * hidden;
    return tf.reshape(tf.slice(tf.reshape(stacks.kept, [-1]), [steps * run], [run]), [batch, hidden]);
  };
  const last = (total: tf.Tensor2D, gi: tf.Tensor2D): tf.Tensor2D =>
    tf.add(tf.mul(total, share(firstZ(), mask && first(mask))), flipped ? tf.transpose(gi) : gi) as tf.Tensor2D;
  if (stacked) {
    const inputs: tf.NamedTensorMap = { dy, hs: stacks.hs, kept: stacks.kept, ...(mask ? { mask } : {}) };
    const layout = { ...(flipped ? { flipped } : {}), ...(batchMajor ? { batchMajor } : {}) };
    return {
      step: (t, carry, gi) => {
        const dUStack = into!.dUStack ?? false;
        const given: tf.NamedTensorMap =
          t === T - 1
            ? {}
            : dUStack
              ? { carry: carry!, gi: gi!, dA: into!.dA!, dU: into!.dU! }
              : { carry: carry!, gi: gi!, dA: into!.dA! };
        const outs = tf.engine().runKernel(GRU_KERNELS.stepGrad, { ...inputs, ...given }, {
          t,
          gate,
          stacks: true,
          ...(dUStack ? { dUStack } : {}),
          ...layout,
        } as never) as tf.Tensor2D[];
        // [total, dU, (first: dA), (flipped: dU^T)]; with the dU stack [total, (first: dA, dU), (dU^T)].
        if (t === T - 1 && dUStack) [into!.dA, into!.dU] = outs.slice(1, 3) as unknown as tf.Tensor3D[];
        else if (t === T - 1) into!.dA = outs[2] as unknown as tf.Tensor3D;
        const dUT = flipped ? outs[outs.length - 1] : undefined;
        return dUStack ? { total: outs[0]!, dUT } : { total: outs[0]!, dU: outs[1]!, dUT };
      },
      last,
    };
  }
  const { h, r, z, n, un } = stacks;
  if (fused) {
    const inputs: tf.NamedTensorMap = { dy, h, r, z, n, un, ...(mask ? { mask } : {}) };
    const layout = { ...(flipped ? { flipped } : {}), ...(batchMajor ? { batchMajor } : {}) };
    return {
      step: (t, carry, gi) => {
        const [total, dU, dA, dUT] = tf
          .engine()
          .runKernel(GRU_KERNELS.stepGrad, carry ? { ...inputs, carry, gi: gi! } : inputs, {
            t,
            gate,
            ...layout,
          } as never) as tf.Tensor2D[];
        return { total: total!, dU: dU!, dA: dA!, dUT };
      },
      last,
    };
  }
  if (flipped) {
    const back = gruBackStepper(dy, stacks, mask, gate, false);
    return {
      step: (t, carry, giT) => {
        const gi = giT && tf.transpose(giT);
        const s = back.step(t, carry, gi);
        gi?.dispose();
        return { ...s, dUT: tf.transpose(s.dU!) as tf.Tensor2D };
      },
      last,
    };
  }
  const oneMinusZ = tf.sub(1, z);
  let cN = tf.mul(oneMinusZ, tf.sub(1, tf.square(n)));
  let cZ = tf.mul(tf.sub(h, n), slopeOf(z, gate));
  const cR = tf.mul(un, slopeOf(r, gate));
  if (mask) {
    cN = tf.mul(cN, mask);
    cZ = tf.mul(cZ, mask);
  }
  const [cNs, cZs, cRs, cHs, rs, dOut] = [cN, cZ, cR, share(z, mask), r, dy].map(
    (c) => unstackLeading(c, T) as tf.Tensor2D[],
  ) as [tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[], tf.Tensor2D[]];
  return {
    step: (t, carry, gi) => {
      const total = carry ? (tf.add(tf.add(tf.mul(carry, cHs[t + 1]!), gi!), dOut[t]!) as tf.Tensor2D) : dOut[t]!;
      const dn = tf.mul(total, cNs[t]!);
      const [dr, dz] = [tf.mul(dn, cRs[t]!), tf.mul(total, cZs[t]!)];
      // d(U h + b_U) = [dPreR, dPreZ, dPreN r], d(x W + b_W) = [dPreR, dPreZ, dPreN]
      const dU = tf.concat([dr, dz, tf.mul(dn, rs[t]!)], 1) as tf.Tensor2D;
      const dA = tf.concat([dr, dz, dn], 1) as tf.Tensor2D;
      return { total, dU, dA };
    },
    last,
  };
}
