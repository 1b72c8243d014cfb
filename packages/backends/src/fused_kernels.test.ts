import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { FUSED_KERNELS, setNativeWasmKernels, useBackend } from './index.js';
import { nativeKernels } from './wasm_native.js';

/** Deterministic normal-ish values (sum of uniforms), so that every backend sees the same inputs. */
function values(n: number, seed: number, scale = 1): Float64Array {
  let s = seed;
  const u = (): number => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  return Float64Array.from({ length: n }, () => (u() + u() + u() - 1.5) * 2 * scale);
}

/** A float32 tensor of `values` (deterministic by seed). */
function tensorOf(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.tensor(
    Float32Array.from(
      values(
        shape.reduce((p, q) => p * q, 1),
        seed,
        scale,
      ),
    ),
    shape,
    'float32',
  );
}

/** What a recorded forward pass keeps for TensorizedGruStepGrad: h, r, z, n, un, each (T, B, H). */
function keptStacks(T: number, B: number, H: number, seed: number): Record<string, tf.Tensor> {
  return tf.tidy(() => ({
    h: tensorOf([T, B, H], seed, 0.5),
    r: tf.sigmoid(tensorOf([T, B, H], seed + 1)),
    z: tf.sigmoid(tensorOf([T, B, H], seed + 2)),
    n: tf.tanh(tensorOf([T, B, H], seed + 3)),
    un: tensorOf([T, B, H], seed + 4),
  }));
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const hardSigmoid = (x: number): number => Math.min(1, Math.max(0, 0.2 * x + 0.5));

/** One GRU step of PAPER.md (reset gate after U) in float64, element by element: the reference. */
function gruStepRef(
  a: Float64Array,
  uh: Float64Array,
  bU: Float64Array,
  h: Float64Array,
  mask: Float64Array | undefined,
  [T, B, H]: number[],
  t: number,
  gate: 'sigmoid' | 'hardSigmoid',
): { next: number[]; r: number[]; z: number[]; n: number[]; un: number[] } {
  const act = gate === 'sigmoid' ? sigmoid : hardSigmoid;
  const out = { next: [] as number[], r: [] as number[], z: [] as number[], n: [] as number[], un: [] as number[] };
  expect(a.length).toBe(T! * B! * 3 * H!);
  for (let b = 0; b < B!; b++) {
    for (let j = 0; j < H!; j++) {
      const at = (k: number): number => a[(t * B! + b) * 3 * H! + k * H! + j]!;
      const u = (k: number): number => uh[b * 3 * H! + k * H! + j]! + bU[k * H! + j]!;
      const r = act(at(0) + u(0));
      const z = act(at(1) + u(1));
      const n = Math.tanh(at(2) + r * u(2));
      const hp = h[b * H! + j]!;
      const m = mask ? mask[t * B! + b]! : 1;
      out.next.push(hp + m * ((1 - z) * n + z * hp - hp));
      out.r.push(r);
      out.z.push(z);
      out.n.push(n);
      out.un.push(u(2));
    }
  }
  return out;
}

function expectNear(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i]! - expected[i]!) / (1 + Math.abs(expected[i]!));
    if (e > worst) [worst, at] = [e, i];
  }
  if (worst > tol) expect.fail(`element ${at}: ${actual[at]} against ${expected[at]} (error ${worst} > ${tol})`);
}

// cpu: JavaScript loops on the backend's arrays. wasm: the WebAssembly kernels (wasm/kernels.ts)
// where the hidden size is a multiple of 4, else JavaScript loops on the heap; 'wasm, loops': the
// WebAssembly kernels switched off. Every kernel is checked at a hidden size of each kind.
const VARIANTS = [
  { label: 'cpu', backend: 'cpu', native: false },
  { label: 'wasm', backend: 'wasm', native: true },
  { label: 'wasm, loops', backend: 'wasm', native: false },
] as const;

