import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { inflateSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { syntheticDataset } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { type ResultLine, runKey } from './grid.js';
import { readCompressDir, writeReport } from './report.js';
import { PolyphonicModel } from './model.js';
import { cellConfigOf, evaluate, type RunConfig, type RunResult, train } from './train.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'tensorized-bench-'));
const SCREENSHOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'screenshot-report.sh');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].some((p) => existsSync(p));
let reportHtml = '';
const data = syntheticDataset({ seed: 2, train: 24, valid: 8, test: 8 });

// Small versions of the paper's four models: input 16 = 2x2x2x2, hidden 32 = 4x2x2x2.
const small = (model: RunConfig['model'], extra: Partial<RunConfig> = {}): RunConfig => ({
  dataset: 'synthetic',
  model,
  inputSize: 16,
  inputModes: [2, 2, 2, 2],
  hiddenSize: 32,
  hiddenModes: [4, 2, 2, 2],
  ...(model === 'tt-gru'
    ? { ranks: [1, 3, 3, 3, 1] }
    : model === 'tucker-gru'
      ? { ranks: [2, 2, 2, 2] }
      : model === 'cp-gru'
        ? { rank: 6 }
        : {}),
  lr: 1e-2,
  dropout: 0.2,
  batchSize: 8,
  epochs: 3,
  seed: 1,
  clip: 5,
  ...extra,
});

beforeAll(async () => {
  await useBackend('wasm');
});

