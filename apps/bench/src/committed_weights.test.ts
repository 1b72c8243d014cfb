import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadPolyphonic } from '@tensorized/datasets/node';
import { useBackend } from '@tensorized/test-utils';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from './checkpoint.js';
import { summarise } from './metrics.js';
import { loadModel } from './load_model.js';
import { evaluate } from './train.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = join(process.env['TENSORIZED_SHARED_DIR'] ?? resolve(root, '..', 'shared'), 'data', 'polyphonic');
// Written before the Tucker core was stored in its natural shape: its cores are 2-D matrices.
const legacy = join(root, 'results/compress/jsb/tucker-4096/best.safetensors');

describe.skipIf(!existsSync(join(dataDir, 'README.md')) || !existsSync(legacy))(
  'committed weights of an older layout',
  () => {
    it('a Tucker-GRU checkpoint with 2-D cores loads and gives the test NLL recorded when it was written', async () => {
      await useBackend('wasm');
      const { tensors, state } = await loadCheckpoint<{ best: { testNll: number } }>(
        legacy,
        (s) => s as { best: { testNll: number } },
      );
      expect(tensors.get('cell.U.core')!.shape).toEqual([64, 16]);
      const data = await loadPolyphonic('jsb', { dataDir, cacheDir: mkdtempSync(join(tmpdir(), 'tensorized-cache-')) });
      const { model } = await loadModel(legacy);
      const core = new Map(model.namedVariables()).get('cell.U.core')!;
      expect(core.shape).toEqual([1, 4, 4, 4, 1, 4, 4, 1]);
      const before = tf.memory().numTensors;
      const nll = summarise(evaluate(model, data.splits.test, 32)).nll;
      expect(tf.memory().numTensors).toBe(before);
      expect(Math.abs(nll - state.best.testNll)).toBeLessThan(1e-3);
      model.dispose();
    });
  },
);