for (const { label, backend, native } of VARIANTS) {
  /** Starts the backend with the WebAssembly kernels on or off; true if they will run for hidden size H. */
  const start = async (H: number): Promise<boolean> => {
    await useBackend(backend);
    setNativeWasmKernels(native);
    const runs = backend === 'wasm' && native && H % 4 === 0;
    if (runs) expect(nativeKernels(tf.backend() as never)).toBeDefined();
    return runs;
  };
  describe(`fused kernels [${label}]`, () => {
    it.each([5, 8])(
      'TensorizedGruStep equals the float64 step of PAPER.md: both gates, masked and not, recorded and not (H = %i)',
      async (H) => {
        await start(H);
        const [T, B] = [3, 4];
        const a = values(T * B * 3 * H, 1);
        const uh = values(B * 3 * H, 2);
        const bU = values(3 * H, 3, 0.5);
        const h = values(B * H, 4, 0.5);
        const mask = Float64Array.from([1, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0.5, 1]);
        const before = tf.memory().numTensors;
        const [at, uht, bt, ht, mt] = [
          tf.tensor3d(Float32Array.from(a), [T, B, 3 * H], 'float32'),
          tf.tensor2d(Float32Array.from(uh), [B, 3 * H], 'float32'),
          tf.tensor1d(Float32Array.from(bU), 'float32'),
          tf.tensor2d(Float32Array.from(h), [B, H], 'float32'),
          tf.tensor3d(Float32Array.from(mask), [T, B, 1], 'float32'),
        ];
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          for (const masked of [false, true]) {
            for (let t = 0; t < T; t++) {
              const ref = gruStepRef(a, uh, bU, h, masked ? mask : undefined, [T, B, H], t, gate);
              const inputs = { a: at, uh: uht, bU: bt, h: ht, ...(masked ? { mask: mt } : {}) };
              const plain = tf.engine().runKernel(FUSED_KERNELS.gruStep, inputs, { t, gate, record: false } as never);
              const only = (Array.isArray(plain) ? plain : [plain]) as tf.Tensor[];
              expect(only).toHaveLength(1);
              expectNear(only[0]!.dataSync(), ref.next, 1e-6);
              const recorded = tf.engine().runKernel(FUSED_KERNELS.gruStep, inputs, { t, gate, record: true } as never);
              const [next, r, z, n, un] = recorded as tf.Tensor[];
              for (const [x, e] of [
                [next, ref.next],
                [r, ref.r],
                [z, ref.z],
                [n, ref.n],
                [un, ref.un],
              ] as const) {
                expect(x!.shape).toEqual([B, H]);
                expectNear(x!.dataSync(), e, 1e-6);
              }
              tf.dispose([...only, ...(recorded as tf.Tensor[])]);
            }
          }
        }
        tf.dispose([at, uht, bt, ht, mt]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([3, 4])(
      'TensorizedGruStepGrad is the chain rule of the step: gradients by central differences of the float64 step (H = %i)',
      async (H) => {
        await start(H);
        const [T, B] = [3, 2];
        const a = values(T * B * 3 * H, 11);
        const uh = values(T * B * 3 * H, 12); // U h of each step (fixed: its own gradient is dU)
        const bU = values(3 * H, 13, 0.5);
        const h0 = values(B * H, 14, 0.5);
        const mask = Float64Array.from([1, 1, 0, 1, 1, 1]);
        const probe = values(T * B * H, 15);
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          // Forward in float64, with the state carried through the mask, keeping what the kernel takes.
          const run = (aAll: Float64Array, uhAll: Float64Array) => {
            let h = h0;
            const kept = {
              h: [] as number[],
              r: [] as number[],
              z: [] as number[],
              n: [] as number[],
              un: [] as number[],
            };
            let loss = 0;
            for (let t = 0; t < T; t++) {
              const u = uhAll.subarray(t * B * 3 * H, (t + 1) * B * 3 * H);
              const s = gruStepRef(aAll, u, bU, h, mask, [T, B, H], t, gate);
              kept.h.push(...h);
              kept.r.push(...s.r);
              kept.z.push(...s.z);
              kept.n.push(...s.n);
              kept.un.push(...s.un);
              h = Float64Array.from(s.next);
              for (let i = 0; i < B * H; i++) loss += h[i]! * probe[t * B * H + i]!;
            }
            return { loss, kept };
          };
          const { kept } = run(a, uh);
          const before = tf.memory().numTensors;
          const stack = (x: number[]): tf.Tensor => tf.tensor3d(Float32Array.from(x), [T, B, H], 'float32');
          const inputs = {
            dy: tf.tensor3d(Float32Array.from(probe), [T, B, H], 'float32'),
            h: stack(kept.h),
            r: stack(kept.r),
            z: stack(kept.z),
            n: stack(kept.n),
            un: stack(kept.un),
            mask: tf.tensor3d(Float32Array.from(mask), [T, B, 1], 'float32'),
          };
          // Backwards through the steps; the gradient through U h is dU itself here (uh is an input).
          const dUh: number[][] = new Array(T);
          const dA: number[][] = new Array(T);
          let carry: tf.Tensor | undefined;
          let gi: tf.Tensor | undefined;
          const made: tf.Tensor[] = [];
          for (let t = T - 1; t >= 0; t--) {
            const [total, dU, dAt] = tf
              .engine()
              .runKernel(FUSED_KERNELS.gruStepGrad, carry ? { ...inputs, carry, gi: gi! } : inputs, {
                t,
                gate,
              } as never) as tf.Tensor[];
            made.push(total!, dU!, dAt!);
            expect(dAt!.shape).toEqual([B, 3 * H]);
            dUh[t] = Array.from(dU!.dataSync());
            dA[t] = Array.from(dAt!.dataSync());
            carry = total;
            // With U h an input, no gradient flows from d(U h) back to h: gi = 0.
            gi = tf.zerosLike(total!);
            made.push(gi);
          }
          // Central differences of the loss with respect to every entry of every step's U h (dU) and
          // of every step's x W + b_W (dA).
          const eps = 1e-6;
          const fd = (x: Float64Array, i: number, loss: (y: Float64Array) => number): number => {
            const [plus, minus] = [Float64Array.from(x), Float64Array.from(x)];
            plus[i]! += eps;
            minus[i]! -= eps;
            return (loss(plus) - loss(minus)) / (2 * eps);
          };
          for (let t = 0; t < T; t++) {
            for (let i = 0; i < B * 3 * H; i++) {
              const d = fd(uh, t * B * 3 * H + i, (y) => run(a, y).loss);
              expect(Math.abs(dUh[t]![i]! - d)).toBeLessThan(1e-4 * (1 + Math.abs(d)));
              const da = fd(a, t * B * 3 * H + i, (y) => run(y, uh).loss);
              expect(Math.abs(dA[t]![i]! - da)).toBeLessThan(1e-4 * (1 + Math.abs(da)));
            }
          }
          tf.dispose([...Object.values(inputs), ...made]);
          expect(tf.memory().numTensors).toBe(before);
        }
      },
    );

    // Flipped layouts: (U h)^T in and h'^T out, gi^T in and d(U h)^T out. The arithmetic is the
    // unflipped kernels' (checked above against float64), so the outputs must agree bit for bit.
    // B = 6 and 3H = 15 or 24 take the transposes through 4 x 4 blocks and the rows and columns left over.
    const transposeOf = (x: tf.Tensor): Float32Array => tf.tidy(() => tf.transpose(x).dataSync() as Float32Array);
    // B = 8: the WebAssembly kernel's own flipped path (4 x 4 blocks, B and H multiples of 4).
    it.each([
      [5, 6],
      [8, 6],
      [8, 8],
    ])(
      "TensorizedGruStep with 'flipped' takes (U h)^T and returns the unflipped outputs bit for bit, then h'^T (H = %i, B = %i)",
      async (H, B) => {
        await start(H);
        const T = 2;
        const before = tf.memory().numTensors;
        const a = tf.tensor3d(Float32Array.from(values(T * B * 3 * H, 31)), [T, B, 3 * H], 'float32');
        const uh = tf.tensor2d(Float32Array.from(values(B * 3 * H, 32)), [B, 3 * H], 'float32');
        const uhT = tf.transpose(uh);
        const bU = tf.tensor1d(Float32Array.from(values(3 * H, 33, 0.5)), 'float32');
        const h = tf.tensor2d(Float32Array.from(values(B * H, 34, 0.5)), [B, H], 'float32');
        const maskValues = Array.from({ length: T * B }, (_, i) => [1, 0, 1, 0.5, 1, 1, 1][i % 7]!);
        const mask = tf.tensor3d(Float32Array.from(maskValues), [T, B, 1], 'float32');
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          for (const record of [false, true]) {
            for (const m of [undefined, mask]) {
              const run = (u: tf.Tensor, flipped: boolean) =>
                [
                  tf.engine().runKernel(FUSED_KERNELS.gruStep, { a, uh: u, bU, h, ...(m ? { mask: m } : {}) }, {
                    t: 1,
                    gate,
                    record,
                    ...(flipped ? { flipped } : {}),
                  } as never),
                ].flat() as tf.Tensor[];
              const plain = run(uh, false);
              const flipped = run(uhT, true);
              expect(flipped).toHaveLength(plain.length + 1);
              for (const [i, x] of plain.entries()) expect(flipped[i]!.dataSync()).toEqual(x.dataSync());
              const last = flipped[flipped.length - 1]!;
              expect(last.shape).toEqual([H, B]);
              expect(last.dataSync()).toEqual(transposeOf(plain[0]!));
              tf.dispose([...plain, ...flipped]);
            }
          }
        }
        tf.dispose([a, uh, uhT, bU, h, mask]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([
      [5, 6],
      [8, 6],
      [8, 8],
    ])(
      "TensorizedGruStepGrad with 'flipped' takes gi^T and returns the unflipped outputs bit for bit, then d(U h)^T (H = %i, B = %i)",
      async (H, B) => {
        await start(H);
        const T = 3;
        const before = tf.memory().numTensors;
        const inputs = {
          dy: tensorOf([T, B, H], 41),
          ...keptStacks(T, B, H, 42),
          mask: tf.tensor3d(Float32Array.from(values(T * B, 47).map((x) => (x > 0 ? 1 : 0.5))), [T, B, 1]),
        };
        const carry = tf.tensor2d(Float32Array.from(values(B * H, 48)), [B, H], 'float32');
        const gi = tf.tensor2d(Float32Array.from(values(B * H, 49)), [B, H], 'float32');
        const giT = tf.transpose(gi);
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          for (const t of [T - 1, 0]) {
            const more = t < T - 1;
            const plain = tf.engine().runKernel(FUSED_KERNELS.gruStepGrad, more ? { ...inputs, carry, gi } : inputs, {
              t,
              gate,
            } as never) as tf.Tensor[];
            const flipped = tf
              .engine()
              .runKernel(FUSED_KERNELS.gruStepGrad, more ? { ...inputs, carry, gi: giT } : inputs, {
                t,
                gate,
                flipped: true,
              } as never) as tf.Tensor[];
            expect(flipped).toHaveLength(4);
            for (const [i, x] of plain.entries()) expect(flipped[i]!.dataSync()).toEqual(x.dataSync());
            expect(flipped[3]!.shape).toEqual([3 * H, B]);
            expect(flipped[3]!.dataSync()).toEqual(transposeOf(plain[1]!));
            tf.dispose([...plain, ...flipped]);
          }
        }
        tf.dispose([...Object.values(inputs), carry, gi, giT]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([5, 8])(
      "with 'batchMajor' (a as (B, T, 3H), dy as (B, T, H)) both kernels return the time-major outputs bit for bit (H = %i)",
      async (H) => {
        await start(H);
        const [T, B] = [3, 5];
        const before = tf.memory().numTensors;
        const a = tensorOf([T, B, 3 * H], 51);
        const aB = tf.transpose(a, [1, 0, 2]);
        const uh = tensorOf([B, 3 * H], 52);
        const bU = tensorOf([3 * H], 53, 0.5);
        const h = tensorOf([B, H], 54, 0.5);
        const mask = tf.tensor3d(Float32Array.from(values(T * B, 55).map((x) => (x > 0 ? 1 : 0))), [T, B, 1]);
        const stacks = keptStacks(T, B, H, 56);
        const dy = tensorOf([T, B, H], 61);
        const dyB = tf.transpose(dy, [1, 0, 2]);
        const carry = tensorOf([B, H], 62);
        const gi = tensorOf([B, H], 63);
        const same = (x: tf.Tensor[], y: tf.Tensor[]) => {
          expect(y).toHaveLength(x.length);
          for (const [i, v] of x.entries()) expect(y[i]!.dataSync()).toEqual(v.dataSync());
          tf.dispose([...x, ...y]);
        };
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          for (let t = 0; t < T; t++) {
            const step = (x: tf.Tensor, batchMajor: boolean) =>
              [
                tf.engine().runKernel(FUSED_KERNELS.gruStep, { a: x, uh, bU, h, mask }, {
                  t,
                  gate,
                  record: true,
                  ...(batchMajor ? { batchMajor } : {}),
                } as never),
              ].flat() as tf.Tensor[];
            same(step(a, false), step(aB, true));
            const grad = (d: tf.Tensor, batchMajor: boolean) =>
              tf
                .engine()
                .runKernel(FUSED_KERNELS.gruStepGrad, { dy: d, ...stacks, mask, ...(t < T - 1 ? { carry, gi } : {}) }, {
                  t,
                  gate,
                  ...(batchMajor ? { batchMajor } : {}),
                } as never) as tf.Tensor[];
            same(grad(dy, false), grad(dyB, true));
          }
        }
        tf.dispose([a, aB, uh, bU, h, mask, ...Object.values(stacks), dy, dyB, carry, gi]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    // Stacks: the same arithmetic as the per-step outputs (checked above), so the stacks must hold
    // them bit for bit. B = 5, T = 4: slots of a batch-major stack are rows T apart.
    it.each([
      [5, false, false, 5],
      [8, false, false, 5],
      [8, true, false, 5],
      [5, true, true, 5],
      [8, false, true, 5],
      [8, false, true, 8],
      [8, true, true, 8],
    ])(
      "with 'stacks' the steps write their slots of hs, kept, out and dA, bit for bit the per-step outputs (H = %i, batchMajor %s, flipped %s, B = %i)",
      async (H, batchMajor, flipped, B) => {
        await start(H);
        const T = 4;
        const before = tf.memory().numTensors;
        const a = tensorOf(batchMajor ? [B, T, 3 * H] : [T, B, 3 * H], 71);
        const bU = tensorOf([3 * H], 72, 0.5);
        const mask = tf.tensor3d(Float32Array.from(values(T * B, 73).map((x) => (x > 0.3 ? 1 : 0))), [T, B, 1]);
        const uhs = Array.from({ length: T }, (_, t) => tensorOf(flipped ? [3 * H, B] : [B, 3 * H], 80 + t));
        const layout = { ...(batchMajor ? { batchMajor } : {}), ...(flipped ? { flipped } : {}) };
        for (const gate of ['sigmoid', 'hardSigmoid'] as const) {
          // Per-step outputs, then the stacks, from the same h_0 and U h of each step.
          let h = tensorOf([B, H], 74, 0.5);
          let hStacked = h.clone();
          const made: tf.Tensor[] = [h, hStacked];
          const perStep: tf.Tensor[][] = [];
          let stacks: tf.Tensor[] = [];
          for (let t = 0; t < T; t++) {
            const plain = [
              tf.engine().runKernel(FUSED_KERNELS.gruStep, { a, uh: uhs[t]!, bU, h, mask }, {
                t,
                gate,
                record: true,
                ...layout,
              } as never),
            ].flat() as tf.Tensor[];
            perStep.push([h, ...plain.slice(0, 5)]);
            const [hs, kept, out] = stacks;
            const stacked = [
              tf
                .engine()
                .runKernel(
                  FUSED_KERNELS.gruStep,
                  { a, uh: uhs[t]!, bU, h: hStacked, mask, ...(t > 0 ? { hs: hs!, kept: kept!, out: out! } : {}) },
                  { t, gate, record: true, stacks: true, ...layout } as never,
                ),
            ].flat() as tf.Tensor[];
            expect(stacked).toHaveLength((t === 0 ? 4 : 1) + (flipped ? 1 : 0));
            if (t === 0) stacks = stacked.slice(1, 4);
            expect(stacked[0]!.dataSync()).toEqual(plain[0]!.dataSync());
            if (flipped) expect(stacked[stacked.length - 1]!.dataSync()).toEqual(plain[5]!.dataSync());
            made.push(...plain, ...stacked.filter((x) => !stacks.includes(x)));
            h = plain[0]!;
            hStacked = stacked[0]!;
          }
          const [hs, kept, out] = stacks as [tf.Tensor, tf.Tensor, tf.Tensor];
          expect(hs.shape).toEqual([T, B, H]);
          expect(kept.shape).toEqual([4, T, B, H]);
          expect(out.shape).toEqual(batchMajor ? [B, T, H] : [T, B, H]);
          const expected = tf.tidy(() => {
            const at = (k: number) => tf.stack(perStep.map((s) => s[k]!));
            const states = tf.stack(
              perStep.map((s) => s[1]!),
              batchMajor ? 1 : 0,
            );
            return [at(0), tf.stack([at(2), at(3), at(4), at(5)]), states];
          });
          for (const [i, x] of [hs, kept, out].entries()) expect(x.dataSync()).toEqual(expected[i]!.dataSync());
          // Backwards: the per-step dA against its slots of the dA stack; total and dU the same.
          const keptPlain = {
            h: expected[0]!,
            ...Object.fromEntries(
              ['r', 'z', 'n', 'un'].map((k, i) => [k, tf.tidy(() => tf.squeeze(tf.slice(kept, [i], [1]), [0]))]),
            ),
          };
          const dy = tensorOf(batchMajor ? [B, T, H] : [T, B, H], 75);
          made.push(...expected, dy, ...Object.values(keptPlain).slice(1));
          const dAs: tf.Tensor[] = new Array(T);
          const dUs: tf.Tensor[] = new Array(T);
          let dAAll: tf.Tensor | undefined;
          // And with dUStack: d(U h + b_U) into a stack of its own (and d(x W + b_W) into another).
          let dUStack: tf.Tensor | undefined;
          let dAAll2: tf.Tensor | undefined;
          let carry: tf.Tensor | undefined;
          let gi: tf.Tensor | undefined;
          for (let t = T - 1; t >= 0; t--) {
            const more: tf.NamedTensorMap = t < T - 1 ? { carry: carry!, gi: gi! } : {};
            const plain = tf.engine().runKernel(FUSED_KERNELS.gruStepGrad, { dy, ...keptPlain, mask, ...more }, {
              t,
              gate,
              ...layout,
            } as never) as tf.Tensor[];
            const stacked = tf
              .engine()
              .runKernel(
                FUSED_KERNELS.gruStepGrad,
                { dy, hs, kept, mask, ...more, ...((dAAll ? { dA: dAAll } : {}) as tf.NamedTensorMap) },
                {
                  t,
                  gate,
                  stacks: true,
                  ...layout,
                } as never,
              ) as tf.Tensor[];
            expect(stacked).toHaveLength((t === T - 1 ? 3 : 2) + (flipped ? 1 : 0));
            if (t === T - 1) dAAll = stacked[2]!;
            const intoStack = tf.engine().runKernel(
              FUSED_KERNELS.gruStepGrad,
              {
                dy,
                hs,
                kept,
                mask,
                ...more,
                ...((dAAll2 ? { dA: dAAll2, dU: dUStack! } : {}) as tf.NamedTensorMap),
              },
              { t, gate, stacks: true, dUStack: true, ...layout } as never,
            ) as tf.Tensor[];
            expect(intoStack).toHaveLength((t === T - 1 ? 3 : 1) + (flipped ? 1 : 0));
            if (t === T - 1) [dAAll2, dUStack] = [intoStack[1]!, intoStack[2]!];
            expect(intoStack[0]!.dataSync()).toEqual(plain[0]!.dataSync());
            if (flipped) expect(intoStack[intoStack.length - 1]!.dataSync()).toEqual(plain[3]!.dataSync());
            dUs[t] = plain[1]!;
            made.push(...intoStack.slice(0, 1), ...(flipped ? intoStack.slice(-1) : []));
            expect(stacked[0]!.dataSync()).toEqual(plain[0]!.dataSync());
            expect(stacked[1]!.dataSync()).toEqual(plain[1]!.dataSync());
            if (flipped) expect(stacked[stacked.length - 1]!.dataSync()).toEqual(plain[3]!.dataSync());
            dAs[t] = plain[2]!;
            made.push(...plain, ...stacked);
            carry = plain[0]!;
            // Some gradient through U h: the first H columns of dU (transposed when flipped).
            const through = tf.tidy(() => {
              const first = tf.slice(plain[1]!, [0, 0], [B, H]);
              return flipped ? tf.transpose(first) : first;
            });
            gi = through;
            made.push(through);
          }
          expect(dAAll!.shape).toEqual(batchMajor ? [B, T, 3 * H] : [T, B, 3 * H]);
          const dAExpected = tf.stack(dAs, batchMajor ? 1 : 0);
          expect(dAAll!.dataSync()).toEqual(dAExpected.dataSync());
          expect(dAAll2!.dataSync()).toEqual(dAExpected.dataSync());
          const dUExpected = tf.stack(dUs);
          expect(dUStack!.shape).toEqual([T, B, 3 * H]);
          expect(dUStack!.dataSync()).toEqual(dUExpected.dataSync());
          tf.dispose([...made, ...stacks, dAExpected, dUExpected, dAAll2!, dUStack!]);
        }
        tf.dispose([a, bU, mask, ...uhs]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([5, 8])(
      'TensorizedKhatriRao is the column-wise Kronecker product and TensorizedKhatriRaoGrad its gradient, in float64 (R = %i)',
      async (R) => {
        await start(R);
        const [p, q] = [3, 7];
        const [a, b, dy] = [values(p * R, 91), values(q * R, 92), values(p * q * R, 93)];
        const before = tf.memory().numTensors;
        const [at, bt, dyt] = [
          tf.tensor2d(Float32Array.from(a), [p, R]),
          tf.tensor2d(Float32Array.from(b), [q, R]),
          tf.tensor2d(Float32Array.from(dy), [p * q, R]),
        ];
        const [af, bf, df] = [at, bt, dyt].map((x) => x.dataSync()) as [Float32Array, Float32Array, Float32Array];
        const [out] = tf.engine().runKernel(FUSED_KERNELS.khatriRao, { a: at, b: bt }, {}) as unknown as tf.Tensor[];
        expect(out!.shape).toEqual([p * q, R]);
        // A float32 product of float32 values: the float64 product rounded once.
        const ref = Array.from({ length: p * q * R }, (_, k) => {
          const [row, c] = [Math.floor(k / R), k % R];
          return Math.fround(af[Math.floor(row / q) * R + c]! * bf[(row % q) * R + c]!);
        });
        expect(Array.from(out!.dataSync())).toEqual(ref);
        const [da, db] = tf
          .engine()
          .runKernel(FUSED_KERNELS.khatriRaoGrad, { dy: dyt, a: at, b: bt }, {}) as unknown as tf.Tensor[];
        expect([da!.shape, db!.shape]).toEqual([
          [p, R],
          [q, R],
        ]);
        const daRef = Array.from({ length: p * R }, (_, k) => {
          const [i, c] = [Math.floor(k / R), k % R];
          let sum = 0;
          for (let j = 0; j < q; j++) sum += df[(i * q + j) * R + c]! * bf[j * R + c]!;
          return sum;
        });
        const dbRef = Array.from({ length: q * R }, (_, k) => {
          const [j, c] = [Math.floor(k / R), k % R];
          let sum = 0;
          for (let i = 0; i < p; i++) sum += df[(i * q + j) * R + c]! * af[i * R + c]!;
          return sum;
        });
        expectNear(da!.dataSync(), daRef, 1e-6);
        expectNear(db!.dataSync(), dbRef, 1e-6);
        tf.dispose([at, bt, dyt, out!, da!, db!]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([88, 7])(
      'TensorizedSigmoidCrossEntropy and its gradient equal the float64 binary cross-entropy with logits (K = %i)',
      async (K) => {
        await start(4);
        const N = 6;
        // Logits of every size (exp(-|z|) from 1 down to below float32's smallest normal), targets 0
        // and 1, a masked row and one masked out.
        const z = Float32Array.from(values(N * K, 301 + K, 4), (v, i) =>
          i % 13 === 0 ? v * 30 : i % 17 === 0 ? 0 : v,
        );
        const y = Float32Array.from({ length: N * K }, (_, i) => ((i * 7) % 5 === 0 ? 1 : 0));
        const mask = Float32Array.from([1, 1, 0, 1, 1, 1]);
        const dy = Float32Array.from(values(N, 302, 2));
        const before = tf.memory().numTensors;
        const [zt, yt, mt, dyt] = [tf.tensor2d(z, [N, K]), tf.tensor2d(y, [N, K]), tf.tensor1d(mask), tf.tensor1d(dy)];
        for (const masked of [true, false]) {
          const m: tf.NamedTensorMap = masked ? { mask: mt } : {};
          const [out] = tf
            .engine()
            .runKernel(FUSED_KERNELS.sigmoidCrossEntropy, { z: zt, y: yt, ...m }, {}) as unknown as tf.Tensor[];
          const [dz] = tf
            .engine()
            .runKernel(
              FUSED_KERNELS.sigmoidCrossEntropyGrad,
              { dy: dyt, z: zt, y: yt, ...m },
              {},
            ) as unknown as tf.Tensor[];
          expect([out!.shape, dz!.shape]).toEqual([[N], [N, K]]);
          const [ov, dv] = [out!.dataSync(), dz!.dataSync()];
          for (let n = 0; n < N; n++) {
            const w = masked ? mask[n]! : 1;
            let sum = 0;
            for (let k = n * K; k < (n + 1) * K; k++) {
              // -(y log p + (1 - y) log(1 - p)) with p = sigmoid(z), in float64.
              const p = 1 / (1 + Math.exp(-z[k]!));
              const nll = -(y[k]! ? Math.log(p) : Math.log1p(-p));
              sum += Number.isFinite(nll) ? nll : Math.abs(z[k]!);
              const grad = dy[n]! * w * (p - y[k]!);
              expect(Math.abs(dv[k]! - grad), `dz[${n}, ${k}]`).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(grad)));
            }
            expect(Math.abs(ov[n]! - w * sum), `row ${n}`).toBeLessThanOrEqual(3e-6 * w * sum);
          }
          tf.dispose([out!, dz!]);
        }
        tf.dispose([zt, yt, mt, dyt]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([
      [4099, 0.3, 5],
      [1026, 0.5, -7],
      [8, 0, 1],
    ])(
      'TensorizedDropout keeps value i by lowbias32 of (i, seed), computed here in BigInt (%i values, rate %f, seed %i)',
      async (n, rate, seed) => {
        await start(4);
        // lowbias32 modulo 2^32 in BigInt: independent of Math.imul and of the kernels' wrap-around.
        const M = 2n ** 32n;
        const hash = (v: bigint): bigint => {
          let x = ((v % M) + M) % M;
          x ^= x >> 16n;
          x = (x * 0x7feb352dn) % M;
          x ^= x >> 15n;
          x = (x * 0x846ca68bn) % M;
          x ^= x >> 16n;
          return x;
        };
        const key = hash(BigInt(seed));
        const threshold = BigInt(Math.round((1 - rate) * 2 ** 24));
        const scale = Math.fround(1 / (1 - rate));
        const before = tf.memory().numTensors;
        const x = tensorOf([n], 71 + n);
        const xs = x.dataSync();
        const shaped = tf.reshape(x, n % 2 === 0 ? [2, n / 2] : [n]);
        const [y] = tf
          .engine()
          .runKernel(FUSED_KERNELS.dropout, { x: shaped }, { rate, seed } as never) as unknown as tf.Tensor[];
        expect(y!.shape).toEqual(shaped.shape);
        const ys = y!.dataSync();
        let kept = 0;
        for (let i = 0; i < n; i++) {
          const keep = hash(BigInt(i) * 0x9e3779b9n + key) >> 8n < threshold;
          if (keep) kept++;
          if (ys[i] !== Math.fround(xs[i]! * (keep ? scale : 0)))
            expect([i, ys[i]]).toEqual([i, xs[i]! * (keep ? scale : 0)]);
        }
        if (rate === 0) expect(kept).toBe(n);
        else expect(kept / n).toBeGreaterThan(1 - rate - 0.05);
        if (rate > 0) expect(kept / n).toBeLessThan(1 - rate + 0.05);
        tf.dispose([x, shaped, y!]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it.each([37, 4096])(
      'TensorizedAdam is one torch.optim.Adam update (with gradient scaling), in float64 (%i values)',
      async (n) => {
        await start(4);
        const [w, m, v, g] = [values(n, 21), values(n, 22, 0.1), values(n, 23, 0.01).map(Math.abs), values(n, 24)];
        const attrs = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, scale: 0.5 };
        const before = tf.memory().numTensors;
        const ins = [w, m, v, g].map((x) => tf.tensor2d(Float32Array.from(x), [1, n], 'float32'));
        const out = tf
          .engine()
          .runKernel(
            FUSED_KERNELS.adam,
            { w: ins[0]!, m: ins[1]!, v: ins[2]!, g: ins[3]! },
            attrs as never,
          ) as tf.Tensor[];
        const { lr, beta1, beta2, eps, step, scale } = attrs;
        const mRef = Array.from(g, (gi, i) => beta1 * m[i]! + (1 - beta1) * gi * scale);
        const vRef = Array.from(g, (gi, i) => beta2 * v[i]! + (1 - beta2) * (gi * scale) ** 2);
        const wRef = Array.from(
          w,
          (wi, i) => wi - (lr * mRef[i]!) / (1 - beta1 ** step) / (Math.sqrt(vRef[i]! / (1 - beta2 ** step)) + eps),
        );
        expect(out.map((x) => x.shape)).toEqual([
          [1, n],
          [1, n],
          [1, n],
        ]);
        expectNear(out[0]!.dataSync(), wRef, 1e-6);
        expectNear(out[1]!.dataSync(), mRef, 1e-6);
        expectNear(out[2]!.dataSync(), vRef, 1e-6);
        tf.dispose([...ins, ...out]);
        expect(tf.memory().numTensors).toBe(before);
      },
    );

    it('TensorizedAdamAll is TensorizedAdam for every variable with the gradients scaled by clip / (norm + 1e-6) where the float64 norm of all of them exceeds clip, in one launch; bad attributes and inputs named', async () => {
      await start(4);
      const sizes = [37, 4096, 5, 1];
      const vars = sizes.map((n, i) =>
        [values(n, 31 + i), values(n, 41 + i, 0.1), values(n, 51 + i, 0.01).map(Math.abs), values(n, 61 + i)].map((x) =>
          tf.tensor1d(Float32Array.from(x)),
        ),
      );
      const gs = vars.map((x) => Array.from(x[3]!.dataSync()));
      const norm = Math.sqrt(gs.flat().reduce((p, g) => p + g * g, 0));
      const inputs: tf.NamedTensorMap = {};
      vars.forEach(([w, m, v, g], i) => {
        Object.assign(inputs, { [`w${i}`]: w, [`m${i}`]: m, [`v${i}`]: v, [`g${i}`]: g });
      });
      const base = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3, variables: sizes.length };
      const before = tf.memory().numTensors;
      // Clipped (the norm is twice clip), not clipped (clip above the norm), and no clipping at all.
      for (const clip of [norm / 2, norm * 2, Number.POSITIVE_INFINITY]) {
        let out: tf.Tensor[] = [];
        const info = await tf.profile(() => {
          out = tf.engine().runKernel(FUSED_KERNELS.adamAll, inputs, { ...base, clip } as never) as tf.Tensor[];
        });
        expect(info.kernels.map((k) => k.name)).toEqual([FUSED_KERNELS.adamAll]);
        expect(out.length).toBe(3 * sizes.length + 1);
        expect(out[out.length - 1]!.shape).toEqual([]);
        expect(Math.abs(out[out.length - 1]!.dataSync()[0]! - norm)).toBeLessThanOrEqual(norm * 2 ** -24);
        // The same values as TensorizedAdam per variable with that scale, to the bit.
        const scale = Math.fround(norm > clip ? clip / (norm + 1e-6) : 1);
        if (clip > norm) expect(scale).toBe(1);
        vars.forEach(([w, m, v, g], i) => {
          const one = tf.engine().runKernel(FUSED_KERNELS.adam, { w: w!, m: m!, v: v!, g: g! }, {
            ...base,
            scale,
          } as never) as tf.Tensor[];
          one.forEach((x, k) => {
            expect(out[3 * i + k]!.shape).toEqual([sizes[i]]);
            expect(Array.from(out[3 * i + k]!.dataSync()), `variable ${i}, output ${k}, clip ${clip}`).toEqual(
              Array.from(x.dataSync()),
            );
          });
          tf.dispose(one);
        });
        tf.dispose(out);
      }
      expect(tf.memory().numTensors).toBe(before);
      const run = (attrs: object, ins = inputs) =>
        tf.engine().runKernel(FUSED_KERNELS.adamAll, ins, { ...base, clip: 5, ...attrs } as never);
      expect(() => run({ variables: 0 })).toThrow(
        /TensorizedAdamAll: attribute 'variables' must be an integer >= 1, got 0/,
      );
      expect(() => run({ variables: 5 })).toThrow(/inputs w4, m4, v4 and g4 are required \(variables: 5\)/);
      expect(() => run({ clip: 0 })).toThrow(/attribute 'clip' must be positive \(Infinity: none\), got 0/);
      expect(() => run({ step: 0 })).toThrow(/attribute 'step' must be an integer >= 1, got 0/);
      expect(() => run({}, { ...inputs, g2: vars[1]![3]! })).toThrow(/input 'g2' must have shape \[5\], got \[4096\]/);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose(vars.flat());
    });

    it('TensorizedRowMask keeps the rows where the mask is not 0 and zeros the others, as tf.where would (NaN and infinities in zeroed rows, a mask with and without its trailing 1)', async () => {
      await start(4);
      const before = tf.memory().numTensors;
      const buffers = tf.backend().numDataIds();
      for (const [shape, maskShape] of [
        [
          [3, 5, 7],
          [3, 5],
        ],
        [
          [3, 5, 8],
          [3, 5, 1],
        ],
        [[6, 1], [6]],
      ] as const) {
        tf.tidy(() => {
          const n = (shape as readonly number[]).reduce((p, q) => p * q, 1);
          const rows = n / shape[shape.length - 1]!;
          const xv = Float32Array.from(values(n, 101));
          xv[0] = Number.NaN;
          xv[shape[shape.length - 1]!] = Number.POSITIVE_INFINITY;
          const mv = Float32Array.from({ length: rows }, (_, r) => (r % 3 === 0 ? 0 : r % 3 === 1 ? 1 : 0.5));
          mv[1] = -0;
          const x = tf.tensor(xv, [...shape]);
          const mask = tf.tensor(mv, [...maskShape]);
          const [out] = tf.engine().runKernel(FUSED_KERNELS.rowMask, { x, mask }, {}) as tf.Tensor[];
          expect(out!.shape).toEqual([...shape]);
          const keep = tf.broadcastTo(tf.notEqual(tf.reshape(mask, [...shape.slice(0, -1), 1]), 0), [...shape]);
          const want = tf.where(keep, x, tf.zerosLike(x));
          const [g, w] = [out!.dataSync(), want.dataSync()];
          for (let i = 0; i < n; i++)
            expect(Object.is(g[i], w[i]), `${shape} [${i}]: ${g[i]} against ${w[i]}`).toBe(true);
        });
      }
      const run = (inputs: tf.NamedTensorMap) => tf.engine().runKernel(FUSED_KERNELS.rowMask, inputs, {});
      tf.tidy(() => {
        expect(() => run({ x: tf.zeros([2, 3]) })).toThrow(/inputs 'x' and 'mask' are required/);
        expect(() => run({ x: tf.zeros([2, 3]), mask: tf.zeros([3]) })).toThrow(
          /input 'mask' must have x's shape without its last axis \(\[2\], or with a last axis of 1\), got \[3\] for x of shape \[2, 3\]/,
        );
        expect(() => run({ x: tf.zeros([2, 3]), mask: tf.zeros([2], 'int32') })).toThrow(
          /input 'mask' must be float32, got int32/,
        );
      });
      expect(tf.memory().numTensors).toBe(before);
      expect(tf.backend().numDataIds()).toBe(buffers);
    });

    it('every kernel is registered', async () => {
      await start(4);
      for (const name of Object.values(FUSED_KERNELS)) expect(tf.getKernel(name, backend)).toBeDefined();
    });

    it('bad inputs are named', async () => {
      await start(4);
      const before = tf.memory().numTensors;
      tf.tidy(() => {
        const a = tf.zeros([2, 1, 6]);
        const h = tf.zeros([1, 2]);
        const bU = tf.zeros([6]);
        const run = (inputs: tf.NamedTensorMap, attrs: object) =>
          tf.engine().runKernel(FUSED_KERNELS.gruStep, inputs, attrs as never);
        expect(() => run({ a, uh: tf.zeros([1, 5]), bU, h }, { t: 0, gate: 'sigmoid', record: false })).toThrow(
          /input 'uh' must have shape \[1, 6\], got \[1, 5\]/,
        );
        expect(() => run({ a, uh: tf.zeros([1, 6]), bU, h }, { t: 2, gate: 'sigmoid', record: false })).toThrow(
          /attribute 't' must be in \[0, 2\), got 2/,
        );
        expect(() =>
          run({ a, uh: tf.zeros([1, 6], 'int32'), bU, h }, { t: 0, gate: 'sigmoid', record: false }),
        ).toThrow(/input 'uh' must be float32, got int32/);
        expect(() =>
          run({ a, uh: tf.zeros([1, 6]), bU, h }, { t: 0, gate: 'sigmoid', record: false, flipped: true }),
        ).toThrow(/input 'uh' must have shape \[6, 1\], got \[1, 6\]/);
        expect(() =>
          run({ a, uh: tf.zeros([1, 6]), bU, h }, { t: 0, gate: 'sigmoid', record: false, flipped: 1 }),
        ).toThrow(/attribute 'flipped' must be a boolean, got 1/);
        const uh = tf.zeros([1, 6]);
        expect(() => run({ a, uh, bU, h }, { t: 0, gate: 'sigmoid', record: false, stacks: true })).toThrow(
          /attribute 'stacks' needs 'record'/,
        );
        expect(() => run({ a, uh, bU, h }, { t: 1, gate: 'sigmoid', record: true, stacks: true })).toThrow(
          /with 'stacks', input 'hs' is needed after the first step/,
        );
        expect(() =>
          run({ a, uh, bU, h, hs: tf.zeros([2, 1, 2]) }, { t: 0, gate: 'sigmoid', record: true, stacks: true }),
        ).toThrow(/input 'hs' is allocated by the first step, got one/);
        expect(() =>
          run(
            { a, uh, bU, h, hs: tf.zeros([2, 1, 2]), kept: tf.zeros([4, 2, 1, 3]), out: tf.zeros([2, 1, 2]) },
            { t: 1, gate: 'sigmoid', record: true, stacks: true },
          ),
        ).toThrow(/input 'kept' must have shape \[4, 2, 1, 2\], got \[4, 2, 1, 3\]/);
        const dy = tf.zeros([2, 1, 2]);
        const grad = (inputs: tf.NamedTensorMap, t: number) =>
          tf.engine().runKernel(FUSED_KERNELS.gruStepGrad, inputs, { t, gate: 'sigmoid', stacks: true } as never);
        const hs = tf.zeros([2, 1, 2]);
        const kept = tf.zeros([4, 2, 1, 2]);
        expect(() => grad({ dy, h: hs, kept }, 1)).toThrow(/with 'stacks', input 'h' comes in 'hs' or 'kept'/);
        expect(() => grad({ dy, hs, kept, carry: h, gi: h }, 0)).toThrow(
          /with 'stacks', input 'dA' is needed after the first call/,
        );
        expect(() => grad({ dy, hs, kept, dA: tf.zeros([2, 1, 6]) }, 1)).toThrow(
          /input 'dA' is allocated by the first call \(t = T - 1\), got one/,
        );
        const gradInto = (inputs: tf.NamedTensorMap, t: number, stacks = true) =>
          tf.engine().runKernel(FUSED_KERNELS.gruStepGrad, inputs, {
            t,
            gate: 'sigmoid',
            stacks,
            dUStack: true,
          } as never);
        expect(() => gradInto({ dy, h: hs, r: hs, z: hs, n: hs, un: hs }, 1, false)).toThrow(
          /attribute 'dUStack' needs 'stacks'/,
        );
        expect(() => gradInto({ dy, hs, kept, dU: tf.zeros([2, 1, 6]) }, 1)).toThrow(
          /input 'dU' is allocated by the first call \(t = T - 1\), got one/,
        );
        expect(() => gradInto({ dy, hs, kept, carry: h, gi: h, dA: tf.zeros([2, 1, 6]) }, 0)).toThrow(
          /with 'dUStack', input 'dU' is needed after the first call/,
        );
        expect(() =>
          gradInto({ dy, hs, kept, carry: h, gi: h, dA: tf.zeros([2, 1, 6]), dU: tf.zeros([2, 1, 5]) }, 0),
        ).toThrow(/input 'dU' must have shape \[2, 1, 6\], got \[2, 1, 5\]/);
        const kr = (inputs: tf.NamedTensorMap) => tf.engine().runKernel(FUSED_KERNELS.khatriRao, inputs, {});
        expect(() => kr({ a: tf.zeros([2, 3]), b: tf.zeros([4, 5]) })).toThrow(
          /inputs 'a' and 'b' must have the same number of columns, got 3 and 5/,
        );
        expect(() => kr({ a: tf.zeros([2, 3, 1]), b: tf.zeros([4, 3]) })).toThrow(
          /input 'a' must be a matrix, got shape \[2, 3, 1\]/,
        );
        expect(() =>
          tf
            .engine()
            .runKernel(
              FUSED_KERNELS.khatriRaoGrad,
              { dy: tf.zeros([7, 3]), a: tf.zeros([2, 3]), b: tf.zeros([4, 3]) },
              {},
            ),
        ).toThrow(/input 'dy' must have shape \[8, 3\], got \[7, 3\]/);
        const bce = (inputs: tf.NamedTensorMap) => tf.engine().runKernel(FUSED_KERNELS.sigmoidCrossEntropy, inputs, {});
        expect(() => bce({ z: tf.zeros([2, 3]), y: tf.zeros([2, 4]) })).toThrow(
          /TensorizedSigmoidCrossEntropy: input 'y' must have shape \[2, 3\], got \[2, 4\]/,
        );
        expect(() => bce({ z: tf.zeros([2, 3]), y: tf.zeros([2, 3]), mask: tf.zeros([3]) })).toThrow(
          /input 'mask' must have shape \[2\], got \[3\]/,
        );
        expect(() => bce({ z: tf.zeros([6]), y: tf.zeros([6]) })).toThrow(
          /input 'z' must be a matrix \(N, K\), got shape \[6\]/,
        );
        expect(() =>
          tf
            .engine()
            .runKernel(
              FUSED_KERNELS.sigmoidCrossEntropyGrad,
              { dy: tf.zeros([3]), z: tf.zeros([2, 3]), y: tf.zeros([2, 3]) },
              {},
            ),
        ).toThrow(/input 'dy' must have shape \[2\], got \[3\]/);
        const drop = (attrs: object) =>
          tf.engine().runKernel(FUSED_KERNELS.dropout, { x: tf.zeros([3]) }, attrs as never);
        expect(() => drop({ rate: 1, seed: 1 })).toThrow(
          /TensorizedDropout: attribute 'rate' must be in \[0, 1\), got 1/,
        );
        expect(() => drop({ rate: 0.2, seed: 0.5 })).toThrow(/attribute 'seed' must be an integer, got 0.5/);
        expect(() =>
          tf.engine().runKernel(FUSED_KERNELS.dropout, { x: tf.zeros([3], 'int32') }, { rate: 0.2, seed: 1 } as never),
        ).toThrow(/input 'x' must be float32, got int32/);
        const w = tf.zeros([3]);
        const adamAttrs = { lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, step: 0, scale: 1 };
        expect(() => tf.engine().runKernel(FUSED_KERNELS.adam, { w, m: w, v: w, g: w }, adamAttrs as never)).toThrow(
          /attribute 'step' must be an integer >= 1, got 0/,
        );
      });
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('the WebAssembly kernels', () => {
  it('src/kernels_wasm.generated.ts is what wasm/kernels.ts compiles to (no data section)', () => {
    const script = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'build-wasm.mjs');
    const out = execFileSync(process.execPath, [script, '--check'], { encoding: 'utf8', timeout: 120_000 });
    expect(out).toMatch(/is up to date/);
  });

  it('refuses a switch that is not a boolean', () => {
    expect(() => setNativeWasmKernels('no' as never)).toThrow(/'on' must be a boolean, got no/);
  });
});
