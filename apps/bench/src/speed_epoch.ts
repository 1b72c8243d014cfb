import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KEYS, type PolyphonicDataset, orderedBatches } from '@tensorized/datasets';
import { createCell } from '@tensorized/cells';
import { markdownTable } from './table.js';
import { cellConfigOf, type RunConfig, train } from './train.js';

export interface EpochSpeedRow {
  model: string;
  params: number;
  /** Training seconds of the first epoch of a fresh process (one-time costs included). */
  firstTrainSeconds: number;
  /** Training seconds of the second epoch: the steady state of a run. */
  trainSeconds: number;
  epochSeconds: number;
  framesPerSecond: number;
  /** Forward + backward FLOPs of the training epoch (padding included). */
  flops: number;
  gflops: number;
  /** The same FLOPs at the speed of a large dense matMul on this backend. */
  floorSeconds: number;
}

/**
 * FLOPs of one training epoch, forward and backward: per batch, the input and output layers (a dense
 * product each, the input layer's weight gradient, the output layer's two gradient products), and W over all B x T inputs and U at every step as
 * their plans run them (WeightMatrix.plan: path, grouping, gradient route), counted by the cost
 * model with the backward pass (matmulCost, from the trace of the code that computes them).
 */
export function epochFlops(config: RunConfig, data: PolyphonicDataset): number {
  const cell = createCell(cellConfigOf(config));
  const N = cell.inputSize;
  const H = cell.hiddenSize;
  let flops = 0;
  for (const pieces of orderedBatches(data.splits.train, {
    batchSize: config.batchSize,
    seed: config.seed,
    bucket: true,
  })) {
    const B = pieces.length;
    const T = Math.max(...pieces.map((p) => p.frames));
    // The input layer's product and its weight's gradient (the piano roll needs none); the output
    // layer's product and both gradients.
    flops += 2 * B * T * (2 * KEYS * N + 3 * H * KEYS);
    for (const [w, batch, uses, fused] of [
      [cell.W, B * T, 1, false],
      [cell.U, B, T, cell.kind === 'gru'],
    ] as const) {
      const plan = w.plan(batch, uses, { backward: true, fusedGradient: fused });
      // A factorised weight's FLOPs are the planner's own prediction for the path it runs (forward,
      // backward and the weight gradients by the plan's route).
      flops +=
        plan.path === 'dense' ? 3 * uses * 2 * batch * w.inSize * w.outSize : plan.predicted!.cost[plan.path].flops;
    }
  }
  cell.dispose();
  return flops;
}

/**
 * The GFLOP/s the running backend reaches on a large matMul (1024 x 1024 by 1024 x 1024, the
 * right-hand side fixed so that its packing is amortised as a weight's is): the best of 15 timed
 * runs after 3 warm-ups (the machine is shared; the best run is what the backend can reach).
 */
export function largeMatmulGflops(): number {
  const a = tf.randomNormal([1024, 1024], 0, 1, 'float32', 1);
  const b = tf.randomNormal([1024, 1024], 0, 1, 'float32', 2);
  let best = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 18; i++) {
    const t0 = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - t0;
    c.dispose();
    if (i >= 3) best = Math.min(best, ms);
  }
  tf.dispose([a, b]);
  return (2 * 1024 ** 3) / best / 1e6;
}

/**
 * Trains each model for two epochs on a dataset and compares the second epoch's speed with the FLOP
 * floor. The first epoch of a process also pays one-time costs (the wasm heap growing to its working
 * size, first calls of kernels): about 0.5 s of a dense JSB epoch, reported separately. With
 * `rounds` > 1 the models take turns, round after round, and each keeps its fastest second epoch:
 * a drift of a shared machine then slows one round of every model rather than all of one model.
 */
export async function runEpochSpeed(
  configs: readonly RunConfig[],
  data: PolyphonicDataset,
  onRow?: (r: EpochSpeedRow) => void,
  matmulGflops = largeMatmulGflops(),
  rounds = 1,
): Promise<EpochSpeedRow[]> {
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`runEpochSpeed: rounds must be a positive integer, got ${rounds}`);
  const flopsPerSecond = matmulGflops * 1e9;
  const best = new Map<number, EpochSpeedRow>();
  for (let round = 0; round < rounds; round++) {
    for (const [i, config] of configs.entries()) {
      const r = await train({ ...config, epochs: 2 }, data, {
        outDir: mkdtempSync(join(tmpdir(), 'tensorized-epoch-')),
      });
      const h = r.history[1]!;
      const flops = epochFlops(config, data);
      const row: EpochSpeedRow = {
        model: `${config.model}${config.ranks ? ` (${config.ranks.join(',')})` : config.rank ? ` R=${config.rank}` : ''}`,
        params: r.rnnParams,
        firstTrainSeconds: r.history[0]!.trainSeconds,
        trainSeconds: h.trainSeconds,
        epochSeconds: h.seconds,
        framesPerSecond: h.framesPerSecond,
        flops,
        gflops: flops / h.trainSeconds / 1e9,
        floorSeconds: flops / flopsPerSecond,
      };
      onRow?.(row);
      const known = best.get(i);
      if (!known || row.trainSeconds < known.trainSeconds) best.set(i, row);
    }
  }
  return configs.map((_, i) => best.get(i)!);
}

export function epochSpeedTable(rows: readonly EpochSpeedRow[], matmulGflops: number): string {
  return markdownTable(
    [
      'model',
      'RNN params',
      'first epoch train s',
      'train s/epoch',
      'with eval s/epoch',
      'frames/s',
      'GFLOP/epoch',
      'GFLOP/s',
      `floor s (at ${matmulGflops.toFixed(1)} GFLOP/s)`,
      'vs floor',
    ],
    rows.map((r) => [
      r.model,
      r.params,
      r.firstTrainSeconds.toFixed(1),
      r.trainSeconds.toFixed(2),
      r.epochSeconds.toFixed(1),
      Math.round(r.framesPerSecond),
      (r.flops / 1e9).toFixed(1),
      r.gflops.toFixed(1),
      r.floorSeconds.toFixed(1),
      `${(r.trainSeconds / r.floorSeconds).toFixed(2)}x`,
    ]),
  );
}
