// The bench model's LeakyReLU (apps/bench/src/leaky_relu.ts: x step(x, alpha), gradient dy
// step(x, alpha)) against tf.leakyRelu, forward and backward over the 960 x 256 input-layer values of
// a JSB batch (16 pieces, 60 steps), alternating in rounds, each keeping its fastest.
//
//   node apps/bench/scripts/leaky-relu-speed.mjs [backend=wasm] [rounds=7]
// Run from the repository root after `pnpm build`.
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
import { leakyRelu } from '../dist/leaky_relu.js';
import { msPerCall } from './timing.mjs';

const backend = process.argv[2] ?? 'wasm';
const rounds = Number(process.argv[3] ?? 7);
await useBackend(backend);
const x = tf.randomNormal([960, 256], 0, 1, 'float32', 1);
const dy = tf.randomNormal([960, 256], 0, 1, 'float32', 2);
const fwdBwd = (f) => () => {
  const { value, grads } = tf.valueAndGrads((v) => tf.sum(tf.mul(f(v), dy)))([x]);
  value.dataSync();
  tf.dispose([value, ...grads]);
};
const contenders = {
  'tf.leakyRelu': fwdBwd((v) => tf.leakyRelu(v, 0.1)),
  'x step(x, alpha)': fwdBwd((v) => leakyRelu(v, 0.1)),
};
const time = (f, n) => msPerCall(f, n, 3);
const best = Object.fromEntries(Object.keys(contenders).map((k) => [k, Infinity]));
for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(contenders)) best[k] = Math.min(best[k], time(f, 20));
console.log(`${backend}: LeakyReLU forward and backward over 960 x 256 values (with the product by dy and its sum), ms`);
console.log('| form | ms |');
console.log('| --- | ---: |');
for (const [k, ms] of Object.entries(best)) console.log(`| ${k} | ${ms.toFixed(3)} |`);
