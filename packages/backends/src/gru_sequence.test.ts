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
          const data = tf.engine().backend.numDataIds();
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
          // Nothing left behind but what was returned (and disposed above), tensors or data.
          expect(tf.memory().numTensors).toBe(before);
          expect(tf.engine().backend.numDataIds()).toBe(data);
          tf.dispose([h0, bU, m1, m1T, mask, ...(m2 ? [m2, m2T!] : [])]);
        } finally {
          setNativeWasmKernels(true);
        }
      },
    );

    it('run as one WebAssembly loop where it can (no product launched), else the products step by step', async () => {
      await useBackend(backend);
      setNativeWasmKernels(native);
      // Count the BatchMatMul calls the kernel makes (the registered kernel wrapped for the test).
      const original = tf.getKernel('BatchMatMul', backend)!;
      let calls = 0;
      tf.unregisterKernel('BatchMatMul', backend);
      tf.registerKernel({
        ...original,
        kernelFunc: (args) => {
          calls++;
          return original.kernelFunc(args);
        },
      });
      try {
        for (const [B, H, R] of [
          [8, 16, 12],
          [8, 16, 0],
          [6, 8, 4],
        ] as const) {
          const T = 3;
          const inputs = {
            a: tensorOf([T, B, 3 * H], 1),
            bU: tensorOf([3 * H], 2),
            h0: tensorOf([B, H], 3),
            m1T: tensorOf([R || 3 * H, H], 4, 0.2),
            ...(R ? { m2T: tensorOf([3 * H, R], 5, 0.2) } : {}),
          };
          calls = 0;
          const outs = run(FUSED_KERNELS.gruSequence, inputs, { gate: 'sigmoid', record: true });
          const whole = backend === 'wasm' && native && B % 4 === 0;
          expect(calls, `B ${B}, H ${H}, R ${R}`).toBe(whole ? 0 : T * (R ? 2 : 1));
          tf.dispose([...outs, ...Object.values(inputs)]);
        }
      } finally {
        tf.unregisterKernel('BatchMatMul', backend);
        tf.registerKernel(original);
        setNativeWasmKernels(true);
      }
    });

    it('name the argument, its value and what was expected on bad input', async () => {
      await useBackend(backend);
      const [T, B, H, R] = [2, 4, 4, 3];
      const a = tf.zeros([T, B, 3 * H]);
      const bU = tf.zeros([3 * H]);
      const h0 = tf.zeros([B, H]);
      const m1T = tf.zeros([R, H]);
      const m2T = tf.zeros([3 * H, R]);
      const before = tf.memory().numTensors;
      const data = tf.engine().backend.numDataIds();
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
      expect(tf.engine().backend.numDataIds()).toBe(data + 11);
    });
  });
}

