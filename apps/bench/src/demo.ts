import * as tf from '@tensorflow/tfjs-core';
import {
  convertFormat,
  factorisedMatmul,
  frobeniusNorm,
  ndarray,
  paramCount,
  planMatmul,
  relativeError,
  Rng,
  toNdArray,
  ttMatrixFromDense,
  ttMatrixInit,
  ttMatrixToDense,
} from '@tensorized/decomp';
import { msPerCall } from './measure.js';
import { markdownTable, ms } from './table.js';

/**
 * A short tour of the math core: compress a 256 x 1536 matrix (the paper's W, gates folded into the
 * last mode) into TT-matrices at several accuracies, and multiply by it without rebuilding it.
 */
export function runDemo(log: (line: string) => void): void {
  const inModes = [4, 4, 4, 4];
  const outModes = [8, 4, 4, 12];
  // A matrix of TT rank 6 plus 2% noise: what a trained weight matrix with structure looks like.
  const source = ttMatrixInit({ inModes, outModes, ranks: [1, 6, 6, 6, 1] }, { seed: 7 });
  const clean = toNdArray(ttMatrixToDense(source));
  tf.dispose([...source.cores]);
  const rng = new Rng(3);
  const noiseStd = (0.02 * frobeniusNorm(clean)) / Math.sqrt(clean.data.length);
  const w = ndarray(
    clean.data.map((v) => v + noiseStd * rng.normal()),
    clean.shape,
  );
  log(`Compressing a 256 x 1536 matrix (${w.data.length.toLocaleString('en')} values) with TT-SVD:\n`);
  const rows: (string | number)[][] = [];
  for (const eps of [0.01, 0.05, 0.2, 0.5]) {
    const t0 = performance.now();
    const tt = ttMatrixFromDense(w, { inModes, outModes, eps });
    const secs = (performance.now() - t0) / 1000;
    const err = relativeError(ttMatrixToDense(tt), w);
    const params = paramCount(tt);
    rows.push([
      eps,
      tt.ranks.join(','),
      params,
      `${(w.data.length / params).toFixed(1)}x`,
      err.toFixed(4),
      secs.toFixed(2),
    ]);
  }
  log(markdownTable(['eps', 'TT ranks', 'params', 'compression', 'rel. error', 'seconds'], rows));

  const tt = convertFormat(ttMatrixFromDense(w, { inModes, outModes, maxRank: 6 }), 'tensor');
  const dense = tf.tensor2d(Float32Array.from(w.data), [256, 1536]);
  log('\nMultiplying a batch by it: x W through the TT cores vs. the dense matrix (ms per call):\n');
  const speed: (string | number)[][] = [];
  for (const batch of [1, 16, 128]) {
    const x = tf.randomNormal([batch, 256], 0, 1, 'float32', 5) as tf.Tensor2D;
    const plan = planMatmul(tt, { batch });
    speed.push([
      batch,
      ms(msPerCall(() => tf.matMul(x, dense), { minMs: 100 })),
      ms(msPerCall(() => factorisedMatmul(x, tt), { minMs: 100 })),
      plan.path,
    ]);
    x.dispose();
  }
  log(markdownTable(['batch', 'dense ms', 'TT ms', 'planner (one use)'], speed));
  tf.dispose([dense, ...tt.cores]);
}
