import * as tf from '@tensorflow/tfjs-core';
import {
  cpMatrix,
  cpMatrixToDense,
  MATMUL_PAIR_KERNEL,
  prepareMatmul,
  ttMatrix,
  ttMatrixToDense,
} from '@tensorized/decomp';
import type { StagedMatmul } from '@tensorized/decomp/stages';
import { describeEachBackend, expectClose, expectNoLeak } from '@tensorized/test-utils';
import { expect, it } from 'vitest';
import { createCell } from './cell.js';
import { flipsStepChain, flipsStepProduct, gruSequence, VIEW_KERNEL } from './gru_sequence.js';
import { paperCellConfig } from './presets.js';
import { GRU_KERNELS, hasFusedKernel } from './gru_step.js';

/** The GRU recurrence of PAPER.md step by step with plain ops, differentiated by TF.js itself. */
function reference(
  a: tf.Tensor3D,
  h0: tf.Tensor2D,
  bU: tf.Tensor1D,
  U: tf.Tensor2D,
  mask: tf.Tensor3D,
  gate: 'sigmoid' | 'hardSigmoid' = 'sigmoid',
  resetAfter = true,
): tf.Tensor3D {
  // hardSigmoid as TF.js and Keras define it.
  const act = (x: tf.Tensor): tf.Tensor =>
    gate === 'sigmoid' ? tf.sigmoid(x) : tf.clipByValue(tf.add(tf.mul(x, 0.2), 0.5), 0, 1);
  const H = h0.shape[1];
  const T = a.shape[0];
  let h = h0;
  const out: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    const at = tf.squeeze(tf.slice(a, [t, 0, 0], [1, -1, -1]), [0]) as tf.Tensor2D;
    const mt = tf.squeeze(tf.slice(mask, [t, 0, 0], [1, -1, -1]), [0]);
    const u = tf.add(tf.matMul(h, U), bU);
    const r = act(tf.add(tf.slice(at, [0, 0], [-1, H]), tf.slice(u, [0, 0], [-1, H])));
    const z = act(tf.add(tf.slice(at, [0, H], [-1, H]), tf.slice(u, [0, H], [-1, H])));
    // Reset gate after U: r (h U + b_U)_n; before it (TF.js, Keras 1): ((r h) U + b_U)_n.
    const recurrentN = resetAfter
      ? tf.mul(r, tf.slice(u, [0, 2 * H], [-1, H]))
      : tf.slice(tf.add(tf.matMul(tf.mul(r, h), U), bU), [0, 2 * H], [-1, H]);
    const n = tf.tanh(tf.add(tf.slice(at, [0, 2 * H], [-1, H]), recurrentN));
    const next = tf.add(tf.mul(tf.sub(1, z), n), tf.mul(z, h));
    h = tf.add(h, tf.mul(mt, tf.sub(next, h))) as tf.Tensor2D;
    out.push(h);
  }
  return tf.stack(out) as tf.Tensor3D;
}

/**
 * The fused recurrence (over the stages `prepare` makes from the factors xs[3..]) against the
 * step-by-step reference under autodiff: the loss sum(h * probe) and its gradients w.r.t. every
 * argument, without leaking. Both gate activations, each with the backend's fused step kernels
 * (registered by @tensorized/backends for cpu) and op by op; and both places of the reset gate (the
 * form with it before U has no step kernels).
 */
/**
 * gruSequence with the sequence kernels (one launch each way, the default) and with its steps launched
 * one by one (`sequenceKernel: false`): the same loss, gradients of all of `args` (a, h0, bU, then
 * the factors `prepare` takes) and states without a tape, bit for bit, on both weight-gradient
 * routes, both gates, time- and batch-major; nothing left behind.
 */
