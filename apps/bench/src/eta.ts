import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { KEYS, type PolyphonicDataset, orderedBatches } from '@tensorized/datasets';
import { frameNll } from './metrics.js';
import { PolyphonicModel } from './model.js';
import { markdownTable } from './table.js';
import { cellConfigOf, type RunConfig } from './train.js';

export interface GridEstimate {
  runs: number;
  /** Epochs still to train (each run's epochs less those in its history), an upper bound with early stopping. */
  epochs: number;
  /** Estimated hours of one process for them. */
  hours: number;
  rows: Array<{ what: string; runs: number; epochs: number; secondsPerEpoch: number }>;
}

/**
 * An estimate of a grid's cost before it starts: for every distinct (dataset, model, batch, window)
 * a short probe times training steps of 32 frames (the fastest of three after a warm-up) and scales
 * them to an epoch's padded frames, plus evaluation of valid and test (a forward pass, counted as a
 * third of a training step's time per frame).
 */
export async function estimateGrid(
  runs: readonly RunConfig[],
  key: (c: RunConfig) => string,
  load: (dataset: string) => Promise<PolyphonicDataset>,
  outDir: string,
): Promise<GridEstimate> {
  const groups = new Map<string, { config: RunConfig; runs: number; epochs: number }>();
  for (const run of runs) {
    let done = 0;
    const history = join(outDir, key(run), 'history.json');
    if (existsSync(history)) {
      try {
        done = (JSON.parse(readFileSync(history, 'utf8')) as unknown[]).length;
      } catch {
        // unreadable: counted as not started (train repairs it from the checkpoint)
      }
    }
    const g = `${run.dataset} ${run.model} ${run.ranks?.join(',') ?? run.rank ?? ''} b${run.batchSize}${run.window ? ` W${run.window}` : ''}${run.maxLength ? ` L${run.maxLength}` : ''}`;
    const cur = groups.get(g) ?? { config: run, runs: 0, epochs: 0 };
    cur.runs++;
    cur.epochs += Math.max(0, run.epochs - done);
    groups.set(g, cur);
  }
  const rows: GridEstimate['rows'] = [];
  let seconds = 0;
  for (const [what, g] of groups) {
    if (g.epochs === 0) {
      rows.push({ what, runs: g.runs, epochs: 0, secondsPerEpoch: 0 });
      continue;
    }
    const data = await load(g.config.dataset);
    const c = g.config;
    // Padded frame-rows of an epoch: batches of whole pieces (or chunks), each as long as its longest.
    let padded = 0;
    for (const pieces of orderedBatches(data.splits.train, {
      batchSize: c.batchSize,
      seed: c.seed,
      bucket: true,
      ...(c.maxLength ? { maxLength: c.maxLength } : {}),
    })) {
      padded += pieces.length * Math.max(...pieces.map((p) => p.frames));
    }
    const evalFrames = ['valid', 'test'].reduce((s, n) => s + data.splits[n as 'valid' | 'test'].stepCount, 0);
    const perFrameRow = probeStep(c);
    const secondsPerEpoch = perFrameRow * (padded + evalFrames / 3);
    rows.push({ what, runs: g.runs, epochs: g.epochs, secondsPerEpoch });
    seconds += secondsPerEpoch * g.epochs;
  }
  return {
    runs: runs.length,
    epochs: [...groups.values()].reduce((s, g) => s + g.epochs, 0),
    hours: seconds / 3600,
    rows,
  };
}

/** Seconds per frame of one sequence of a training step (forward, backward; Adam left out). */
function probeStep(config: RunConfig): number {
  const model = new PolyphonicModel(cellConfigOf(config), config.seed);
  const vars = model.namedVariables().map(([, v]) => v);
  const [B, T] = [config.batchSize, 32];
  const inputs = tf.zeros([B, T, KEYS]) as tf.Tensor3D;
  const targets = tf.zeros([B * T, KEYS]) as tf.Tensor2D;
  const mask = tf.ones([B, T]) as tf.Tensor2D;
  const flatMask = tf.ones([B * T]) as tf.Tensor1D;
  let best = Infinity;
  try {
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const { value, grads } = tf.variableGrads(
        () => tf.sum(frameNll(model.logits(inputs, mask, config.dropout, 1), targets, flatMask)) as tf.Scalar,
        vars,
      );
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
      if (i > 0) best = Math.min(best, (performance.now() - t0) / 1000);
    }
  } finally {
    tf.dispose([inputs, targets, mask, flatMask]);
    model.dispose();
  }
  return best / (B * T);
}

export function estimateTable(e: GridEstimate, jobs: number): string {
  const table = markdownTable(
    ['runs of', 'runs', 'epochs left', 's/epoch (probe)', 'hours'],
    e.rows.map((r) => [
      r.what,
      r.runs,
      r.epochs,
      r.secondsPerEpoch.toFixed(1),
      ((r.secondsPerEpoch * r.epochs) / 3600).toFixed(2),
    ]),
  );
  return `${table}\n\n${e.runs} runs, ${e.epochs} epochs left (fewer with early stopping): about ${e.hours.toFixed(1)} hours of one core${jobs > 1 ? `, ${(e.hours / jobs).toFixed(1)} with ${jobs} workers` : ''} (from a short probe; the machine's load changes it)`;
}
