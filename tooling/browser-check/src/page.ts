// Runs in the browser (bundled by browser.test.ts): the packages as a user's page imports them.
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { useBackend } from '@tensorized/backends';
import { createCell, paperCellConfig } from '@tensorized/cells';
import { matrixToDense, prepareMatmul, ttMatrixInit } from '@tensorized/decomp';

/** What the page posts for each backend (browser.test.ts reads it). */
export interface BackendResult {
  backend: string;
  simd: boolean;
  threads: number;
  ttVsDense: number;
  cellOutput: number[];
  gradNorm: number;
  leaked: number;
}

async function check(name: 'cpu' | 'wasm'): Promise<BackendResult> {
  // ?threads=n asks for n wasm threads (the test serves that page cross-origin isolated).
  const threads = Number(new URLSearchParams(location.search).get('threads') ?? 1);
  const info = await useBackend(name, name === 'wasm' && threads > 1 ? { threads } : {});
  const before = tf.memory().numTensors;
  // A TT-matrix product against the dense matrix it stands for.
  const w = ttMatrixInit({ inModes: [4, 4, 4], outModes: [4, 4, 8], ranks: [1, 3, 3, 1] }, { seed: 1 });
  const x = tf.randomNormal([5, 64], 0, 1, 'float32', 2) as tf.Tensor2D;
  const prepared = prepareMatmul(w, 'factorised');
  const y = prepared.apply(x);
  const dense = matrixToDense(w);
  const reference = tf.matMul(x, dense);
  const ttVsDense = tf.tidy(() => tf.max(tf.abs(tf.sub(y, reference))).dataSync()[0]!);
  tf.dispose([x, y, dense, reference, ...w.cores]);
  prepared.dispose();
  // The paper's TT-GRU, forward and one gradient.
  const cell = createCell(paperCellConfig('tt-gru', { seed: 1 }));
  const inputs = tf.randomNormal([2, 6, 256], 0, 1, 'float32', 3) as tf.Tensor3D;
  const run = cell.run(inputs);
  const cellOutput = Array.from(run.outputs.dataSync().slice(0, 4));
  tf.dispose([run.outputs, ...run.state]);
  const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(cell.run(inputs).outputs)) as tf.Scalar);
  const gradNorm = Math.sqrt(
    tf.tidy(() => Object.values(grads).reduce((s, g) => s + tf.sum(tf.square(g)).dataSync()[0]!, 0)),
  );
  tf.dispose([value, inputs, ...Object.values(grads)]);
  cell.dispose();
  return {
    backend: info.name,
    simd: info.simd,
    threads: info.threads,
    ttVsDense,
    cellOutput,
    gradNorm,
    leaked: tf.memory().numTensors - before,
  };
}

async function main(): Promise<void> {
  setWasmPaths('/wasm/');
  const results = [await check('cpu'), await check('wasm')];
  await fetch('/result', { method: 'POST', body: JSON.stringify({ results }) });
}

main().catch(async (e: Error) => {
  await fetch('/result', { method: 'POST', body: JSON.stringify({ error: `${e.message}\n${e.stack ?? ''}` }) });
});