async function expectSequenceKernelMatchesSteps(
  args: tf.Tensor[],
  mask: tf.Tensor3D,
  probe: tf.Tensor,
  prepare: (factors: tf.Tensor[]) => StagedMatmul<tf.Tensor2D> & { dispose(): void },
): Promise<void> {
  const sequence = (xs: tf.Tensor[], options: Parameters<typeof gruSequence>[5] & { batchMajor: boolean }) => {
    const prepared = prepare(xs.slice(3));
    const a = (options.batchMajor ? tf.transpose(xs[0]!, [1, 0, 2]) : xs[0]) as tf.Tensor3D;
    const hs = gruSequence(a, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D, prepared, mask, options);
    prepared.dispose();
    return options.batchMajor ? tf.transpose(hs, [1, 0, 2]) : hs;
  };
  for (const weightGradient of ['stages', 'dense'] as const)
    for (const gate of ['sigmoid', 'hardSigmoid'] as const)
      for (const batchMajor of [false, true]) {
        const values = (sequenceKernel: boolean): number[][] =>
          tf.tidy(() => {
            const loss = (...xs: tf.Tensor[]): tf.Scalar =>
              tf.sum(tf.mul(sequence(xs, { sequenceKernel, weightGradient, gate, batchMajor }), probe));
            const r = tf.valueAndGrads(loss)(args);
            // Without a tape too: the states alone.
            const states = sequence(args, { sequenceKernel, gate, batchMajor });
            return [r.value, ...r.grads, states].map((g) => Array.from(g.dataSync()));
          });
        const whole = await expectNoLeak(() => values(true));
        expect(whole, `${weightGradient}, ${gate}, batchMajor ${batchMajor}`).toEqual(values(false));
      }
}

async function expectFusedMatchesReference(
  args: tf.Tensor[],
  mask: tf.Tensor3D,
  probe: tf.Tensor,
  prepare: (factors: tf.Tensor[]) => StagedMatmul<tf.Tensor2D> & { dispose(): void },
  dense: (factors: tf.Tensor[]) => tf.Tensor2D,
  weightGradient: 'stages' | 'dense',
): Promise<void> {
  const unpack = (xs: tf.Tensor[]) => [xs[0] as tf.Tensor3D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D] as const;
  for (const [gate, resetAfter] of [
    ['sigmoid', true],
    ['hardSigmoid', true],
    ['sigmoid', false],
    ['hardSigmoid', false],
  ] as const) {
    const refLoss = (...xs: tf.Tensor[]): tf.Scalar =>
      tf.sum(tf.mul(reference(...unpack(xs), dense(xs.slice(3)), mask, gate, resetAfter), probe));
    const ref = tf.valueAndGrads(refLoss)(args);
    // Time-major, and batch-major (a (B, T, 3H) in, (B, T, H) out: straight into the step kernels
    // where they run, else transposed around the op).
    for (const [fusedKernels, batchMajor] of (resetAfter ? [true, false] : [true]).flatMap((f) => [
      [f, false],
      [f, true],
    ])) {
      const run = (xs: tf.Tensor[], prepared: StagedMatmul<tf.Tensor2D>, weighted: boolean): tf.Tensor => {
        const [a, h0, bU] = unpack(xs);
        const options = { ...(weighted ? { weightGradient } : {}), gate, fusedKernels, resetAfter, batchMajor };
        if (!batchMajor) return gruSequence(a, h0, bU, prepared, mask, options);
        const hs = gruSequence(tf.transpose(a, [1, 0, 2]), h0, bU, prepared, mask, options);
        expect(hs.shape).toEqual([a.shape[1], a.shape[0], h0.shape[1]]);
        return tf.transpose(hs, [1, 0, 2]);
      };
      const fusedLoss = (...xs: tf.Tensor[]): tf.Scalar => {
        const prepared = prepare(xs.slice(3));
        const hs = run(xs, prepared, true);
        prepared.dispose();
        return tf.sum(tf.mul(hs, probe));
      };
      await expectNoLeak(() => {
        const fused = tf.valueAndGrads(fusedLoss)(args);
        expectClose(fused.value, ref.value.dataSync(), { rtol: 1e-4, atol: 1e-4 });
        expect(fused.grads.length).toBe(args.length);
        for (const [i, g] of fused.grads.entries())
          expectClose(g, ref.grads[i]!.dataSync(), { rtol: 1e-3, atol: 1e-4 });
        // Without a gradient tape the forward pass keeps nothing and gives the same states.
        tf.tidy(() => {
          const prepared = prepare(args.slice(3));
          const hs = run(args, prepared, false);
          expectClose(tf.sum(tf.mul(hs, probe)), ref.value.dataSync(), { rtol: 1e-4, atol: 1e-4 });
          prepared.dispose();
        });
        tf.dispose([fused.value, ...fused.grads]);
      });
    }
    tf.dispose([ref.value, ...ref.grads]);
  }
}

