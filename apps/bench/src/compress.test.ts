import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { syntheticDataset } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { compressTable, runCompress } from './compress.js';
import { train } from './train.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'tensorized-compress-'));
const data = syntheticDataset({ seed: 2, train: 24, valid: 8, test: 8 });

beforeAll(async () => {
  await useBackend('wasm');
});

describe('compress: a trained dense GRU to TT, CP and Tucker, then fine-tuned', () => {
  it('meets the budgets, lowers the loss by fine-tuning, resumes without converting again, leaks nothing', async () => {
    const denseDir = temp();
    await train(
      {
        dataset: 'synthetic',
        model: 'gru',
        inputSize: 16,
        hiddenSize: 32,
        lr: 1e-2,
        dropout: 0,
        batchSize: 8,
        epochs: 4,
        seed: 1,
        clip: 5,
      },
      data,
      { outDir: denseDir },
    );
    const before = tf.memory().numTensors;
    const options = {
      from: join(denseDir, 'best.safetensors'),
      data,
      formats: ['tt', 'cp', 'tucker'] as const,
      budgets: [700],
      fineTuneEpochs: 3,
      lr: 1e-2,
      dropout: 0,
      batchSize: 8,
      seed: 1,
      inputModes: [2, 2, 2, 2],
      hiddenModes: [4, 2, 2, 2],
      outDir: temp(),
    };
    const lines: string[] = [];
    const rows = await runCompress({ ...options, log: (l) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => r.format)).toEqual(['tt', 'cp', 'tucker']);
    for (const r of rows) {
      expect(r.rnnParams).toBeLessThanOrEqual(700);
      expect(r.error.W).toBeGreaterThan(0);
      expect(r.error.W).toBeLessThan(1);
      expect(r.testNll).toHaveLength(3);
      // Fine-tuning lowers the validation NLL from the converted model's.
      expect(r.best.validNll).toBeLessThan(r.converted.validNll);
      expect(Number.isFinite(r.converted.testNll)).toBe(true);
    }
    expect(lines.filter((l) => l.includes('converted in'))).toHaveLength(3);
    // Run again: the conversions are read back, the finished fine-tuning is not repeated.
    const again: string[] = [];
    const rows2 = await runCompress({ ...options, log: (l) => again.push(l) });
    expect(rows2.map((r) => [r.converted, r.testNll, r.best])).toEqual(
      rows.map((r) => [r.converted, r.testNll, r.best]),
    );
    expect(again.filter((l) => l.includes('converted in'))).toHaveLength(0);
    expect(again.filter((l) => l.startsWith('epoch '))).toHaveLength(0);
    expect(compressTable(rows, 3).split('\n')).toHaveLength(5);
    expect(tf.memory().numTensors).toBe(before);
  }, 120_000);

  it('refuses a model that is not dense, and a budget that cannot hold the bias', async () => {
    const ttDir = temp();
    await train(
      {
        dataset: 'synthetic',
        model: 'cp-gru',
        rank: 2,
        inputSize: 16,
        inputModes: [2, 2, 2, 2],
        hiddenSize: 32,
        hiddenModes: [4, 2, 2, 2],
        lr: 1e-2,
        dropout: 0,
        batchSize: 8,
        epochs: 1,
        seed: 1,
        clip: 5,
      },
      data,
      { outDir: ttDir },
    );
    const base = {
      data,
      formats: ['tt'] as const,
      fineTuneEpochs: 0,
      lr: 1e-2,
      dropout: 0,
      batchSize: 8,
      seed: 1,
      outDir: temp(),
    };
    await expect(runCompress({ ...base, from: join(ttDir, 'best.safetensors'), budgets: [500] })).rejects.toThrow(
      /is a cp-gru model; compress takes a dense gru or lstm/,
    );
    const denseDir = temp();
    await train(
      {
        dataset: 'synthetic',
        model: 'gru',
        inputSize: 16,
        hiddenSize: 32,
        lr: 1e-2,
        dropout: 0,
        batchSize: 8,
        epochs: 1,
        seed: 1,
        clip: 5,
      },
      data,
      { outDir: denseDir },
    );
    await expect(runCompress({ ...base, from: join(denseDir, 'best.safetensors'), budgets: [50] })).rejects.toThrow(
      /--budgets: 50 does not even hold the bias \(96 parameters\)/,
    );
  }, 60_000);
});
