import { useBackend } from '@tensorized/backends';
import * as tf from '@tensorflow/tfjs-core';
import { createCell, paperCellConfig } from '@tensorized/cells';
await useBackend(process.argv[2] ?? 'wasm');
const cell = createCell(paperCellConfig('gru', { seed: 1 }));
const x16 = tf.randomNormal([16, 64, 256]);
const probe = tf.randomNormal([16, 64, 512]);
const t = (name, f, n=3) => { f(); const t0 = performance.now(); for (let i=0;i<n;i++) f(); console.log(name, ((performance.now()-t0)/n).toFixed(1), 'ms'); };
t('forward', () => tf.tidy(() => cell.run(x16).outputs.dataSync()));
t('fwd+bwd', () => tf.tidy(() => { const {value, grads} = tf.variableGrads(() => tf.mean(tf.mul(cell.run(x16).outputs, probe)), cell.trainableVariables); value.dataSync(); }));
const h = tf.randomNormal([16, 512]); const U = cell.U.variables[0][1]; const dy = tf.randomNormal([16,1536]);
t('h@U x64', () => tf.tidy(() => { for (let i=0;i<64;i++) tf.matMul(h, U); return tf.matMul(h,U).dataSync(); }));
t('dy@U^T x64', () => tf.tidy(() => { for (let i=0;i<64;i++) tf.matMul(dy, U, false, true); return tf.matMul(dy,U,false,true).dataSync(); }));
t('h^T@dy x64', () => tf.tidy(() => { for (let i=0;i<64;i++) tf.matMul(h, dy, true, false); return tf.matMul(h, dy, true, false).dataSync(); }));
const p = await tf.profile(() => tf.tidy(() => { const {value, grads} = tf.variableGrads(() => tf.mean(tf.mul(cell.run(x16).outputs, probe)), cell.trainableVariables); value.dataSync(); }));
const agg = {};
for (const k of p.kernels) { agg[k.name] = (agg[k.name] ?? 0) + (k.kernelTimeMs ?? 0); }
console.log(Object.entries(agg).sort((a,b)=>b[1]-a[1]).slice(0,12).map(([k,v])=>`${k}:${v.toFixed(0)}`).join(' '));