/** Hidden 8 = 2x2x2, U: 8 -> 24 = 2x2x6 (three gates folded into the last mode), ranks (1,3,2,1). */
const TT_CORE_SHAPES = [
  [1, 2, 2, 3],
  [3, 2, 2, 2],
  [2, 2, 6, 1],
];

describeEachBackend('gruSequence over TT stages', () => {
  it('every grouping of the cores, both weight-gradient routes: outputs and all gradients equal the step-by-step reference under autodiff', async () => {
    const cores = TT_CORE_SHAPES.map((s, i) => tf.randomNormal(s, 0, 0.4, 'float32', 10 + i));
    const [T, B] = [4, 3];
    const a = tf.randomNormal([T, B, 24], 0, 1, 'float32', 1) as tf.Tensor3D;
    const h0 = tf.randomNormal([B, 8], 0, 0.5, 'float32', 2) as tf.Tensor2D;
    const bU = tf.randomNormal([24], 0, 0.3, 'float32', 3) as tf.Tensor1D;
    const mask = tf.tensor3d([1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0], [T, B, 1]);
    const probe = tf.randomNormal([T, B, 8], 0, 1, 'float32', 4);
    const args = [a, h0, bU, ...cores];
    const tt = (xs: tf.Tensor[]) => ttMatrix(xs, { checkFinite: false });
    for (const groups of [
      [1, 1, 1],
      [2, 1],
      [1, 2],
    ]) {
      for (const weightGradient of ['stages', 'dense'] as const) {
        await expectFusedMatchesReference(
          args,
          mask,
          probe,
          (xs) => prepareMatmul(tt(xs), 'factorised', { groups }),
          (xs) => ttMatrixToDense(tt(xs)),
          weightGradient,
        );
      }
    }
    tf.dispose([...args, mask, probe]);
  });

  it('with many rows per step (batch 48), the stage weight gradients are formed step by step and summed, and equal the reference', async () => {
    const cores = TT_CORE_SHAPES.map((s, i) => tf.randomNormal(s, 0, 0.4, 'float32', 20 + i));
    // Every stage's per-step input then has 96 or 192 rows (at least 64: Layout.perStep).
    const [T, B] = [3, 48];
    const a = tf.randomNormal([T, B, 24], 0, 1, 'float32', 5) as tf.Tensor3D;
    const h0 = tf.randomNormal([B, 8], 0, 0.5, 'float32', 6) as tf.Tensor2D;
    const bU = tf.randomNormal([24], 0, 0.3, 'float32', 7) as tf.Tensor1D;
    const mask = tf.tidy(() =>
      tf.cast(tf.greater(tf.randomUniform([T, B, 1], 0, 1, 'float32', 8), 0.2), 'float32'),
    ) as tf.Tensor3D;
    const probe = tf.randomNormal([T, B, 8], 0, 1, 'float32', 9);
    const args = [a, h0, bU, ...cores];
    const tt = (xs: tf.Tensor[]) => ttMatrix(xs, { checkFinite: false });
    for (const groups of [
      [1, 1, 1],
      [2, 1],
      [1, 2],
    ]) {
      const prepare = (xs: tf.Tensor[]) => prepareMatmul(tt(xs), 'factorised', { groups });
      await expectFusedMatchesReference(args, mask, probe, prepare, (xs) => ttMatrixToDense(tt(xs)), 'stages');
      // The per-step shares summed: one AddN per stage (none on the stacked route); with the staged
      // sequence kernels (the default where the backend has them), inside their backward launch.
      const staged = hasFusedKernel(GRU_KERNELS.stagedSequenceGrad);
      for (const sequenceKernel of [true, false]) {
        const info = await tf.profile(() => {
          tf.tidy(() => {
            tf.grads((...xs: tf.Tensor[]) => {
              const prepared = prepare(xs.slice(3));
              const hs = gruSequence(xs[0] as tf.Tensor3D, xs[1] as tf.Tensor2D, xs[2] as tf.Tensor1D, prepared, mask, {
                weightGradient: 'stages',
                sequenceKernel,
              });
              prepared.dispose();
              return tf.sum(tf.mul(hs, probe));
            })(args);
          });
        });
        const whole = staged && sequenceKernel;
        expect(info.kernels.filter((k) => k.name === 'AddN')).toHaveLength(whole ? 0 : groups.length);
        expect(info.kernels.filter((k) => k.name === GRU_KERNELS.stagedSequenceGrad)).toHaveLength(whole ? 1 : 0);
        expect(info.kernels.filter((k) => k.name === GRU_KERNELS.step)).toHaveLength(whole ? 0 : T);
      }
      await expectSequenceKernelMatchesSteps(args, mask, probe, prepare);
    }
    tf.dispose([...args, mask, probe]);
  });

  it('at batch 1 without a gradient tape (two merged cores: the transpose-free batch-1 product), the states equal the reference', async () => {
    const cores = TT_CORE_SHAPES.map((s, i) => tf.randomNormal(s, 0, 0.4, 'float32', 30 + i));
    const T = 5;
    const a = tf.randomNormal([T, 1, 24], 0, 1, 'float32', 5) as tf.Tensor3D;
    const h0 = tf.randomNormal([1, 8], 0, 0.5, 'float32', 6) as tf.Tensor2D;
    const bU = tf.randomNormal([24], 0, 0.3, 'float32', 7) as tf.Tensor1D;
    const mask = tf.ones([T, 1, 1]) as tf.Tensor3D;
    const w = ttMatrix(cores, { checkFinite: false });
    const dense = ttMatrixToDense(w);
    const expected = reference(a, h0, bU, dense, mask);
    for (const groups of [
      [2, 1],
      [1, 2],
    ]) {
      await expectNoLeak(() => {
        const prepared = prepareMatmul(w, 'factorised', { groups });
        expect(prepared.batchOne).toBeDefined();
        for (const fusedKernels of [true, false]) {
          tf.tidy(() =>
            expectClose(gruSequence(a, h0, bU, prepared, undefined, { fusedKernels }), expected.dataSync()),
          );
        }
        prepared.dispose();
      });
    }
    tf.dispose([...cores, a, h0, bU, mask, dense, expected]);
  });

  it('CP factors (a chain of two plain matrices), both weight-gradient routes, equal the reference; a dense route over views it cannot invert is refused', async () => {
    // Hidden 6 = 2x3, U: 6 -> 18 = 2x9, rank 4.
    const factors = [
      [2, 4],
      [3, 4],
      [2, 4],
      [9, 4],
    ].map((s, i) => tf.randomNormal(s, 0, 0.4, 'float32', 20 + i));
    const [T, B] = [3, 2];
    const a = tf.randomNormal([T, B, 18], 0, 1, 'float32', 5) as tf.Tensor3D;
    const h0 = tf.randomNormal([B, 6], 0, 0.5, 'float32', 6) as tf.Tensor2D;
    const bU = tf.randomNormal([18], 0, 0.3, 'float32', 7) as tf.Tensor1D;
    const mask = tf.tensor3d([1, 1, 1, 0, 1, 1], [T, B, 1]);
    const probe = tf.randomNormal([T, B, 6], 0, 1, 'float32', 8);
    const args = [a, h0, bU, ...factors];
    const cp = (xs: tf.Tensor[]) => cpMatrix(xs.slice(0, 2), xs.slice(2, 4), undefined, { checkFinite: false });
    for (const weightGradient of ['stages', 'dense'] as const) {
      await expectFusedMatchesReference(
        args,
        mask,
        probe,
        (xs) => prepareMatmul(cp(xs), 'factorised'),
        (xs) => cpMatrixToDense(cp(xs)),
        weightGradient,
      );
    }
    const U = tf.randomNormal([3, 9], 0, 1, 'float32', 9);
    const viewed = {
      stages: [{ view: [{ reshape: [-1, 3] }], matrix: U as tf.Tensor2D }],
      outView: [{ reshape: [-1, 18] }],
    };
    expect(() => gruSequence(a, h0, bU, viewed, undefined, { weightGradient: 'dense' })).toThrow(
      /weightGradient 'dense' needs TT stages/,
    );
    tf.dispose([...args, mask, probe, U]);
  });
});

