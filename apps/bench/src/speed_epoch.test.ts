import { KEYS, orderedBatches, syntheticDataset } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { epochFlops, epochSpeedTable, runEpochSpeed } from './speed_epoch.js';
import type { RunConfig } from './train.js';

const data = syntheticDataset({ seed: 3, train: 12, valid: 4, test: 4 });
const dense: RunConfig = {
  dataset: 'synthetic',
  model: 'gru',
  inputSize: 16,
  inputModes: [2, 2, 2, 2],
  hiddenSize: 32,
  hiddenModes: [4, 2, 2, 2],
  lr: 1e-2,
  dropout: 0,
  batchSize: 4,
  epochs: 1,
  seed: 1,
  clip: 5,
};

beforeAll(async () => {
  await useBackend('wasm');
});

describe('speed epoch', () => {
  it("a dense GRU epoch's FLOPs: 3 x the forward matMuls of every batch (W, U per step, output layer), 2 x the input layer's (the piano roll has no gradient)", () => {
    let flops = 0;
    for (const pieces of orderedBatches(data.splits.train, { batchSize: 4, seed: 1, bucket: true })) {
      const rows = pieces.length * Math.max(...pieces.map((p) => p.frames));
      flops += 3 * 2 * rows * (16 * 96 + 32 * 96 + 32 * KEYS) + 2 * 2 * rows * KEYS * 16;
    }
    expect(epochFlops(dense, data)).toBe(flops);
  });

  it('times the second epoch, keeps the fastest of the rounds, and reports it against the floor', async () => {
    const seen: number[] = [];
    const rows = await runEpochSpeed([dense], data, (r) => seen.push(r.trainSeconds), 10, 2);
    expect(rows.length).toBe(1);
    expect(seen.length).toBe(2);
    const [row] = rows;
    expect(row!.trainSeconds).toBe(Math.min(...seen));
    expect(row!.trainSeconds).toBeGreaterThan(0);
    expect(row!.firstTrainSeconds).toBeGreaterThan(0);
    expect(row!.floorSeconds).toBeCloseTo(row!.flops / 10e9, 12);
    expect(row!.gflops).toBeCloseTo(row!.flops / row!.trainSeconds / 1e9, 9);
    expect(epochSpeedTable(rows, 10)).toMatch(/\| gru +\| +\d+ \|/);
  });

  it('refuses a number of rounds that is not a positive integer', async () => {
    await expect(runEpochSpeed([dense], data, undefined, 10, 0)).rejects.toThrow(
      /rounds must be a positive integer, got 0/,
    );
  });
});
