// Starts the wasm backend with 2 threads, computes on it and returns: the process must then exit
// (wasm_threads.test.ts runs it with a timeout). Imports the built package (run `pnpm build` first).
import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '../dist/index.js';

const info = await useBackend('wasm', { threads: 2 });
const y = tf.matMul(tf.ones([64, 512]), tf.fill([512, 1536], 1 / 512));
const sum = tf.sum(tf.slice(y, [0, 0], [1, -1])).dataSync()[0];
console.log(`threads ${info.threads}, sum ${Math.round(sum)}`);