describeEachBackend('a large plain U at batch 8 (flipped per-step products on wasm)', (ctx) => {
  // One matrix (dense, rebuilt), and two factors (CP's and Tucker's bottleneck): 256 x 128 and
  // 128 x 768, 2^17 values together.
  it.each([[[]], [[128]]])(
    'flips where the rule says, and outputs and all gradients equal the reference (both routes, both gates, masked; inner sizes %j)',
    async (inner: number[]) => {
      const wasm = ctx.info.name === 'wasm';
      // The rule (see flipsStepProduct): wasm, batch 8 or more, U of 2^17 values or more.
      expect(flipsStepProduct(8, 256, 768)).toBe(wasm);
      expect(flipsStepProduct(16, 512, 1536)).toBe(wasm);
      expect(flipsStepProduct(7, 256, 768)).toBe(false);
      expect(flipsStepProduct(16, 128, 384)).toBe(false);
      expect(
        flipsStepChain(8, [
          [256, 128],
          [128, 768],
        ]),
      ).toBe(wasm);
      expect(
        flipsStepChain(16, [
          [512, 20],
          [20, 1536],
        ]),
      ).toBe(false);
      const [T, B, H] = [3, 8, 256];
      const sizes = [H, ...inner, 3 * H];
      const factors = sizes
        .slice(1)
        .map((n, i) => tf.randomNormal([sizes[i]!, n], 0, 1 / Math.sqrt(sizes[i]!), 'float32', 30 + i));
      const a = tf.randomNormal([T, B, 3 * H], 0, 1, 'float32', 35) as tf.Tensor3D;
      const h0 = tf.randomNormal([B, H], 0, 0.5, 'float32', 36) as tf.Tensor2D;
      const bU = tf.randomNormal([3 * H], 0, 0.3, 'float32', 37) as tf.Tensor1D;
      const mask = tf.tensor3d(
        Array.from({ length: T * B }, (_, i) => (i % 5 === 4 ? 0 : 1)),
        [T, B, 1],
      );
      const probe = tf.randomNormal([T, B, H], 0, 1, 'float32', 38);
      const plain = (xs: tf.Tensor[]) => ({
        stages: xs.map((x) => ({ view: [], matrix: x as tf.Tensor2D })),
        outView: [],
        dispose() {},
      });
      const product = (xs: tf.Tensor[]): tf.Tensor2D =>
        xs.slice(1).reduce<tf.Tensor2D>((p, x) => tf.matMul(p, x as tf.Tensor2D), xs[0] as tf.Tensor2D);
      // The products run flipped where the rule says: the last one U^T.. (3H x n) times (n x B), or
      // both in one launch; with the sequence kernel (the default), every step in one launch.
      const launches = async (sequenceKernel: boolean) =>
        (
          await tf.profile(() => {
            const hs = gruSequence(a, h0, bU, plain(factors), mask, { sequenceKernel });
            hs.dispose();
          })
        ).kernels;
      const whole = await launches(true);
      expect(whole.filter((k) => k.name === 'TensorizedGruSequence').length).toBe(wasm ? 1 : 0);
      if (wasm)
        expect(
          whole.filter((k) => ['BatchMatMul', 'TensorizedMatMulPair', 'TensorizedGruStep'].includes(k.name)),
        ).toEqual([]);
      const info = { kernels: await launches(false) };
      const flippedProducts = info.kernels.filter(
        (k) =>
          k.name === 'BatchMatMul' &&
          String(k.inputShapes) ===
            String([
              [3 * H, sizes.at(-2)!],
              [sizes.at(-2)!, B],
            ]),
      );
      // Through two factors, both products of a step are one TensorizedMatMulPair launch.
      const pairs = info.kernels.filter((k) => k.name === 'TensorizedMatMulPair').length;
      expect(flippedProducts.length).toBe(wasm && inner.length === 0 ? T : 0);
      expect(pairs).toBe(wasm && inner.length === 1 ? T : 0);
      for (const weightGradient of ['stages', 'dense'] as const)
        await expectFusedMatchesReference([a, h0, bU, ...factors], mask, probe, plain, product, weightGradient);
      await expectSequenceKernelMatchesSteps([a, h0, bU, ...factors], mask, probe, plain);
      tf.dispose([...factors, a, h0, bU, mask, probe]);
    },
  );
});

