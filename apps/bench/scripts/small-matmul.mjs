// us per tf.matMul (and tf.fused.matMul with a bias and leakyrelu) on wasm for the small products of
// the models, with @tensorized/backends' WebAssembly SIMD matmul (smallMatMulKernel) and with
// XNNPACK's kernel (the native kernels switched off), in alternating rounds, the fastest of each kept.
// Also checks that the two agree bit for bit. Many rows by a larger right-hand side go through panels
// of B (matmulPacked). The weight gradients A^T B summed over a batch's rows (matmulTN, up to
// TN_DIRECT_MAX result values, matmulTNPacked up to TN_PACKED_MAX) are measured against the
// transpose and XNNPACK.
//
//   node apps/bench/scripts/small-matmul.mjs [rounds=15]     (from the repository root, after pnpm build)
import * as tf from '@tensorflow/tfjs-core';
import { setNativeWasmKernels, useBackend } from '@tensorized/backends';

const rounds = Number(process.argv[2] ?? 15);
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`small-matmul: rounds must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}
const info = await useBackend('wasm');
// [M, K, N, what it is]
const SHAPES = [
  [1, 16, 16, 'tiny'],
  [1, 88, 256, 'input layer, batch 1'],
  [1, 512, 88, 'output layer, batch 1'],
  [256, 16, 16, 'TT core (2+2) at batch 1'],
  [32, 128, 48, 'TT core (2+2) at batch 1'],
  [1, 512, 80, 'CP factor, batch 1'],
  [1, 80, 1536, 'CP factor, batch 1 (few rows: any width)'],
  [1, 512, 1536, 'dense U, batch 1 (fewer than 4 rows, wide: any size)'],
  [16, 512, 80, 'CP factor, batch 16'],
  [16, 80, 1536, 'CP factor, batch 16 (wide: XNNPACK kept)'],
  [1024, 88, 256, 'input layer, batch 16 x 64'],
  [960, 80, 1536, "CP-GRU's W over a batch (panels of B)"],
  [960, 256, 1536, "the dense W over a batch (panels of B)"],
  [960, 1536, 256, "the dense W's input gradient dY W^T (panels of B)"],
  [1024, 1024, 1024, "speed epoch's FLOP-floor product (panels of B)"],
];
const reps = (m, k, n) => Math.max(10, Math.min(300, Math.round(4e6 / (m * k * n))));
const best = new Map();
const cases = [
  ...SHAPES.flatMap(([m, k, n, what]) => [
    { m, k, n, what, fused: false },
    ...(m === 1 ? [{ m, k, n, what, fused: true }] : []),
  ]),
  // A right-hand side seen for the first time (a factor rebuilt for every batch of sequences), copied
  // afresh before each product (the copy, an Add, is in both figures).
  { m: 1, k: 80, n: 1536, what: 'CP factor, batch 1, fresh right-hand side', fused: false, fresh: true },
  { m: 16, k: 80, n: 1536, what: 'CP factor, batch 16, fresh right-hand side (XNNPACK kept)', fused: false, fresh: true },
  { m: 1, k: 512, n: 1024, what: "tf.layers.gru's recurrent kernel sliced at every step, fresh right-hand side", fused: false, fresh: true },
  // A^T B for A (k x m), B (k x n): weight gradients over B x T = 1024 or 2048 rows.
  { m: 50, k: 1024, n: 1536, what: "a CP factor's gradient (A^T B)", fused: false, ta: true },
  { m: 160, k: 1024, n: 1536, what: 'A^T B, 246K result values', fused: false, ta: true },
  { m: 176, k: 2048, n: 48, what: "a TT stage's gradient (A^T B)", fused: false, ta: true },
  { m: 256, k: 784, n: 1536, what: "the dense W's gradient (A^T B; over TN_DIRECT_MAX: panels of B)", fused: false, ta: true },
  { m: 512, k: 960, n: 1536, what: "the dense U's gradient (A^T B; panels of B)", fused: false, ta: true },
];
const tensors = cases.map(({ m, k, n, ta }) => ({
  a: tf.randomNormal(ta ? [k, m] : [m, k], 0, 1, 'float32', 1),
  b: tf.randomNormal([k, n], 0, 1, 'float32', 2),
  bias: tf.randomNormal([n], 0, 1, 'float32', 3),
}));
const run = (c, t) =>
  c.ta
    ? tf.matMul(t.a, t.b, true, false)
    : c.fresh
    ? tf.tidy(() => tf.matMul(t.a, tf.add(t.b, 0)))
    : c.fused ? tf.fused.matMul({ a: t.a, b: t.b, bias: t.bias, activation: 'leakyrelu', leakyreluAlpha: 0.1 }) : tf.matMul(t.a, t.b);
let mismatches = 0;
// The two kernels alternate product by product (not round by round): this machine's noise comes in
// bursts of seconds, which would otherwise fall on one kernel's whole round.
for (let round = 0; round < rounds; round++) {
  cases.forEach((c, i) => {
    const t = tensors[i];
    const n = reps(c.m, c.k, c.n);
    for (const native of [true, false]) {
      setNativeWasmKernels(native);
      tf.dispose(run(c, t)); // warm-up
      const t0 = performance.now();
      for (let r = 0; r < n; r++) {
        const y = run(c, t);
        y.dataSync();
        y.dispose();
      }
      const us = ((performance.now() - t0) / n) * 1000;
      const key = `${i}|${native}`;
      best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, us));
    }
  });
}
setNativeWasmKernels(true);
// Bit equality, where the fused epilogue is not involved (XNNPACK starts its fused sums from the bias).
cases.forEach((c, i) => {
  if (c.fused) return;
  const ours = run(c, tensors[i]).dataSync();
  setNativeWasmKernels(false);
  const theirs = run(c, tensors[i]).dataSync();
  setNativeWasmKernels(true);
  if (ours.some((v, j) => !Object.is(v, theirs[j]))) mismatches++;
});
console.log(`backend: wasm (SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread); fastest of ${rounds} rounds, the two kernels alternating product by product; each call includes reading the result back`);
console.log('');
console.log('| product (M x K by K x N) | what | ours us | XNNPACK us | ours / XNNPACK |');
console.log('| --- | --- | ---: | ---: | ---: |');
cases.forEach((c, i) => {
  const [o, x] = [best.get(`${i}|true`), best.get(`${i}|false`)];
  const label = c.ta
    ? `${c.k} x ${c.m} ^T by ${c.k} x ${c.n}`
    : `${c.m} x ${c.k} by ${c.k} x ${c.n}${c.fused ? ', fused bias + leakyrelu' : ''}`;
  console.log(`| ${label} | ${c.what} | ${o.toFixed(1)} | ${x.toFixed(1)} | ${(o / x).toFixed(2)}x |`);
});
console.log('');
console.log(`results of the plain products equal bit for bit: ${mismatches === 0 ? 'yes' : `no (${mismatches} shapes differ)`}`);
tf.dispose(tensors.flatMap((t) => [t.a, t.b, t.bias]));
