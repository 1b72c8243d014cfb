// The bench model's input layer, LeakyReLU(a W + b) over a JSB batch (16 pieces, 60 steps: a 960 x 88,
// W 88 x 256), forward and backward, three ways, alternating in rounds, each keeping its fastest:
// TF.js ops one by one (matMul, add, leakyRelu); the model's form until 2026-12-06 (matMul, then
// @tensorized/decomp's addBias and x step(x, alpha) with the gradient dy step(x, alpha), each a
// custom gradient); and the model's form now, matMulBias(a, W, b, alpha): one _FusedMatMul forward.
//
//   node apps/bench/scripts/dense-layer-speed.mjs [backend=wasm] [rounds=7]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { addBias, matMulBias } from '@tensorized/decomp/stages';
import { msPerCall } from './timing.mjs';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 7);
await useBackend(backend);
const alpha = 0.1;
const a = tf.randomNormal([960, 88], 0, 1, 'float32', 1);
const w = tf.randomNormal([88, 256], 0, 0.1, 'float32', 2);
const b = tf.randomNormal([256], 0, 0.1, 'float32', 3);
const dy = tf.randomNormal([960, 256], 0, 1, 'float32', 4);
const stepLeaky = (x) =>
  tf.customGrad((input, save) => {
    const slope = tf.step(input, alpha);
    save([slope]);
    return { value: tf.mul(input, slope), gradFunc: (g, [s]) => tf.mul(g, s) };
  })(x);
const fwdBwd = (f) => () => {
  const { value, grads } = tf.valueAndGrads((x, v, c) => tf.sum(tf.mul(f(x, v, c), dy)))([a, w, b]);
  value.dataSync();
  tf.dispose([value, ...grads]);
};
const contenders = {
  'tf ops (matMul, add, leakyRelu)': fwdBwd((x, v, c) => tf.leakyRelu(tf.add(tf.matMul(x, v), c), alpha)),
  'matMul, addBias, x step(x, alpha)': fwdBwd((x, v, c) => stepLeaky(addBias(tf.matMul(x, v), c))),
  'matMulBias(a, W, b, alpha)': fwdBwd((x, v, c) => matMulBias(x, v, c, alpha)),
};
const time = (f, n) => msPerCall(f, n, 3);
const best = Object.fromEntries(Object.keys(contenders).map((k) => [k, Infinity]));
for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(contenders)) best[k] = Math.min(best[k], time(f, 20));
console.log(`${backend}: LeakyReLU(a W + b), a 960 x 88, W 88 x 256, forward and backward (with the product by dy and its sum), ms`);
console.log('| form | ms |');
console.log('| --- | ---: |');
for (const [k, ms] of Object.entries(best)) console.log(`| ${k} | ${ms.toFixed(3)} |`);
