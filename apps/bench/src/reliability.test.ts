// Issue 11: nothing lost, nothing silent. Each numbered failure of the issue has a test here (or in
// the package named beside it); the fuzz and kill tests check the run directory as a whole.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { encodeSafetensors } from '@tensorized/cells';
import { COST_PROFILES, Rng } from '@tensorized/decomp';
import { datasetFromSplits, keysAt, type Split, syntheticDataset } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from './checkpoint.js';
import { MergeError, mergeResults, paperGrid, readResults, runKey, shardOf } from './grid.js';
import { RunLockedError, lockRunDir } from './run_lock.js';
import { validateRunState } from './run_state.js';
import { type EpochRecord, MemoryBoundError, type RunConfig, type RunState, train } from './train.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'tensorized-reliability-'));
const data = syntheticDataset({ seed: 2, train: 16, valid: 6, test: 6 });
const small = (extra: Partial<RunConfig> = {}): RunConfig => ({
  dataset: 'synthetic',
  model: 'cp-gru',
  rank: 4,
  inputSize: 16,
  inputModes: [2, 2, 2, 2],
  hiddenSize: 32,
  hiddenModes: [4, 2, 2, 2],
  lr: 1e-2,
  dropout: 0.2,
  batchSize: 8,
  epochs: 2,
  seed: 1,
  clip: 5,
  ...extra,
});

beforeAll(async () => {
  await useBackend('wasm');
});

