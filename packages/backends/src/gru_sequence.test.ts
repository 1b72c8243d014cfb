import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FUSED_KERNELS, setNativeWasmKernels, useBackend } from './index.js';
import { nativeKernels } from './wasm_native.js';

/** Deterministic values in about [-scale, scale] (a sum of uniforms), the same on every backend. */
function tensorOf(shape: number[], seed: number, scale = 1): tf.Tensor {
  let s = seed;
  const u = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const n = shape.reduce((p, q) => p * q, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => (u() + u() + u() - 1.5) * scale),
    shape,
    'float32',
  );
}

const run = (name: string, inputs: tf.NamedTensorMap, attrs: object): tf.Tensor[] => {
  const out = tf.engine().runKernel(name, inputs, attrs as never);
  return (Array.isArray(out) ? out : [out]) as tf.Tensor[];
};

/**
 * TensorizedGruSequence's work launched step by step, as @tensorized/cells runs a flipped recurrence
 * without it: per step the products (BatchMatMul, or both in one TensorizedMatMulPair) and
 * TensorizedGruStep with its stacks. Returns [states, hs, kept, middles] as the kernel's outputs.
 */
function forwardByStep(
  inputs: { a: tf.Tensor; bU: tf.Tensor; h0: tf.Tensor; m1T: tf.Tensor; m2T?: tf.Tensor; mask?: tf.Tensor },
  gate: string,
  batchMajor: boolean,
): tf.Tensor[] {
  const { a, bU, h0, m1T, m2T, mask } = inputs;
  let h = h0;
  let hT = tf.transpose(h0);
  let stacks: tf.Tensor[] = [];
  const mids: tf.Tensor[] = [];
  const T = a.shape[batchMajor ? 1 : 0]!;
  for (let t = 0; t < T; t++) {
    let uhT: tf.Tensor;
    if (m2T) {
      const [mid, out] = run(
        FUSED_KERNELS.matMulPair,
        { first: m1T, x: hT, second: m2T },
        {
          outShape: [m2T.shape[0], hT.shape[1]],
          secondLeft: true,
          keep: true,
        },
      );
      mids.push(mid!);
      uhT = out!;
    } else uhT = tf.matMul(m1T, hT);
    const given: tf.NamedTensorMap = t > 0 ? { hs: stacks[0]!, kept: stacks[1]!, out: stacks[2]! } : {};
    const o = run(
      FUSED_KERNELS.gruStep,
      { a, uh: uhT, bU, h, ...(mask ? { mask } : {}), ...given },
      {
        t,
        gate,
        record: true,
        flipped: true,
        batchMajor,
        stacks: true,
      },
    );
    if (t === 0) stacks = o.slice(1, 4);
    [h, hT] = [o[0]!, o[o.length - 1]!];
  }
  return [stacks[2]!, stacks[0]!, stacks[1]!, ...(m2T ? [tf.stack(mids)] : [])];
}

/** TensorizedGruSequenceGrad's work step by step: TensorizedGruStepGrad into its stacks, then the products back. */
function backwardByStep(
  inputs: { dy: tf.Tensor; hs: tf.Tensor; kept: tf.Tensor; m1: tf.Tensor; m2?: tf.Tensor; mask?: tf.Tensor },
  gate: string,
  batchMajor: boolean,
): tf.Tensor[] {
  const { dy, hs, kept, m1, m2, mask } = inputs;
  const T = hs.shape[0]!;
  let carry: tf.Tensor | undefined;
  let gi: tf.Tensor | undefined;
  let dA: tf.Tensor | undefined;
  let dU: tf.Tensor | undefined;
  const mids: tf.Tensor[] = [];
  for (let t = T - 1; t >= 0; t--) {
    const given: tf.NamedTensorMap = carry ? { carry, gi: gi!, dA: dA!, dU: dU! } : {};
    const o = run(
      FUSED_KERNELS.gruStepGrad,
      { dy, hs, kept, ...(mask ? { mask } : {}), ...given },
      {
        t,
        gate,
        flipped: true,
        batchMajor,
        stacks: true,
        dUStack: true,
      },
    );
    if (!carry) [dA, dU] = [o[1]!, o[2]!];
    const dUT = o[o.length - 1]!;
    if (m2) {
      const [mid, out] = run(
        FUSED_KERNELS.matMulPair,
        { first: m2, x: dUT, second: m1 },
        {
          outShape: [m1.shape[0], dUT.shape[1]],
          secondLeft: true,
          keep: true,
        },
      );
      mids.unshift(mid!);
      gi = out;
    } else gi = tf.matMul(m1, dUT);
    carry = o[0];
  }
  return [dA!, dU!, carry!, gi!, ...(m2 ? [tf.stack(mids)] : [])];
}