describe('train', () => {
  const results: RunResult[] = [];
  for (const model of ['gru', 'cp-gru', 'tucker-gru', 'tt-gru'] as const) {
    it(`${model}: training on the synthetic dataset lowers the validation NLL, without leaking tensors`, async () => {
      const before = tf.memory().numTensors;
      const r = await train(small(model), data, { outDir: temp() });
      expect(tf.memory().numTensors).toBe(before);
      expect(r.history.length).toBe(3);
      expect(r.best.validNll).toBeLessThan(r.history[0]!.valid.nll - 0.5);
      expect(r.history.every((h) => Number.isFinite(h.train.nll) && h.framesPerSecond > 0)).toBe(true);
      // No tensor is left behind from one epoch to the next.
      expect(new Set(r.history.map((h) => h.numTensors)).size).toBe(1);
      results.push(r);
    });
  }

  it('evaluating long pieces window by window, the state carried across, gives the NLL of whole pieces', () => {
    for (const model of ['gru', 'tt-gru'] as const) {
      const m = new PolyphonicModel(cellConfigOf(small(model)), 3);
      const before = tf.memory().numTensors;
      const whole = evaluate(m, data.splits.valid, 4, 10_000);
      const windowed = evaluate(m, data.splits.valid, 4, 7);
      expect(tf.memory().numTensors).toBe(before);
      expect(windowed.frames).toBe(whole.frames);
      expect(windowed.nll).toBeCloseTo(whole.nll, 0);
      expect(Math.abs(windowed.nll / whole.nll - 1)).toBeLessThan(1e-5);
      expect([windowed.tp, windowed.fp, windowed.fn]).toEqual([whole.tp, whole.fp, whole.fn]);
      m.dispose();
    }
  });

  it('truncated BPTT: a window longer than every piece is whole-piece training, number for number', async () => {
    const longest = Math.max(
      ...Array.from(
        { length: data.splits.train.sequenceCount },
        (_, q) => data.splits.train.seqStart[q + 1]! - data.splits.train.seqStart[q]!,
      ),
    );
    for (const model of ['gru', 'tt-gru'] as const) {
      const whole = await train(small(model, { epochs: 2 }), data, { outDir: temp() });
      const windowed = await train(small(model, { epochs: 2, window: longest + 5 }), data, { outDir: temp() });
      const strip = (r: RunResult) => r.history.map((h) => [h.train.nll, h.valid.nll, h.test.nll]);
      expect(strip(windowed)).toEqual(strip(whole));
    }
  });

  it('truncated BPTT: with the weights held (lr 0, no dropout), the NLL summed over windows is the whole-piece NLL', async () => {
    for (const model of ['gru', 'cp-gru'] as const) {
      const before = tf.memory().numTensors;
      const whole = await train(small(model, { epochs: 1, lr: 0, dropout: 0 }), data, { outDir: temp() });
      const windowed = await train(small(model, { epochs: 1, lr: 0, dropout: 0, window: 5 }), data, { outDir: temp() });
      expect(tf.memory().numTensors).toBe(before);
      const gap = Math.abs(windowed.history[0]!.train.nll / whole.history[0]!.train.nll - 1);
      expect(gap).toBeLessThan(2e-6);
      // The state is carried: chunks that start from zeros (an untrained model barely uses its state)
      // differ from whole pieces by ten times more than the windows do.
      const chunked = await train(small(model, { epochs: 1, lr: 0, dropout: 0, maxLength: 5 }), data, {
        outDir: temp(),
      });
      expect(Math.abs(chunked.history[0]!.train.nll / whole.history[0]!.train.nll - 1)).toBeGreaterThan(10 * gap);
    }
  });

  it('truncated BPTT trains: windows of 4 frames lower the validation NLL', async () => {
    const r = await train(small('tt-gru', { window: 4 }), data, { outDir: temp() });
    expect(r.best.validNll).toBeLessThan(r.history[0]!.valid.nll - 0.3);
  });

  it('early stopping ends a run once validation has not improved for `patience` epochs, and says so', async () => {
    // lr 0: the weights never change, so no epoch after the first has a better (strictly lower)
    // validation NLL, whatever the kernels' rounding (a high lr made validation worse too, but on a
    // trajectory that float32 rounding of the fused Adam could change).
    const config = small('cp-gru', { epochs: 12, lr: 0, patience: 2 });
    const lines: string[] = [];
    const r = await train(config, data, { outDir: temp(), log: (l) => lines.push(l) });
    expect(r.stoppedEarly).toBe(true);
    expect(r.best.epoch).toBe(1);
    expect(r.epochs).toBe(3);
    expect(r.epochs).toBeLessThan(12);
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `stopped early after epoch ${r.epochs}: no better validation NLL for 2 epochs \\(best at epoch ${r.best.epoch}\\)`,
      ),
    );
    // Without patience the same run goes on, and agrees on the epochs both trained.
    const full = await train({ ...config, patience: undefined as unknown as number }, data, { outDir: temp() });
    expect(full.epochs).toBe(12);
    expect(full.history.slice(0, r.epochs).map((h) => h.valid.nll)).toEqual(r.history.map((h) => h.valid.nll));
  });

  it('a run stopped after an epoch and resumed equals an uninterrupted run, number for number', async () => {
    const config = small('tt-gru');
    const whole = await train(config, data, { outDir: temp() });
    const dir = temp();
    const first = await train(config, data, { outDir: dir, stopAfterEpochs: 1 });
    expect(first.epochs).toBe(1);
    const resumed = await train(config, data, { outDir: dir, resume: true });
    const strip = (r: RunResult) => r.history.map((h) => [h.train.nll, h.valid.nll, h.test.nll, h.valid.accuracy]);
    expect(strip(resumed)).toEqual(strip(whole));
    expect(resumed.best).toEqual(whole.best);
  });

  it('a Tucker-GRU checkpoint of the older layout (2-D cores, their Adam moments and best copies too) resumes number for number', async () => {
    const config = small('tucker-gru');
    const whole = await train(config, data, { outDir: temp() });
    const dir = temp();
    await train(config, data, { outDir: dir, stopAfterEpochs: 1 });
    const path = join(dir, 'checkpoint.safetensors');
    const { tensors, state } = await loadCheckpoint<unknown>(path);
    const cores = [...tensors.keys()].filter((n) => n.endsWith('.core'));
    expect(cores.length).toBe(8);
    const rewritten = [...tensors].map(([n, t]) => {
      const shape = n.endsWith('.core')
        ? [t.shape.slice(0, t.shape.length / 2).reduce((a, b) => a * b, 1), -1]
        : t.shape;
      return [n, tf.reshape(tf.tensor(t.data, t.shape), shape)] as const;
    });
    expect(rewritten.find(([n]) => n === 'cell.U.core')![1].shape).toEqual([16, 16]);
    await saveCheckpoint(path, rewritten, state);
    tf.dispose(rewritten.map(([, t]) => t));
    const resumed = await train(config, data, { outDir: dir, resume: true });
    const strip = (r: RunResult) => r.history.map((h) => [h.train.nll, h.valid.nll, h.test.nll]);
    expect(strip(resumed)).toEqual(strip(whole));
  });

  it('a run extended with --epochs on resume equals one trained that long from the start; the report keeps the longest', async () => {
    const config = small('cp-gru');
    const whole = await train(config, data, { outDir: temp() });
    const dir = temp();
    const short = await train({ ...config, epochs: 2 }, data, { outDir: dir });
    expect(short.epochs).toBe(2);
    const extended = await train(config, data, { outDir: dir, resume: true });
    expect(extended.config.epochs).toBe(3);
    expect(extended.history.map((h) => h.valid.nll)).toEqual(whole.history.map((h) => h.valid.nll));
    expect(extended.best).toEqual(whole.best);
    // Anything but the epochs is still refused.
    await expect(train({ ...config, lr: 2e-2 }, data, { outDir: dir, resume: true })).rejects.toThrow(
      /another configuration/,
    );
    const lines = [short, extended].map((r) => ({ ...r, key: runKey(r.config), secondsPerEpoch: 1 }));
    const out = temp();
    const files = await writeReport(lines, out);
    const md = readFileSync(files.markdown, 'utf8').trim().split('\n');
    expect(md.length).toBe(3);
    expect(md[2]).toContain('| 3 (shortened) |');
    expect(readFileSync(files.html, 'utf8')).toContain(' 1 runs.');
  });

  it('a run whose loss becomes NaN ends at its best epoch so far, keeps the last checkpoint, and the grid records it', async () => {
    const config = small('cp-gru', { epochs: 4 });
    const dir = temp();
    process.env['TENSORIZED_NAN_AT'] = '3,2';
    let r: RunResult;
    try {
      r = await train(config, data, { outDir: dir });
    } finally {
      delete process.env['TENSORIZED_NAN_AT'];
    }
    expect(r.diverged).toEqual({ epoch: 3, batch: 2, loss: Number.NaN });
    expect(r.epochs).toBe(2);
    expect(r.history).toHaveLength(2);
    expect(r.best.epoch).toBeLessThanOrEqual(2);
    expect(Number.isFinite(r.best.testNll)).toBe(true);
    // The checkpoint is the one after epoch 2, whole: a resume (here without the fault) goes on from it.
    const resumed = await train(config, data, { outDir: dir, resume: true });
    expect(resumed.epochs).toBe(4);
    const nlls = (h: RunResult['history']) => h.map((e) => [e.train.nll, e.valid.nll, e.test.nll]);
    expect(nlls(resumed.history.slice(0, 2))).toEqual(nlls(r.history));
    // In the first epoch there is nothing to fall back on: an error, as before.
    process.env['TENSORIZED_NAN_AT'] = '1,1';
    try {
      await expect(train(config, data, { outDir: temp() })).rejects.toThrow(
        /training diverged: the loss is NaN at epoch 1, batch 1/,
      );
    } finally {
      delete process.env['TENSORIZED_NAN_AT'];
    }
    const line = { ...r, key: runKey(r.config), secondsPerEpoch: 1 };
    expect(readFileSync((await writeReport([line], temp())).markdown, 'utf8')).toContain('| 2 (diverged in 3) |');
  });

  it('a truncated or corrupt checkpoint is refused with a clear error and left as it was', async () => {
    const dir = temp();
    await train(small('cp-gru', { epochs: 1 }), data, { outDir: dir });
    const path = join(dir, 'checkpoint.safetensors');
    const size = statSync(path).size;
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0x55;
    writeFileSync(path, bytes);
    await expect(loadCheckpoint(path)).rejects.toThrow(
      /checkpoint .* is corrupt \(the file does not match its sha256\); it was not used/,
    );
    truncateSync(path, size - 100);
    await expect(train(small('cp-gru', { epochs: 2 }), data, { outDir: dir, resume: true })).rejects.toThrow(
      CheckpointError,
    );
    await expect(loadCheckpoint(path)).rejects.toThrow(/is truncated or corrupt/);
    expect(statSync(path).size).toBe(size - 100);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('report writes the table, CSV, SVG plots and an HTML page', async () => {
    expect(results.length).toBe(4);
    const lines: ResultLine[] = results.map((r) => ({ ...r, key: runKey(r.config), secondsPerEpoch: 1 }));
    const dir = temp();
    const files = await writeReport(lines, dir);
    const md = readFileSync(files.markdown, 'utf8');
    for (const m of ['gru', 'cp-gru', 'tucker-gru', 'tt-gru']) expect(md).toContain(`| ${m}`);
    expect(readFileSync(files.csv, 'utf8').split('\n')[0]).toBe(
      'dataset,model,configuration,RNN params,lr,dropout,epochs,best epoch,valid NLL,test NLL,test acc.,seeds,test NLL mean ± sd,s/epoch',
    );
    expect(files.svgs.map((f) => f.split('/').at(-1))).toEqual([
      'synthetic-nll-vs-params.svg',
      'synthetic-learning-curves.svg',
    ]);
    for (const f of files.svgs) expect(readFileSync(f, 'utf8')).toMatch(/^<svg[\s\S]*<polyline|^<svg[\s\S]*<circle/);
    const html = readFileSync(files.html, 'utf8');
    expect(html).toContain('<table>');
    expect((html.match(/<svg/g) ?? []).length).toBe(2);
    reportHtml = files.html;
    // A Block-Term run's line names its block count beside its ranks.
    const tt = lines.find((l) => l.config.model === 'tt-gru')!;
    const btConfig = { ...tt.config, model: 'bt-gru' as const, ranks: [2, 2, 2, 2], blocks: 4 };
    const bt = { ...tt, config: btConfig, key: runKey(btConfig) };
    const btMd = readFileSync((await writeReport([bt], temp())).markdown, 'utf8');
    expect(btMd).toContain('| ranks (2,2,2,2), 4 blocks');
  });

  it("report --compress shows a compress run's table and plot in the page (the committed JSB run's files)", async () => {
    const lines: ResultLine[] = results.map((r) => ({ ...r, key: runKey(r.config), secondsPerEpoch: 1 }));
    const compressDir = join(dirname(fileURLToPath(import.meta.url)), '../../../results/compress/jsb');
    const compress = readCompressDir(compressDir);
    const plain = readFileSync((await writeReport(lines, temp())).html, 'utf8');
    const files = await writeReport(lines, temp(), { compress });
    const html = readFileSync(files.html, 'utf8');
    // The compress plot joins the dataset plots; its table joins the results table.
    expect((html.match(/<svg/g) ?? []).length).toBe((plain.match(/<svg/g) ?? []).length + 1);
    // Every row of compress.md is a row of the page's second table, cell for cell.
    const mdRows = compress.table.split('\n').filter((l) => l.startsWith('|') && !/^\|[\s:|-]+\|$/.test(l.trim()));
    const tables = html.split('<table>');
    expect(tables.length).toBe(plain.split('<table>').length + 1);
    expect((tables.at(-1)!.match(/<tr>/g) ?? []).length).toBe(mdRows.length);
    const firstBody = mdRows[1]!
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    expect(tables.at(-1)).toContain(
      `<tr>${firstBody.map((c) => `<td>${c.replace(/&/g, '&amp;')}</td>`).join('')}</tr>`,
    );
    expect(() => readCompressDir(temp())).toThrow(/--compress .*: no compress.md there/);
  });

  it.skipIf(!CHROMIUM)('the report page renders in headless Chromium (screenshot)', () => {
    if (!CHROMIUM) return;
    const png = join(temp(), 'report.png');
    const r = spawnSync('bash', [SCREENSHOT, reportHtml, png, '1000,1400'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).toEqual([1000, 1400]);
    // Decode the image data: a rendered page has many distinct pixel values, a blank one has one.
    const idat: Buffer[] = [];
    for (let at = 8; at < bytes.length; ) {
      const length = bytes.readUInt32BE(at);
      if (bytes.subarray(at + 4, at + 8).toString('latin1') === 'IDAT')
        idat.push(bytes.subarray(at + 8, at + 8 + length));
      at += 12 + length;
    }
    const raw = inflateSync(Buffer.concat(idat));
    expect(new Set(raw).size).toBeGreaterThan(20);
  });
});

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

describe.skipIf(!existsSync(cli))('command line', () => {
  // One calibration for every process: the planner's paths, and so the rounding, are the same in
  // each (a resumed run also restores the killed run's calibration from its checkpoint).
  const calibration = JSON.stringify({
    overheadMs: 0.003,
    flopsPerMs: 2.5e7,
    movedPerMs: 8e5,
    readPerMs: 2e7,
    packPerMs: 2.5e5,
  });
  const env = {
    ...process.env,
    TENSORIZED_DATA_DIR: temp(),
    TENSORIZED_CACHE_DIR: temp(),
    TENSORIZED_CALIBRATION: calibration,
  };
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env });

  it('a run killed (SIGKILL) after its first checkpoint and resumed with --resume ends where an uninterrupted run does', async () => {
    const args = [
      'train',
      '--dataset',
      'synthetic',
      '--model',
      'cp-gru',
      '--rank',
      '4',
      '--input-size',
      '16',
      '--input-modes',
      '2,2,2,2',
      '--hidden-size',
      '32',
      '--hidden-modes',
      '4,2,2,2',
      '--epochs',
      '3',
      '--batch-size',
      '8',
    ];
    const whole = temp();
    expect(run(...args, '--out-dir', whole).status).toBe(0);
    const killed = temp();
    const child = spawn(process.execPath, [cli, ...args, '--out-dir', killed], { stdio: 'ignore', env });
    await new Promise<void>((done) => {
      const poll = setInterval(() => {
        if (existsSync(join(killed, 'history.json'))) {
          clearInterval(poll);
          child.kill('SIGKILL');
          done();
        }
      }, 20);
    });
    await new Promise((done) => child.on('exit', done));
    const partial = JSON.parse(readFileSync(join(killed, 'history.json'), 'utf8')) as unknown[];
    expect(partial.length).toBeLessThan(3);
    expect(run(...args, '--out-dir', killed, '--resume').status).toBe(0);
    const nll = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as Array<{ valid: { nll: number } }>).map(
        (h) => h.valid.nll,
      );
    expect(nll(killed)).toEqual(nll(whole));
  });

  it.each<[string[], RegExp]>([
    [['train', '--model', 'rnn-gru'], /unknown model 'rnn-gru'; expected one of gru, cp-gru/],
    [
      ['train', '--model', 'tt-gru', '--ranks', '1,11,11,1'],
      /the model does not fit: .*ranks must have d \+ 1 = 5 entries/,
    ],
    [
      ['train', '--dataset', 'nottingham', '--epochs', '1'],
      /dataset 'nottingham' not found .* Put the original 'Nottingham.pickle'/,
    ],
    [['train', '--dataset', 'bach'], /unknown dataset 'bach'/],
    [['train', '--lr', 'fast'], /--lr got 'fast'/],
    [['fly'], /unknown command 'fly'/],
    [['--colour'], /Unknown option '--colour'/],
  ])('%j is refused with a clear message and exit status 2, before any work', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).not.toMatch(/backend:/); // nothing started
  });
});
