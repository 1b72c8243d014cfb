import { useBackend } from '@tensorized/backends';
import * as tf from '@tensorflow/tfjs-core';
import { createCell, paperCellConfig } from '@tensorized/cells';
await useBackend(process.argv[2] ?? 'wasm');
const cell = createCell(paperCellConfig(process.argv[3] ?? 'gru', { seed: 1, ...(process.argv[4] ? { matmulPath: process.argv[4] } : {}) }));
const x16 = tf.randomNormal([16, 64, 256]);
const probe = tf.randomNormal([16, 64, 512]);
const step = () => tf.tidy(() => { const {value, grads} = tf.variableGrads(() => tf.mean(tf.mul(cell.run(x16).outputs, probe)), cell.trainableVariables); tf.dispose(Object.values(grads)); return value; });
step().dispose();
const t0 = performance.now(); step().dispose(); console.log('step ms', (performance.now()-t0).toFixed(0));
const p = await tf.profile(() => step());
const agg = {};
for (const k of p.kernels) { const key = k.name + ' ' + JSON.stringify(k.inputShapes); agg[key] = agg[key] ?? [0,0]; agg[key][0] += (k.kernelTimeMs ?? 0); agg[key][1]++; }
console.log(Object.entries(agg).sort((a,b)=>b[1][0]-a[1][0]).slice(0,14).map(([k,v])=>`${v[0].toFixed(0)}ms x${v[1]} ${k}`).join('\n'));