describe('checkpoints (issue 11, item 3)', () => {
  it('fuzz: every one-bit flip in a real checkpoint, header or data, is refused with a CheckpointError naming the file', {
    timeout: 600_000,
  }, async () => {
    const dir = temp();
    await train(small({ epochs: 1 }), data, { outDir: dir });
    const path = join(dir, 'checkpoint.safetensors');
    const original = new Uint8Array(readFileSync(path));
    const headerEnd = 8 + Number(new DataView(original.buffer).getBigUint64(0, true));
    // 400 cases in the suite; more with TENSORIZED_FUZZ_CASES (pnpm --filter @tensorized/bench fuzz:checkpoint).
    const rng = new Rng(Number(process.env['TENSORIZED_FUZZ_SEED'] ?? 11));
    const next = () => rng.uniform();
    const cases = 2 * Math.round(Number(process.env['TENSORIZED_FUZZ_CASES'] ?? 400) / 2);
    let header = 0;
    for (let c = 0; c < cases; c++) {
      // Half of the cases in the 8-byte length and the JSON header, half in the tensor data.
      const inHeader = c % 2 === 0;
      const at = inHeader
        ? Math.floor(next() * headerEnd)
        : headerEnd + Math.floor(next() * (original.length - headerEnd));
      if (inHeader) header++;
      const bytes = original.slice();
      bytes[at] = bytes[at]! ^ (1 << Math.floor(next() * 8));
      let outcome: string;
      try {
        decodeCheckpoint(bytes, path, validateRunState);
        outcome = 'accepted';
      } catch (e) {
        outcome =
          e instanceof CheckpointError && (e as Error).message.includes(path)
            ? 'refused'
            : `raw ${(e as Error).name}: ${(e as Error).message}`;
      }
      expect(outcome, `flip at byte ${at}`).toBe('refused');
    }
    expect(header).toBe(cases / 2);
    // The unflipped file loads to the state train wrote.
    expect(decodeCheckpoint<RunState>(original, path, validateRunState).state.epoch).toBe(1);
  });

  it('an edited state (adamStep, epoch, NLLs) is refused even with the digest recomputed, by the schema where it can tell', async () => {
    const dir = temp();
    await train(small(), data, { outDir: dir });
    const path = join(dir, 'checkpoint.safetensors');
    const { tensors, state } = await loadCheckpoint<RunState>(path, validateRunState);
    const reencode = (s: unknown): Uint8Array =>
      encodeCheckpoint(
        [...tensors].map(([n, t]) => [n, tf.tensor(t.data, t.shape)] as const),
        s,
      );
    const edits: Array<[string, (s: RunState) => unknown, RegExp]> = [
      [
        'epoch beyond the history',
        (s) => ({ ...s, epoch: 2, config: { ...s.config, epochs: 50 }, history: s.history.slice(0, 1) }),
        /history is "1 records"; expected one per epoch \(2\)/,
      ],
      [
        'best not the history',
        (s) => ({ ...s, best: { ...s.best!, testNll: 1 } }),
        /best.testNll is 1; expected history/,
      ],
      [
        'NaN NLL',
        (s) => ({ ...s, history: s.history.map((h, i) => (i === 0 ? { ...h, valid: { ...h.valid, nll: 'x' } } : h)) }),
        /history\[0\].valid.nll is "x"/,
      ],
      [
        'adamStep below the epochs',
        (s) => ({ ...s, adamStep: 1 }),
        /adamStep is 1; expected at least one step per epoch/,
      ],
      ['unknown model', (s) => ({ ...s, config: { ...s.config, model: 'rnn' } }), /config.model is "rnn"/],
    ];
    for (const [what, edit, message] of edits) {
      const bytes = tf.tidy(() => reencode(edit(state)));
      expect(() => decodeCheckpoint(bytes, path, validateRunState), what).toThrow(message);
    }
    // The digest itself: an adamStep edited without recomputing it is refused by the hash.
    const bytes = readFileSync(path);
    const field = Buffer.from(`\\"adamStep\\":${state.adamStep}`, 'latin1');
    const at = bytes.indexOf(field);
    expect(at).toBeGreaterThan(0);
    const edited = Buffer.concat([
      bytes.subarray(0, at),
      Buffer.from(`\\"adamStep\\":${state.adamStep + 1}`.slice(0, field.length), 'latin1'),
      bytes.subarray(at + field.length),
    ]);
    expect(() => decodeCheckpoint(new Uint8Array(edited), path, validateRunState)).toThrow(
      /is corrupt \(the file does not match its sha256\)/,
    );
  });

  it('a checkpoint of the earlier format (data-only sha256, best weights beside it) still resumes', async () => {
    const dir = temp();
    const config = small({ epochs: 3 });
    const whole = await train(config, data, { outDir: temp() });
    await train({ ...config, epochs: 2 }, data, { outDir: dir });
    // Rewrite the checkpoint and best file as version 1 wrote them: digest of names and data only,
    // no best weights in the checkpoint, no data hash.
    const legacy = (file: string, keep: (name: string) => boolean, edit: (s: RunState) => RunState) => {
      const { tensors, state } = decodeCheckpoint<RunState>(new Uint8Array(readFileSync(join(dir, file))), file);
      const arrays = [...tensors].filter(([n]) => keep(n));
      const hash = createHash('sha256');
      for (const [n, t] of arrays) hash.update(n).update(new Uint8Array(t.data.buffer));
      writeFileSync(
        join(dir, file),
        encodeSafetensors(arrays, {
          format: 'tensorized-checkpoint',
          state: JSON.stringify(edit(state)),
          sha256: hash.digest('hex'),
        }),
      );
    };
    const v1 = (s: RunState): RunState => {
      const { dataHash: _, ...rest } = s;
      return { ...rest, version: 1 } as RunState;
    };
    const ckpt = decodeCheckpoint<RunState>(
      new Uint8Array(readFileSync(join(dir, 'checkpoint.safetensors'))),
      'c',
    ).state;
    legacy('checkpoint.safetensors', (n) => !n.startsWith('best/'), v1);
    legacy(
      'best.safetensors',
      () => true,
      (s) => ({ ...v1({ ...ckpt, epoch: s.epoch, history: ckpt.history.slice(0, s.epoch) }), adamStep: 1 }),
    );
    const resumed = await train(config, data, { outDir: dir, resume: true });
    expect(resumed.history.map((h) => h.valid.nll)).toEqual(whole.history.map((h) => h.valid.nll));
    expect(resumed.best).toEqual(whole.best);
  });

  it('a resume with other data is refused (item 4)', async () => {
    const dir = temp();
    await train(small({ epochs: 1 }), data, { outDir: dir });
    const other = syntheticDataset({ seed: 3, train: 16, valid: 6, test: 6 });
    await expect(train(small(), other, { outDir: dir, resume: true })).rejects.toThrow(
      /was made with other data \(sha256 [0-9a-f]{12}\.\.\., these files give [0-9a-f]{12}\.\.\.\)/,
    );
  });
});