for (const { label, backend, native } of VARIANTS) {
  describe(`TensorizedGruStagedSequence and TensorizedGruStagedSequenceGrad [${label}]`, () => {
    // U h through two stages with a transpose in each view (a TT-matrix's layout between cores):
    // h (B, 8) -> (2B, 4) by M_0 (4 x 6) -> (B, 12) by M_1 (12 x 24) = U h (B, 3H), H = 8.
    const [T, B, H] = [4, 4, 8];
    const views = [
      [{ reshape: [B, 2, 4] }, { transpose: [1, 0, 2] }, { reshape: [2 * B, 4] }],
      [{ reshape: [2, B, 6] }, { transpose: [1, 0, 2] }, { reshape: [B, 12] }],
    ];
    it('the forward launch equals the views, products and TensorizedGruStep launched step by step, bit for bit (recorded, kept inputs, masked, batch-major)', async () => {
      await useBackend(backend);
      setNativeWasmKernels(native);
      try {
        const m0 = tensorOf([4, 6], 4, 0.5);
        const m1 = tensorOf([12, 3 * H], 5, 0.3);
        const h0 = tensorOf([B, H], 3, 0.5);
        const bU = tensorOf([3 * H], 2, 0.3);
        const mask = tf.tensor3d(
          Array.from({ length: T * B }, (_, i) => (i % 5 === 3 ? 0 : 1)),
          [T, B, 1],
        );
        const before = tf.memory().numTensors;
        const data = tf.engine().backend.numDataIds();
        for (const batchMajor of [false, true]) {
          const a = tensorOf(batchMajor ? [B, T, 3 * H] : [T, B, 3 * H], 1);
          const whole = run(
            FUSED_KERNELS.gruStagedSequence,
            { a, bU, h0, m0, m1, mask },
            { gate: 'sigmoid', record: true, batchMajor, views, outView: [], keepLaidFrom: 0 },
          );
          const steps = tf.tidy(() => {
            let h = h0;
            let stacks: tf.Tensor[] = [];
            const laid: tf.Tensor[][] = [[], []];
            for (let t = 0; t < T; t++) {
              let c = h;
              [m0, m1].forEach((m, i) => {
                const x = run(FUSED_KERNELS.view, { x: c }, { view: views[i] })[0]!;
                laid[i]!.push(x);
                c = tf.matMul(x, m);
              });
              const given: tf.NamedTensorMap = t > 0 ? { hs: stacks[0]!, kept: stacks[1]!, out: stacks[2]! } : {};
              const o = run(
                FUSED_KERNELS.gruStep,
                { a, uh: c, bU, h, mask, ...given },
                {
                  t,
                  gate: 'sigmoid',
                  record: true,
                  batchMajor,
                  stacks: true,
                },
              );
              if (t === 0) stacks = o.slice(1, 4);
              h = o[0]!;
            }
            return [stacks[2]!, stacks[0]!, stacks[1]!, ...laid.flat()];
          });
          expect(whole.map((x) => x.shape)).toEqual(steps.map((x) => x.shape));
          for (const [i, x] of whole.entries())
            expect(Array.from(x.dataSync()), `batchMajor ${batchMajor}: output ${i}`).toEqual(
              Array.from(steps[i]!.dataSync()),
            );
          // The backward launch: its d(U h) stack has the forward's shapes, and its stage gradients
          // are formed (their values are checked against the launches step by step in
          // @tensorized/cells' gru_sequence.test.ts, through gruSequence).
          const dy = tensorOf(batchMajor ? [B, T, H] : [T, B, H], 6);
          const laidInputs = Object.fromEntries(whole.slice(3).map((x, j) => [`laid${Math.floor(j / T)}_${j % T}`, x]));
          const grads = run(
            FUSED_KERNELS.gruStagedSequenceGrad,
            { dy, hs: whole[1]!, kept: whole[2]!, m0, m1, mask, ...laidInputs },
            {
              gate: 'sigmoid',
              batchMajor,
              backViews: [
                [{ reshape: [2, B, 4] }, { transpose: [1, 0, 2] }, { reshape: [B, 8] }],
                [{ reshape: [B, 2, 6] }, { transpose: [1, 0, 2] }, { reshape: [2 * B, 6] }],
              ],
              outBack: [],
              weightGradients: true,
            },
          );
          expect(grads.map((x) => x.shape)).toEqual([
            batchMajor ? [B, T, 3 * H] : [T, B, 3 * H],
            [T, B, 3 * H],
            [B, H],
            [B, H],
            [4, 6],
            [12, 3 * H],
          ]);
          tf.dispose([a, dy, ...whole, ...steps, ...grads]);
        }
        expect(tf.memory().numTensors).toBe(before);
        expect(tf.engine().backend.numDataIds()).toBe(data);
        tf.dispose([m0, m1, h0, bU, mask]);
      } finally {
        setNativeWasmKernels(true);
      }
    });

    it('name the argument, its value and what was expected on bad input', async () => {
      await useBackend(backend);
      const a = tf.zeros([T, B, 3 * H]);
      const bU = tf.zeros([3 * H]);
      const h0 = tf.zeros([B, H]);
      const m0 = tf.zeros([4, 6]);
      const m1 = tf.zeros([12, 3 * H]);
      const before = tf.memory().numTensors;
      const data = tf.engine().backend.numDataIds();
      const forward = (inputs: tf.NamedTensorMap, attrs: object) => () =>
        run(
          FUSED_KERNELS.gruStagedSequence,
          { a, bU, h0, m0, m1, ...inputs },
          { gate: 'sigmoid', record: true, views, outView: [], ...attrs },
        );
      expect(forward({ m1: tf.zeros([10, 3 * H]) }, {})).toThrow(
        /stage 1's laid-out input \[4, 12\] does not fit its matrix \[10, 24\]/,
      );
      expect(forward({ m1: tf.zeros([12, 3 * H + 3]) }, {})).toThrow(
        /input 'U h \(the last stage through outView\)' must have shape \[4, 24\], got \[4, 27\]/,
      );
      expect(forward({}, { views: [views[0], [{ reshape: [5, -1] }]] })).toThrow(
        /cannot reshape \[8, 6\] to \[5, -1\]/,
      );
      expect(forward({}, { keepLaidFrom: 3 })).toThrow(
        /attribute 'keepLaidFrom' must be an integer in \[0, 2\], got 3/,
      );
      expect(forward({}, { record: false, keepLaidFrom: 0 })).toThrow(/'keepLaidFrom' needs 'record'/);
      expect(forward({}, { views: [] })).toThrow(/there must be at least one stage, got 0/);
      expect(() =>
        run(FUSED_KERNELS.gruStagedSequence, { a, bU, h0, m0 }, { gate: 'sigmoid', record: true, views, outView: [] }),
      ).toThrow(/input 'm1' is missing/);
      // The backward launch, with laid-out inputs that do not fit (found inside the first step's work).
      const [hs, kept, dy] = [tf.zeros([T, B, H]), tf.zeros([4, T, B, H]), tf.zeros([T, B, H])];
      const laidInputs = Object.fromEntries(
        [0, 1].flatMap((i) => Array.from({ length: T }, (_, t) => [`laid${i}_${t}`, i === 1 && t === T - 1 ? m0 : hs])),
      );
      const backViews = [
        [{ reshape: [2, B, 4] }, { transpose: [1, 0, 2] }, { reshape: [B, 8] }],
        [{ reshape: [B, 2, 6] }, { transpose: [1, 0, 2] }, { reshape: [2 * B, 6] }],
      ];
      expect(() =>
        run(
          FUSED_KERNELS.gruStagedSequenceGrad,
          { dy, hs, kept, m0, m1, ...laidInputs },
          { gate: 'sigmoid', backViews, outBack: [], weightGradients: true },
        ),
      ).toThrow(/input 'laid0_3' \[4, 4, 8\] does not fit the gradient of stage 0's output \[8, 6\]/);
      expect(() =>
        run(
          FUSED_KERNELS.gruStagedSequenceGrad,
          { dy, hs, kept, m0, m1 },
          { gate: 'sigmoid', backViews, outBack: [], weightGradients: true },
        ),
      ).toThrow(/input 'laid0_0' is missing/);
      // The failed launches left nothing behind, tensors or data: what is new are the 2 bad inputs and hs, kept, dy.
      expect(tf.memory().numTensors).toBe(before + 5);
      expect(tf.engine().backend.numDataIds()).toBe(data + 5);
      tf.dispose([hs, kept, dy]);
    });
  });
}
