import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { MODEL_NAMES, paperCellConfig } from '@tensorized/cells';
import { decodePolyphonicJsonGz, KEYS, syntheticDataset } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from './load_model.js';
import { PolyphonicModel } from './model.js';
import { evaluate, pieceNll } from './evaluate.js';
import { summarise } from './metrics.js';
import { framesToMidi, midiToFrames, pianoRollSvg, sampleFrames, samplePiece } from './sample.js';
import { train } from './train.js';

const temp = (): string => mkdtempSync(join(tmpdir(), 'tensorized-sample-'));
const data = syntheticDataset({ seed: 2, train: 24, valid: 8, test: 8 });
let checkpoint = '';

beforeAll(async () => {
  await useBackend('wasm');
  const dir = temp();
  await train(
    {
      dataset: 'synthetic',
      model: 'tt-gru',
      ranks: [1, 3, 3, 3, 1],
      inputSize: 16,
      inputModes: [2, 2, 2, 2],
      hiddenSize: 32,
      hiddenModes: [4, 2, 2, 2],
      lr: 1e-2,
      dropout: 0,
      batchSize: 8,
      epochs: 3,
      seed: 1,
      clip: 5,
    },
    data,
    { outDir: dir },
  );
  checkpoint = join(dir, 'best.safetensors');
});