describe('run directories (issue 11, items 2 and 4)', () => {
  it('train into a directory that holds a run refuses without --resume or --overwrite; --resume without a checkpoint says so', async () => {
    const dir = temp();
    await train(small({ epochs: 1 }), data, { outDir: dir });
    const before = readFileSync(join(dir, 'checkpoint.safetensors'));
    await expect(train(small({ epochs: 1 }), data, { outDir: dir })).rejects.toThrow(
      /already holds a run \(checkpoint.safetensors, best.safetensors, history.json\); resume it with --resume, replace it with --overwrite/,
    );
    expect(readFileSync(join(dir, 'checkpoint.safetensors')).equals(before)).toBe(true);
    await expect(train(small({ epochs: 1 }), data, { outDir: temp(), resume: true })).rejects.toThrow(
      /--resume: there is no checkpoint in .* to resume from/,
    );
    const replaced = await train(small({ epochs: 1, lr: 2e-2 }), data, { outDir: dir, overwrite: true });
    expect(replaced.config.lr).toBe(2e-2);
  });

  it("a lock keeps a second process out of a run directory, naming the holder; a dead holder's lock is taken over", async () => {
    const dir = temp();
    // This process may take its own lock again; released, the file is gone.
    lockRunDir(dir)();
    expect(existsSync(join(dir, 'lock'))).toBe(false);
    // Another live process holds it.
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 20000)'], { stdio: 'ignore' });
    writeFileSync(
      join(dir, 'lock'),
      JSON.stringify({ pid: live.pid, host: (await import('node:os')).hostname(), since: 'then' }),
    );
    try {
      expect(() => lockRunDir(dir)).toThrow(RunLockedError);
      await expect(train(small({ epochs: 1 }), data, { outDir: dir })).rejects.toThrow(
        new RegExp(`is in use by process ${live.pid} on `),
      );
    } finally {
      live.kill('SIGKILL');
      await new Promise((done) => live.on('exit', done));
    }
    // Its holder is gone: the next process takes the lock over.
    const r = await train(small({ epochs: 1 }), data, { outDir: dir });
    expect(r.epochs).toBe(1);
    expect(existsSync(join(dir, 'lock'))).toBe(false);
  });

  it("processes that find the same dead holder's lock at once: exactly one takes it over", async () => {
    // Two grid workers starting together both see the lock of a process killed in the last session;
    // each must not remove the other's new lock (they would both train the run).
    const lockModule = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'run_lock.js');
    for (let round = 0; round < 3; round++) {
      const dir = temp();
      const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
      await new Promise((done) => dead.on('exit', done));
      writeFileSync(
        join(dir, 'lock'),
        JSON.stringify({ pid: dead.pid, host: (await import('node:os')).hostname(), since: 'then' }),
      );
      const start = Date.now() + 1500;
      const script = `
        const { lockRunDir } = await import(${JSON.stringify(lockModule)});
        while (Date.now() < ${start});
        try { lockRunDir(${JSON.stringify(dir)}); console.log('took'); }
        catch (e) { console.log(e.name); }
        setTimeout(() => {}, 1000);`;
      const outcomes = await Promise.all(
        Array.from(
          { length: 6 },
          () =>
            new Promise<string>((done) => {
              let out = '';
              const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
                stdio: ['ignore', 'pipe', 'inherit'],
              });
              child.stdout.on('data', (d) => {
                out += d;
              });
              child.on('exit', () => done(out.trim()));
            }),
        ),
      );
      expect(
        outcomes.filter((o) => o === 'took'),
        outcomes.join(','),
      ).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'RunLockedError')).toHaveLength(5);
      expect(existsSync(join(dir, 'lock.takeover'))).toBe(false);
    }
  }, 60_000);

  it('orphan temporary files of a killed write are removed on the next start', async () => {
    const dir = temp();
    await train(small({ epochs: 1 }), data, { outDir: dir });
    writeFileSync(join(dir, 'checkpoint.safetensors.12345.0badc0de.tmp'), 'half');
    const lines: string[] = [];
    await train(small(), data, { outDir: dir, resume: true, log: (l) => lines.push(l) });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(lines[0]).toMatch(
      /removed 1 temporary file left by a killed process: checkpoint.safetensors.12345.0badc0de.tmp/,
    );
  });

  it('a training split with nothing to predict is refused (item 5)', async () => {
    const base = syntheticDataset({ seed: 2, train: 4, valid: 2, test: 2 });
    const ones = {
      ...base,
      splits: {
        ...base.splits,
        train: datasetFromSplits(
          'ones',
          'test',
          { train: [[[60]], [[62, 64]]], valid: [[[60]]], test: [[[60]]] },
          'test',
        ).splits.train,
      },
    };
    await expect(train(small({ epochs: 1 }), ones, { outDir: temp() })).rejects.toThrow(/has no frame to predict/);
  });

  it('memory is bounded: a window longer than the limit allows is refused up front with what it needs and the option that fixes it (item 1)', async () => {
    // Pieces of 640 frames: the synthetic pieces, each repeated.
    const base = syntheticDataset({ seed: 2, train: 8, valid: 2, test: 2 });
    const notes = (split: Split) =>
      Array.from({ length: split.sequenceCount }, (_, q) => {
        const steps = Array.from({ length: split.seqStart[q + 1]! - split.seqStart[q]! }, (_, t) =>
          Array.from(keysAt(split, split.seqStart[q]! + t), (k) => k + 21),
        );
        return Array.from({ length: 640 }, (_, t) => steps[t % steps.length]!);
      });
    const long = datasetFromSplits(
      'long',
      'test',
      { train: notes(base.splits.train), valid: notes(base.splits.valid), test: notes(base.splits.test) },
      'test',
    );
    const before = tf.memory().numTensors;
    const error = await train(small({ epochs: 1 }), long, { outDir: temp(), memoryLimitBytes: 8 * 2 ** 20 }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(MemoryBoundError);
    expect((error as Error).message).toMatch(
      /on pieces of up to \d+ frames at batch 8 would hold about .* GiB .* train in windows with --window \d+/,
    );
    expect(tf.memory().numTensors).toBe(before);
    // With a window it fits and trains.
    const r = await train(small({ epochs: 1, window: 50 }), long, { outDir: temp(), memoryLimitBytes: 8 * 2 ** 20 });
    expect(r.epochs).toBe(1);
  });
});

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const calibration = JSON.stringify({
  overheadMs: 0.003,
  flopsPerMs: 2.5e7,
  movedPerMs: 8e5,
  readPerMs: 2e7,
  packPerMs: 2.5e5,
});
const env = { ...process.env, TENSORIZED_CALIBRATION: calibration, TENSORIZED_DATA_DIR: temp() };
const run = (args: string[], extraEnv: Record<string, string> = {}) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: { ...env, ...extraEnv } });
const TINY = [
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
  '--batch-size',
  '8',
];

