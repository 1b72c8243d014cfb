import { join } from 'node:path';
import type { ModelName } from '@tensorized/cells';
import { independentNotesNll, syntheticDataset } from '@tensorized/datasets';
import { markdownTable } from './table.js';
import { type RunConfig, type RunResult, train, type TrainOptions } from './train.js';

/** The built-in default: the paper's four models on the synthetic dataset, a few epochs each. */
export const DEFAULT_MODELS: readonly ModelName[] = ['gru', 'cp-gru', 'tucker-gru', 'tt-gru'];

export async function runDefaultComparison(
  options: { epochs: number; outDir: string; log: (line: string) => void } & Pick<TrainOptions, 'onProgress'>,
): Promise<RunResult[]> {
  const data = syntheticDataset();
  const baseline = independentNotesNll(data.splits.train, data.splits.test);
  options.log(
    `synthetic dataset (seed 1): ${data.splits.train.sequenceCount} train pieces; independent-notes baseline test NLL ${baseline.toFixed(3)}\n`,
  );
  const results: RunResult[] = [];
  for (const model of DEFAULT_MODELS) {
    options.log(`== ${model}`);
    const config: RunConfig = {
      dataset: 'synthetic',
      model,
      lr: 1e-2,
      dropout: 0.2,
      batchSize: 16,
      epochs: options.epochs,
      seed: 1,
      clip: 5,
    };
    const t0 = performance.now();
    const r = await train(config, data, {
      outDir: join(options.outDir, model),
      overwrite: true,
      log: options.log,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    results.push(r);
    options.log(`   ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  const dense = results[0]!.rnnParams;
  options.log(
    markdownTable(
      ['model', 'RNN params', 'compression', 'best epoch', 'valid NLL', 'test NLL', 'test acc.', 's/epoch'],
      results.map((r) => [
        r.config.model,
        r.rnnParams,
        `${(dense / r.rnnParams).toFixed(0)}x`,
        r.best.epoch,
        r.best.validNll.toFixed(3),
        r.best.testNll.toFixed(3),
        r.best.testAccuracy.toFixed(3),
        (r.history.reduce((s, h) => s + h.seconds, 0) / r.history.length).toFixed(1),
      ]),
    ),
  );
  options.log(
    `\nNLL: binary cross-entropy per frame summed over 88 keys (lower is better); independent notes: ${baseline.toFixed(3)}.`,
  );
  return results;
}
