import * as tf from '@tensorflow/tfjs-core';
import { useBackend } from '@tensorized/backends';
await useBackend('wasm');
const time = (f, n) => { for (let i = 0; i < 3; i++) tf.dispose(f()); const t0 = performance.now(); for (let i = 0; i < n; i++) tf.dispose(f()); return (performance.now() - t0) / n; };
const P = tf.randomNormal([960,80]), D = tf.randomNormal([960,1536]), PT = tf.transpose(P), DT = tf.transpose(D);
const KR = tf.randomNormal([80,1536]);
const c = {
 'PtD transA': () => tf.matMul(P, D, true, false),
 'PT D plain': () => tf.matMul(PT, D),
 'transpose+PT D': () => { const t = tf.transpose(P); const o = tf.matMul(t, D); t.dispose(); return o; },
 'DT P -> [1536,80]': () => tf.matMul(DT, P),
 'D^T P transA': () => tf.matMul(D, P, true, false),
 'P KR fwd': () => tf.matMul(P, KR),
 'D KR^T transB': () => tf.matMul(D, KR, false, true),
 'transpose D': () => tf.transpose(D),
};
const best = Object.fromEntries(Object.keys(c).map(k=>[k,Infinity]));
for (let r=0;r<7;r++) for (const k in c) best[k]=Math.min(best[k], time(c[k], 10));
for (const k in best) console.log(k.padEnd(20), best[k].toFixed(2),'ms');