describe.skipIf(!existsSync(cli))('command line (issue 11)', () => {
  it("a kill at every write of the epochs' ends leaves a consistent run directory, and the resumed run equals the uninterrupted one", () => {
    const args = ['train', ...TINY, '--epochs', '2'];
    const whole = temp();
    expect(run([...args, '--out-dir', whole]).status).toBe(0);
    const nll = (dir: string) =>
      (JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as EpochRecord[]).map((h) => [
        h.train.nll,
        h.valid.nll,
        h.test.nll,
      ]);
    const expected = nll(whole);
    let killedAt = 0;
    for (let n = 1; n < 40; n++) {
      const dir = temp();
      const r = run([...args, '--out-dir', dir], { TENSORIZED_KILL_AT_WRITE: String(n) });
      if (r.status === 0) break; // n is past the last write
      expect(r.signal).toBe('SIGKILL');
      killedAt = n;
      // Consistent at the kill point: the checkpoint (if any) is whole and valid; each copy is the
      // checkpoint's or exactly one epoch behind it (the checkpoint is written first).
      const ckptPath = join(dir, 'checkpoint.safetensors');
      if (existsSync(ckptPath)) {
        const { state } = decodeCheckpoint<RunState>(
          new Uint8Array(readFileSync(ckptPath)),
          ckptPath,
          validateRunState,
        );
        if (existsSync(join(dir, 'history.json'))) {
          const history = JSON.parse(readFileSync(join(dir, 'history.json'), 'utf8')) as EpochRecord[];
          expect([state.epoch, state.epoch - 1]).toContain(history.length);
          expect(history).toEqual(state.history.slice(0, history.length));
        }
        if (existsSync(join(dir, 'best.safetensors'))) {
          const best = decodeCheckpoint<{ epoch: number }>(
            new Uint8Array(readFileSync(join(dir, 'best.safetensors'))),
            'best',
          ).state;
          expect(best.epoch).toBeLessThanOrEqual(state.best!.epoch);
        }
        const resumed = run([...args, '--out-dir', dir, '--resume']);
        expect(resumed.status, resumed.stderr).toBe(0);
      } else {
        const again = run([
          ...args,
          '--out-dir',
          dir,
          ...(existsSync(join(dir, 'history.json')) ? ['--overwrite'] : []),
        ]);
        expect(again.status, again.stderr).toBe(0);
      }
      expect(nll(dir), `killed at write step ${n}`).toEqual(expected);
      expect(readdirSync(dir).filter((f) => f.endsWith('.tmp') || f === 'lock')).toEqual([]);
      // After the resume the copies are the checkpoint's.
      const { state } = decodeCheckpoint<RunState>(
        new Uint8Array(readFileSync(join(dir, 'checkpoint.safetensors'))),
        'c',
        validateRunState,
      );
      expect(
        decodeCheckpoint<{ epoch: number }>(new Uint8Array(readFileSync(join(dir, 'best.safetensors'))), 'b').state
          .epoch,
      ).toBe(state.best!.epoch);
    }
    // Two epochs: checkpoint, best (when improved) and history, two steps each.
    expect(killedAt).toBeGreaterThanOrEqual(8);
  }, 240_000);

  it('reproducible by default: two processes, one of them on a machine kept busy, give bit-identical losses (plans come from the checked-in profile, not a timing)', async () => {
    const { TENSORIZED_CALIBRATION: _, ...plain } = env;
    const args = ['train', ...TINY, '--epochs', '2'];
    const quiet = temp();
    expect(
      spawnSync(process.execPath, [cli, ...args, '--out-dir', quiet], { env: plain, encoding: 'utf8' }).status,
    ).toBe(0);
    // Keep both cores busy while the second process starts and would have measured.
    const hogs = [0, 1].map(() =>
      spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 20000) {}'], { stdio: 'ignore' }),
    );
    const busy = temp();
    try {
      const r = await new Promise<number>((done) =>
        spawn(process.execPath, [cli, ...args, '--out-dir', busy], { env: plain, stdio: 'ignore' }).on('exit', (c) =>
          done(c ?? 1),
        ),
      );
      expect(r).toBe(0);
    } finally {
      for (const h of hogs) h.kill('SIGKILL');
    }
    const read = (dir: string) => {
      const { state } = decodeCheckpoint<RunState>(
        new Uint8Array(readFileSync(join(dir, 'checkpoint.safetensors'))),
        dir,
        validateRunState,
      );
      return { nll: state.history.map((h) => [h.train.nll, h.valid.nll, h.test.nll]), calibration: state.calibration };
    };
    const [a, b] = [read(quiet), read(busy)];
    expect(b.nll).toEqual(a.nll);
    expect(a.calibration).toEqual(COST_PROFILES['wasm']);
    expect(b.calibration).toEqual(COST_PROFILES['wasm']);
  }, 120_000);

  it.each<[string[], RegExp]>([
    [['train', '--epochs', '0'], /--epochs got '0'; expected a positive integer/],
    [['compare', '--epochs', '0'], /--epochs got '0'; expected a positive integer/],
    [['grid', '--epochs', '0'], /--epochs got '0'; expected a positive integer/],
    [['train', '--batch-size', '0'], /--batch-size got '0'; expected a positive integer/],
    [['train', '--max-length', '0'], /--max-length got '0'; expected a positive integer/],
    [['train', '--dropout', '1'], /--dropout got '1'; expected a rate in \[0, 1\)/],
    [['train', '--lr=-1'], /--lr got '-1'; expected a number > 0/],
    [['train', '--model', 'tucker-gru', '--ranks', '2,2,2,99'], /inRanks\[3\] = 99 exceeds its mode size 4/],
    [['train', '--model', 'tt-gru', '--rank', '8'], /--rank \(CP models only\) does not apply to --model tt-gru/],
    [
      ['train', '--model', 'gru', '--ranks', '1,2,2,2,1'],
      /--ranks \(TT, Tucker, TR and BT models only\) does not apply to --model gru/,
    ],
    [['train', '--datasets', 'jsb'], /--datasets does not apply to 'train'; its options are/],
    [['report', '--lr', '0.1'], /--lr does not apply to 'report'/],
    [['grid', '--lr', '0.01,fast'], /--lr must be comma-separated numbers, got '0.01,fast'/],
    [['grid', '--batch-size', '8,0'], /--batch-size got 0 in '8,0'; expected positive integers/],
    [['grid', '--shard', '3/2'], /--shard got '3\/2'; expected i\/n with 1 <= i <= n/],
    [['grid', '--select-on', 'jsb'], /--select-on jsb: .* has no seed-1 runs on jsb/],
    [['grid', 'merge'], /grid merge needs the results files/],
    [['train', '--threads', '0'], /--threads got '0'; expected a positive integer/],
    [
      ['train', '--threads', '2', '--backend', 'cpu'],
      /--threads is an option of the wasm backend; got it with --backend cpu/,
    ],
  ])(
    '%j is refused with a message naming the option and what it expects, exit status 2, before any work',
    (args, message) => {
      const r = run([...args, ...(args[0] === 'grid' && args[1] !== 'merge' ? ['--out-dir', temp()] : [])]);
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(2);
      expect(r.stdout).not.toMatch(/backend:/);
    },
  );

  it('two grid processes over the same runs train each run once (the locks share them out), and report counts each once', async () => {
    const out = temp();
    const args = [
      'grid',
      '--datasets',
      'synthetic',
      '--models',
      'cp-gru',
      '--epochs',
      '1',
      '--lr',
      '0.01',
      '--dropout',
      '0.2',
      '--out-dir',
      out,
    ];
    const spawnOne = () =>
      new Promise<number>((done) =>
        spawn(process.execPath, [cli, ...args], { env, stdio: 'ignore' }).on('exit', (code) => done(code ?? 1)),
      );
    expect(await Promise.all([spawnOne(), spawnOne()])).toEqual([0, 0]);
    const lines = readResults(join(out, 'results.jsonl'));
    expect(lines.map((l) => l.key).sort()).toEqual(
      paperGrid({ datasets: ['synthetic'], models: ['cp-gru'], epochs: 1, lrs: [0.01], dropouts: [0.2] })
        .map(runKey)
        .sort(),
    );
  }, 120_000);

  it('shards run as separate processes and merged give the same results as one process; merge is idempotent and refuses conflicts', async () => {
    const base = [
      'grid',
      ...['--datasets', 'synthetic', '--models', 'tucker-gru', '--epochs', '1', '--lr', '0.01', '--dropout', '0.2,0.5'],
    ];
    const one = temp();
    expect(run([...base, '--out-dir', one]).status).toBe(0);
    const shards = [temp(), temp(), temp()];
    for (const [i, dir] of shards.entries())
      expect(run([...base, '--shard', `${i + 1}/3`, '--out-dir', dir]).status).toBe(0);
    const merged = temp();
    const files = shards.map((d) => join(d, 'results.jsonl'));
    expect(run(['grid', 'merge', ...files, '--out-dir', merged]).stdout).toMatch(/4 runs \(4 new\)/);
    expect(run(['grid', 'merge', ...files, '--out-dir', merged]).stdout).toMatch(/4 runs \(0 new\)/);
    const table = (dir: string) => {
      const r = run(['report', '--results', join(dir, 'results.jsonl'), '--out-dir', join(dir, 'report')]);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, 'report', 'results.md'), 'utf8').replace(/\| +[\d.]+ \|\n/g, '|\n'); // s/epoch aside
    };
    expect(table(merged)).toBe(table(one));
    // A line of another configuration under an existing key is refused, and nothing is written.
    const bad = JSON.parse(readFileSync(files[0]!, 'utf8').split('\n')[0]!) as { config: RunConfig };
    bad.config = { ...bad.config, clip: 1 };
    const conflict = join(temp(), 'conflict.jsonl');
    writeFileSync(conflict, `${JSON.stringify(bad)}\n`);
    const before = readFileSync(join(merged, 'results.jsonl'));
    await expect(mergeResults(join(merged, 'results.jsonl'), [conflict])).rejects.toThrow(MergeError);
    expect(readFileSync(join(merged, 'results.jsonl')).equals(before)).toBe(true);
  }, 180_000);

  it('report skips a line that is not a finished run, with a message, instead of crashing (item 5)', () => {
    const dir = temp();
    const cfg = small();
    const good = {
      key: runKey(cfg),
      config: cfg,
      rnnParams: 10,
      epochs: 2,
      best: { epoch: 1, validNll: 5, testNll: 5, testAccuracy: 0.1 },
      history: [],
      secondsPerEpoch: 1,
    };
    const broken = { ...good, key: runKey({ ...cfg, seed: 2 }), config: { ...cfg, seed: 2 }, best: null };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.jsonl'), `${JSON.stringify(broken)}\n${JSON.stringify(good)}\n`);
    const r = run(['report', '--results', join(dir, 'results.jsonl'), '--out-dir', join(dir, 'report')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/line 1 skipped \(no best epoch\)/);
    expect(r.stdout).toMatch(/^1 runs/);
  });

  it('report reads several results files given by repeated --results; train refuses two', () => {
    const dir = temp();
    const line = (seed: number) => {
      const cfg = { ...small(), seed };
      return {
        key: runKey(cfg),
        config: cfg,
        rnnParams: 10,
        epochs: 2,
        best: { epoch: 1, validNll: 5, testNll: 5 + seed, testAccuracy: 0.1 },
        history: [],
        secondsPerEpoch: 1,
      };
    };
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.jsonl'), `${JSON.stringify(line(1))}\n`);
    writeFileSync(join(dir, 'b.jsonl'), `${JSON.stringify(line(2))}\n`);
    const args = ['report', '--results', join(dir, 'a.jsonl'), '--results', join(dir, 'b.jsonl')];
    const r = run([...args, '--out-dir', join(dir, 'report')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^2 runs/);
    const missing = run(['report', '--results', join(dir, 'a.jsonl'), '--results', join(dir, 'c.jsonl')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no results at .*c\.jsonl/);
    const train = run(['train', '--results', join(dir, 'a.jsonl'), '--results', join(dir, 'b.jsonl')]);
    expect(train.status).not.toBe(0);
    expect(train.stderr).toMatch(/--results: train takes one file, got 2/);
  });
});

describe('grid helpers', () => {
  it('what the user sets on grid is in every run and its key (item 1: --max-length, lr, dropout, batch lists were dropped)', () => {
    const runs = paperGrid({
      datasets: ['musedata'],
      models: ['cp-gru'],
      lrs: [0.02],
      dropouts: [0.1],
      batchSizes: [4, 32],
      maxLength: 200,
      window: 100,
      patience: 3,
      epochs: 7,
    });
    expect(runs).toHaveLength(3 * 2);
    for (const r of runs) {
      expect([r.lr, r.dropout, r.maxLength, r.window, r.patience, r.epochs]).toEqual([0.02, 0.1, 200, 100, 3, 7]);
      expect(runKey(r)).toMatch(/-lr0\.02-do0\.1-b(4|32)-e7-s1-L200-W100-p3$/);
    }
    expect(new Set(runs.map(runKey)).size).toBe(runs.length);
  });

  it('shards are disjoint, cover the grid, and do not depend on the order they start in', () => {
    const runs = paperGrid({ datasets: ['jsb', 'musedata'], seeds: [1, 2] });
    const keys = runs.map(runKey);
    const parts = [1, 2, 3, 4, 5].map((i) => shardOf(runs, i, 5).map(runKey));
    expect(parts.flat().sort()).toEqual([...keys].sort());
    expect(new Set(parts.flat()).size).toBe(keys.length);
    expect(shardOf(runs, 4, 5).map(runKey)).toEqual(parts[3]);
    expect(() => shardOf(runs, 0, 5)).toThrow(/shard must be i\/n with 1 <= i <= n, got 0\/5/);
  });
});

describe('report lines', () => {
  it("every written key is its configuration's, and lines whose key is not are skipped", () => {
    const dir = temp();
    const cfg = small();
    const line = {
      key: 'other',
      config: cfg,
      rnnParams: 1,
      epochs: 1,
      best: { epoch: 1, validNll: 1, testNll: 1, testAccuracy: 0 },
      history: [],
    };
    writeFileSync(join(dir, 'r.jsonl'), `${JSON.stringify(line)}\n`);
    const skipped: string[] = [];
    expect(readResults(join(dir, 'r.jsonl'), (n, why) => skipped.push(`${n}: ${why}`))).toEqual([]);
    expect(skipped[0]).toMatch(/1: its key is not its configuration's/);
  });
});

describe('errors are CheckpointErrors that name the file', () => {
  it('a state that is not JSON', () => {
    const bytes = encodeSafetensors([], {
      format: 'tensorized-checkpoint',
      state: '{not json',
      sha256: '0'.repeat(64),
    });
    expect(() => decodeCheckpoint(bytes, '/x/ckpt')).toThrow(
      /checkpoint \/x\/ckpt is corrupt \(its data does not match its sha256\)/,
    );
    const h = createHash('sha256').digest('hex');
    const unhashed = encodeSafetensors([], { format: 'tensorized-checkpoint', state: '{not json', sha256: h });
    expect(() => decodeCheckpoint(unhashed, '/x/ckpt')).toThrow(/checkpoint \/x\/ckpt has a state that is not JSON/);
  });
});