describeEachBackend('the fused GRU step kernels', (ctx) => {
  it('are registered by @tensorized/backends under the names cells runs (both, for cpu and for wasm)', async () => {
    const backends = await import('@tensorized/backends');
    const { FUSED_KERNELS } = backends;
    expect(GRU_KERNELS).toEqual({
      step: FUSED_KERNELS.gruStep,
      stepGrad: FUSED_KERNELS.gruStepGrad,
      sequence: FUSED_KERNELS.gruSequence,
      sequenceGrad: FUSED_KERNELS.gruSequenceGrad,
      stagedSequence: FUSED_KERNELS.gruStagedSequence,
      stagedSequenceGrad: FUSED_KERNELS.gruStagedSequenceGrad,
    });
    // The padding mask's kernel (src/cell.ts).
    const { ROW_MASK_KERNEL } = await import('./cell.js');
    expect(ROW_MASK_KERNEL).toBe(FUSED_KERNELS.rowMask);
    // And the Khatri-Rao kernels that @tensorized/decomp's CP and BT preparations run.
    const { KHATRI_RAO_KERNELS } = await import('@tensorized/decomp/stages');
    expect(KHATRI_RAO_KERNELS).toEqual({ forward: FUSED_KERNELS.khatriRao, gradient: FUSED_KERNELS.khatriRaoGrad });
    // The cost model counts A^T B as the wasm backend computes it: directly, and through panels of
    // B, up to the same sizes.
    const costModel = await import('@tensorized/decomp/stages');
    for (const name of ['TN_DIRECT_MAX', 'TN_PACKED_MAX', 'TN_PANELS_MIN_COLS', 'TN_PANELS_MIN_ROWS'] as const)
      expect(costModel[name], name).toBe(backends[name]);
    // The layout change in one launch that the recurrence's views run (src/view.ts there).
    expect(VIEW_KERNEL).toBe(FUSED_KERNELS.view);
    // On wasm they run compiled into WebAssembly (see @tensorized/backends' fused_kernels.ts).
    const fused = ctx.info.name === 'cpu' || ctx.info.name === 'wasm';
    expect(hasFusedKernel(VIEW_KERNEL)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.step)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.stepGrad)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.sequence)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.sequenceGrad)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.stagedSequence)).toBe(fused);
    expect(hasFusedKernel(GRU_KERNELS.stagedSequenceGrad)).toBe(fused);
  });
});