const VARIANTS = [
  { label: 'cpu', backend: 'cpu', native: false },
  { label: 'wasm', backend: 'wasm', native: true },
  { label: 'wasm, loops', backend: 'wasm', native: false },
] as const;

for (const { label, backend, native } of VARIANTS) {
  describe(`TensorizedGruSequence and TensorizedGruSequenceGrad [${label}]`, () => {
    // B and H multiples of 4 (the WebAssembly loop's), and B = 6 (step by step inside the kernel).
    it.each([
      [5, 8, 16, 12],
      [5, 8, 16, 0],
      [3, 6, 8, 4],
    ])(
      'equal the step-by-step launches bit for bit: both gates, masked or not, time- and batch-major (T = %i, B = %i, H = %i, R = %i)',
      async (T, B, H, R) => {
        await useBackend(backend);
        setNativeWasmKernels(native);
        try {
          if (backend === 'wasm' && native) expect(nativeKernels(tf.backend() as never)).toBeDefined();
          const H3 = 3 * H;
          const h0 = tensorOf([B, H], 3, 0.5);
          const bU = tensorOf([H3], 2, 0.3);
          // Two stages (R > 0): M_1 (H x R), M_2 (R x 3H); one: M_1 (H x 3H).
          const m1 = tensorOf([H, R || H3], 4, 1 / Math.sqrt(H));
          const m2 = R ? tensorOf([R, H3], 5, 1 / Math.sqrt(R)) : undefined;
          const [m1T, m2T] = [tf.transpose(m1), m2 && tf.transpose(m2)];
          const mask = tf.tensor3d(
            Array.from({ length: T * B }, (_, i) => (i % 5 === 3 ? 0 : 1)),
            [T, B, 1],
          );
          const before = tf.memory().numTensors;
          for (const gate of ['sigmoid', 'hardSigmoid'])
            for (const masked of [false, true])
              for (const batchMajor of [false, true]) {
                const a = tensorOf(batchMajor ? [B, T, H3] : [T, B, H3], 1);
                const dy = tensorOf(batchMajor ? [B, T, H] : [T, B, H], 6);
                const given = { a, bU, h0, m1T, ...(m2T ? { m2T } : {}), ...(masked ? { mask } : {}) };
                const attrs = { gate, record: true, batchMajor, keepMids: Boolean(R) };
                const whole = run(FUSED_KERNELS.gruSequence, given, attrs);
                const steps = tf.tidy(() => forwardByStep(given, gate, batchMajor));
                const where = `${gate}, masked ${masked}, batchMajor ${batchMajor}`;
                expect(whole.map((x) => x.shape)).toEqual(steps.map((x) => x.shape));
                for (const [i, x] of whole.entries())
                  expect(Array.from(x.dataSync()), `${where}: output ${i}`).toEqual(Array.from(steps[i]!.dataSync()));
                // Not recorded: the states alone, the same.
                const states = run(FUSED_KERNELS.gruSequence, given, { gate, record: false, batchMajor });
                expect(states.length).toBe(1);
                expect(Array.from(states[0]!.dataSync()), where).toEqual(Array.from(steps[0]!.dataSync()));
                const back = {
                  dy,
                  hs: whole[1]!,
                  kept: whole[2]!,
                  m1,
                  ...(m2 ? { m2 } : {}),
                  ...(masked ? { mask } : {}),
                };
                const grads = run(FUSED_KERNELS.gruSequenceGrad, back, { gate, batchMajor, keepMids: Boolean(R) });
                const byStep = tf.tidy(() => backwardByStep(back, gate, batchMajor));
                expect(grads.map((x) => x.shape)).toEqual(byStep.map((x) => x.shape));
                for (const [i, x] of grads.entries())
                  expect(Array.from(x.dataSync()), `${where}: gradient ${i}`).toEqual(
                    Array.from(byStep[i]!.dataSync()),
                  );
                tf.dispose([a, dy, ...whole, ...steps, ...states, ...grads, ...byStep]);
              }
          // Nothing left behind but what was returned (and disposed above).
          expect(tf.memory().numTensors).toBe(before);
          tf.dispose([h0, bU, m1, m1T, mask, ...(m2 ? [m2, m2T!] : [])]);
        } finally {
          setNativeWasmKernels(true);
        }
      },
    );

    it('name the argument, its value and what was expected on bad input', async () => {
      await useBackend(backend);
      const [T, B, H, R] = [2, 4, 4, 3];
      const a = tf.zeros([T, B, 3 * H]);
      const bU = tf.zeros([3 * H]);
      const h0 = tf.zeros([B, H]);
      const m1T = tf.zeros([R, H]);
      const m2T = tf.zeros([3 * H, R]);
      const before = tf.memory().numTensors;
      const forward = (inputs: tf.NamedTensorMap, attrs: object) => () =>
        run(FUSED_KERNELS.gruSequence, { a, bU, h0, m1T, m2T, ...inputs }, { gate: 'sigmoid', record: true, ...attrs });
      expect(forward({ h0: tf.zeros([B, H + 1]) }, {})).toThrow(/input 'h0' must have shape \[4, 4\], got \[4, 5\]/);
      expect(forward({ m2T: tf.zeros([3 * H, R + 1]) }, {})).toThrow(
        /input 'm2T' must have shape \[12, 3\], got \[12, 4\]/,
      );
      expect(forward({ a: tf.zeros([T, B, 10]) }, {})).toThrow(/input 'a' must be \(T, B, 3H\)/);
      expect(forward({ mask: tf.zeros([T, B]) }, {})).toThrow(/input 'mask' must have shape \[2, 4, 1\]/);
      expect(forward({}, { gate: 'tanh' })).toThrow(/attribute 'gate' must be 'sigmoid' or 'hardSigmoid', got tanh/);
      expect(forward({}, { record: false, keepMids: true })).toThrow(/'keepMids' needs two stages and 'record'/);
      expect(() => run(FUSED_KERNELS.gruSequence, { a, bU, h0, m1T }, { gate: 'sigmoid', record: false })).toThrow(
        /input 'm1T' of one stage must have shape \[12, 4\], got \[3, 4\]/,
      );
      const hs = tf.zeros([T, B, H]);
      const kept = tf.zeros([4, T, B, H]);
      const m1 = tf.zeros([H, R]);
      const m2 = tf.zeros([R, 3 * H]);
      const backward = (inputs: tf.NamedTensorMap, attrs: object) => () =>
        run(FUSED_KERNELS.gruSequenceGrad, { dy: hs, hs, kept, m1, m2, ...inputs }, { gate: 'sigmoid', ...attrs });
      expect(backward({ dy: tf.zeros([T, B, H + 1]) }, {})).toThrow(
        /input 'dy' must have shape \[2, 4, 4\], got \[2, 4, 5\]/,
      );
      expect(backward({ kept: tf.zeros([3, T, B, H]) }, {})).toThrow(/input 'kept' must have shape \[4, 2, 4, 4\]/);
      expect(backward({ m1: tf.zeros([H + 1, R]) }, {})).toThrow(
        /input 'm1' must be a matrix with 4 rows, got \[5, 3\]/,
      );
      expect(() =>
        run(FUSED_KERNELS.gruSequenceGrad, { dy: hs, hs, kept, m1 }, { gate: 'sigmoid', keepMids: true }),
      ).toThrow(/input 'm1' must have shape \[4, 12\]/);
      expect(() => run(FUSED_KERNELS.gruSequenceGrad, { dy: hs, kept, m1 }, { gate: 'sigmoid' })).toThrow(
        /input 'hs' is missing/,
      );
      // The failed launches left nothing behind: what is new are the 7 bad inputs and hs, kept, m1, m2.
      expect(tf.memory().numTensors).toBe(before + 11);
    });
  });
}