describe('sampling', () => {
  it('generates a piece frame by frame: the same seed the same piece, another seed another; no tensor leaks', async () => {
    const { model } = await loadModel(checkpoint);
    const before = tf.memory().numTensors;
    const a = samplePiece(model, { length: 40, temperature: 1, seed: 7 });
    const b = samplePiece(model, { length: 40, temperature: 1, seed: 7 });
    const c = samplePiece(model, { length: 40, temperature: 1, seed: 8 });
    expect(tf.memory().numTensors).toBe(before);
    expect(a).toHaveLength(40);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(a.flat().every((k) => Number.isInteger(k) && k >= 0 && k < 88)).toBe(true);
    model.dispose();
  });

  it('a primer is fed first and kept; a low temperature draws the likely keys only', async () => {
    const { model } = await loadModel(checkpoint);
    const primer = [
      [40, 44, 47],
      [40, 44, 47],
      [42, 45, 49],
    ];
    const piece = samplePiece(model, { length: 10, temperature: 0.05, seed: 1, primer });
    expect(piece.slice(0, 3)).toEqual(primer);
    expect(piece).toHaveLength(13);
    // Near zero temperature the draws are nearly deterministic: two seeds agree.
    expect(samplePiece(model, { length: 10, temperature: 0.05, seed: 2, primer })).toEqual(piece);
    expect(() => samplePiece(model, { length: 10, temperature: 0, seed: 1 })).toThrow(
      /temperature must be a finite number > 0, got 0/,
    );
    expect(() => samplePiece(model, { length: 10, temperature: Number.NaN, seed: 1 })).toThrow(/got NaN/);
    model.dispose();
  });

  it('sampleFrames gives the same frames one at a time; stopping early leaks nothing; bad options throw at the call', async () => {
    const { model } = await loadModel(checkpoint);
    const before = tf.memory().numTensors;
    const whole = samplePiece(model, { length: 12, temperature: 1, seed: 3 });
    const first: number[][] = [];
    for (const f of sampleFrames(model, { length: 12, temperature: 1, seed: 3 })) {
      first.push(f);
      if (first.length === 5) break;
    }
    expect(first).toEqual(whole.slice(0, 5));
    expect(tf.memory().numTensors).toBe(before);
    expect(() => sampleFrames(model, { length: 0, temperature: 1, seed: 1 })).toThrow(
      /length must be a positive integer/,
    );
    model.dispose();
  });

  it('the stepper gives, frame by frame, the logits of the whole-sequence forward pass, for every model', () => {
    const T = 6;
    for (const name of MODEL_NAMES) {
      const model = new PolyphonicModel(paperCellConfig(name, { seed: 3 }), 3);
      const frames = tf.tidy(() =>
        tf.cast(tf.less(tf.randomUniform([1, T, KEYS], 0, 1, 'float32', 11), 0.1), 'float32'),
      );
      const mask = tf.ones([1, T]) as tf.Tensor2D;
      const whole = tf.tidy(() => model.logits(frames as tf.Tensor3D, mask).arraySync());
      const before = tf.memory().numTensors;
      const stepper = model.stepper(1);
      let state: tf.Tensor2D[] | undefined;
      for (let t = 0; t < T; t++) {
        const x = tf.tidy(() => tf.reshape(tf.slice(frames, [0, t, 0], [1, 1, KEYS]), [1, KEYS]) as tf.Tensor2D);
        const out = stepper.step(x, state);
        const got = out.logits.arraySync()[0]!;
        tf.dispose([x, out.logits, ...(state ?? [])]);
        state = out.state;
        for (let k = 0; k < KEYS; k++)
          expect(Math.abs(got[k]! - whole[t]![k]!), `${name} frame ${t} key ${k}`).toBeLessThan(1e-5);
      }
      stepper.dispose();
      tf.dispose(state ?? []);
      expect(tf.memory().numTensors, name).toBe(before);
      tf.dispose([frames, mask]);
      model.dispose();
    }
  });

  it('pieceNll over every piece of a split adds up to evaluate of the split (frame-weighted)', async () => {
    const { model } = await loadModel(checkpoint);
    const before = tf.memory().numTensors;
    const split = data.splits.test;
    const whole = summarise(evaluate(model, split, 4)).nll;
    let nll = 0;
    let frames = 0;
    for (let q = 0; q < split.sequenceCount; q++) {
      const r = pieceNll(model, split, q, 7); // another window: the state carried makes it exact
      nll += r.nll * r.frames;
      frames += r.frames;
    }
    expect(nll / frames).toBeCloseTo(whole, 4);
    expect(() => pieceNll(model, split, split.sequenceCount)).toThrow(/piece must be an integer in 0\.\.7, got 8/);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it('the MIDI file holds exactly the frames (read back with the MIDI library), and the SVG draws every note', () => {
    const frames = [[39, 43], [39, 43], [], [60], [0, 87], [87]];
    const bytes = framesToMidi(frames);
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('MThd');
    expect(midiToFrames(bytes)).toEqual(frames);
    const svg = pianoRollSvg(frames, 2);
    expect((svg.match(/<rect x=/g) ?? []).length).toBe(frames.flat().length);
    expect((svg.match(/fill="#999"/g) ?? []).length).toBe(4);
  });
});

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

describe.skipIf(!existsSync(cli))('sample command', () => {
  it('writes the MIDI file and the piano roll; bad input is a clear error with exit 2 and nothing written', () => {
    const out = join(temp(), 'piece.mid');
    const r = spawnSync(
      process.execPath,
      [cli, 'sample', '--from', checkpoint, '--out', out, '--length', '24', '--seed', '3'],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/24 frames \(0 of primer\) from tt-gru .* ms per generated frame/);
    expect(midiToFrames(new Uint8Array(readFileSync(out)))).toHaveLength(24);
    expect(readFileSync(out.replace(/\.mid$/, '.svg'), 'utf8')).toMatch(/^<svg/);
    for (const [args, message] of [
      [['--temperature', '0'], /--temperature got '0'; expected a number > 0/],
      [['--temperature', 'NaN'], /--temperature got 'NaN'/],
      [['--primer-piece', '0'], /the synthetic dataset, which has no pieces to prime from/],
    ] as const) {
      const bad = join(temp(), 'bad.mid');
      const b = spawnSync(process.execPath, [cli, 'sample', '--from', checkpoint, '--out', bad, ...args], {
        encoding: 'utf8',
      });
      expect(b.stderr).toMatch(message);
      expect(b.status).toBe(2);
      expect(existsSync(bad)).toBe(false);
    }
    const notCheckpoint = join(temp(), 'x.safetensors');
    writeFileSync(notCheckpoint, 'not a checkpoint');
    const n = spawnSync(process.execPath, [cli, 'sample', '--from', notCheckpoint, '--out', join(temp(), 'y.mid')], {
      encoding: 'utf8',
    });
    expect(n.status).toBe(2);
    expect(n.stderr).toMatch(/--from .*x.safetensors: checkpoint .* is truncated or corrupt/);
  });
});

// The demo TT-GRU of apps/web (trained on JSB) and JSB itself, where the project's data is.
const demo = join(dirname(fileURLToPath(import.meta.url)), '../../web/public/models/tt-gru-jsb.safetensors');
const dataDir =
  process.env['TENSORIZED_DATA_DIR'] ??
  join(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data/polyphonic');
const haveJsb = existsSync(join(dataDir, 'JSB_Chorales.json.gz'));

describe.skipIf(!existsSync(cli))('nll command', () => {
  it.skipIf(!haveJsb)(
    "prints a test piece's NLL equal to pieceNll in this process, and the split's; a bad piece is exit 2",
    async () => {
      const { model } = await loadModel(demo);
      const data = await decodePolyphonicJsonGz(new Uint8Array(readFileSync(join(dataDir, 'JSB_Chorales.json.gz'))));
      const expected = pieceNll(model, data.splits.test, 3).nll;
      const whole = summarise(evaluate(model, data.splits.test, 16)).nll;
      model.dispose();
      const run = (...args: string[]) =>
        spawnSync(process.execPath, [cli, 'nll', '--from', demo, '--data-dir', dataDir, ...args], { encoding: 'utf8' });
      const r = run('--piece', '3');
      expect(r.status, r.stderr).toBe(0);
      const printed = Number(/NLL ([\d.]+) per frame over 38 frames/.exec(r.stdout)?.[1]);
      expect(Math.abs(printed - expected)).toBeLessThan(1e-4);
      expect(Number(/test split of jsb: NLL ([\d.]+)/.exec(run().stdout)?.[1])).toBeCloseTo(whole, 3);
      const bad = run('--piece', '99');
      expect(bad.status).toBe(2);
      expect(bad.stderr).toMatch(/--piece: piece must be an integer in 0\.\.76, got 99 \(the test split of jsb\)/);
    },
  );

  it('refuses a model of the synthetic dataset, and a missing --from', () => {
    const s = spawnSync(process.execPath, [cli, 'nll', '--from', checkpoint], { encoding: 'utf8' });
    expect(s.status).toBe(2);
    expect(s.stderr).toMatch(/trained on the synthetic dataset/);
    const m = spawnSync(process.execPath, [cli, 'nll'], { encoding: 'utf8' });
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/nll needs --from <checkpoint>/);
  });
});