describeEachBackend('inference at batch 1 through a prepared TT-matrix', () => {
  it('a two-core TT U runs as one TensorizedMatMulPair per step where the backend has it, with the op-by-op outputs bit for bit', async () => {
    const cell = createCell(paperCellConfig('tt-gru', { seed: 4 }));
    const x = tf.randomNormal([1, 5, 256], 0, 1, 'float32', 9) as tf.Tensor3D;
    const kernel = tf.getKernel(MATMUL_PAIR_KERNEL, tf.getBackend());
    if (['cpu', 'wasm'].includes(tf.getBackend())) expect(kernel).toBeDefined();
    const prof = await tf.profile(() => cell.run(x).outputs);
    const pairs = prof.kernels.filter((k) => k.name === MATMUL_PAIR_KERNEL).length;
    // As cell.run prepares U: a two-core batch-1 form where the planner merged the cores in two groups.
    const prepared = cell.U.prepare(1, 5);
    const twoCores = (prepared as { batchOne?: unknown }).batchOne !== undefined;
    prepared.dispose();
    // The paper's ranks at batch 1: the planner merges the four cores into two (2 + 2) on wasm.
    if (tf.getBackend() === 'wasm') expect(twoCores).toBe(true);
    expect(pairs).toBe(kernel && twoCores ? 5 : 0);
    const fast = prof.result as tf.Tensor;
    if (kernel) {
      tf.unregisterKernel(MATMUL_PAIR_KERNEL, tf.getBackend());
      try {
        const ops = await expectNoLeak(() => tf.tidy(() => cell.run(x).outputs), 1);
        expect(Array.from(fast.dataSync())).toEqual(Array.from(ops.dataSync()));
        ops.dispose();
      } finally {
        tf.registerKernel(kernel);
      }
    }
    tf.dispose([fast, x]);
    cell.dispose();
  });
});
