// The page: a model from a safetensors checkpoint (a demo one or a dropped file), music generated
// frame by frame and played, the test NLL of a JSB piece, ms per generated frame. Everything runs
// in the browser on TF.js; errors go to the message line and leave the page working.
import * as tf from '@tensorflow/tfjs-core';
// The webgl backend is an optional peer of @tensorized/backends: a page that offers it imports it.
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { type BackendInfo, type BackendName, useBackend } from '@tensorized/backends';
import {
  checkSampleOptions,
  framesToMidi,
  modelFromCheckpoint,
  type PolyphonicModel,
  pianoRollSvg,
  pieceFrames,
  pieceNll,
  type RunConfig,
  sampleFrames,
} from '@tensorized/bench/web';
import { decodePolyphonicJsonGz, type PolyphonicDataset, readPolyphonicPickle } from '@tensorized/datasets';
import { Player } from './audio.js';

const SECONDS_PER_FRAME = 0.5; // the MIDI file's tempo: one frame per beat at 120 bpm
const PRIMER_FRAMES = 16;
const params = new URLSearchParams(location.search);

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
};

interface Loaded {
  model: PolyphonicModel;
  config: RunConfig;
  bytes: Uint8Array;
  name: string;
}

let loaded: Loaded | undefined;
let backend: BackendInfo | undefined;
let dataset: PolyphonicDataset | undefined;
let frames: number[][] = [];
let primerLength = 0;
let midiUrl: string | undefined;
const player = new Player();
const speed = new Map<string, { model: string; params: number; backend: string; ms: number }>();

/** What the page has measured, for tests and benchmarks (window.tensorized). */
const report: Record<string, unknown> = { errors: [] as string[], numTensors: () => tf.memory().numTensors };
(globalThis as { tensorized?: unknown }).tensorized = report;

function show(message: string, kind: 'error' | 'info' = 'error'): void {
  const el = $('message');
  el.textContent = message;
  el.className = kind;
  el.hidden = false;
  if (kind === 'error') (report['errors'] as string[]).push(message);
}

function clearMessage(): void {
  $('message').hidden = true;
}

/** Runs an action with the page marked busy; an error becomes the message line. */
async function act(what: string, f: () => Promise<void>): Promise<void> {
  document.body.dataset['state'] = 'busy';
  for (const b of document.querySelectorAll('button')) b.disabled = true;
  try {
    clearMessage();
    await f();
  } catch (e) {
    show(`${what}: ${(e as Error).message}`);
  } finally {
    for (const b of document.querySelectorAll<HTMLButtonElement>('button')) b.disabled = false;
    $<HTMLButtonElement>('play').disabled = frames.length === 0;
    $<HTMLButtonElement>('stop').disabled = true;
    document.body.dataset['state'] = 'ready';
  }
}

const nextPaint = (): Promise<void> => new Promise((ok) => setTimeout(ok, 0));

// ---- backend ----

async function startBackend(name: BackendName): Promise<void> {
  const threads = Number(params.get('threads') ?? 1);
  const info = await useBackend(name, name === 'wasm' && threads > 1 ? { threads } : {});
  backend = info;
  $('backend-info').textContent =
    info.name === 'wasm'
      ? `wasm, SIMD ${info.simd ? 'on' : 'off'}, ${info.threads} thread${info.threads > 1 ? 's' : ''}${crossOriginIsolated ? '' : ' (threads need a cross-origin isolated page)'}`
      : info.name === 'webgl'
        ? `webgl (float${info.floatPrecision})`
        : 'cpu (plain JavaScript)';
  report['backend'] = { name: info.name, simd: info.simd, threads: info.threads };
}

async function switchBackend(name: BackendName): Promise<void> {
  const before = backend?.name;
  try {
    await startBackend(name);
  } catch (e) {
    $<HTMLSelectElement>('backend').value = before ?? 'wasm';
    if (before) await startBackend(before);
    throw e;
  }
  // The weights move with the model: rebuilt on the new backend from the same bytes.
  if (loaded) await loadModel(loaded.bytes, loaded.name);
}

// ---- model ----

/** RNN parameters of a dense cell of the same sizes (the compression's reference). */
function denseRnnParams(config: RunConfig, model: PolyphonicModel): number {
  const gates = config.model.endsWith('lstm') ? 4 : 3;
  const { inputSize: n, hiddenSize: h } = model.cellConfig;
  return gates * h * (n + h) + gates * h;
}

async function loadModel(bytes: Uint8Array, name: string): Promise<void> {
  const t0 = performance.now();
  const next = modelFromCheckpoint(bytes, name); // throws a CheckpointError naming the file
  loaded?.model.dispose();
  loaded = { ...next, bytes, name };
  const { model, config } = loaded;
  const rnn = model.rnnParams();
  const dense = denseRnnParams(config, model);
  const rows: Array<[string, string]> = [
    ['file', `${name}: ${bytes.length.toLocaleString('en')} bytes`],
    [
      'model',
      `${config.model}${config.ranks ? ` ranks (${config.ranks.join(',')})` : ''}${config.rank !== undefined ? ` R = ${config.rank}` : ''}, trained on ${config.dataset}`,
    ],
    ['RNN parameters', `${rnn.toLocaleString('en')} (${((rnn * 4) / 1024).toFixed(1)} KiB as float32)`],
    [
      'compression',
      `${(dense / rnn).toFixed(1)}x fewer than a dense ${config.model.endsWith('lstm') ? 'LSTM' : 'GRU'} of the same sizes (${dense.toLocaleString('en')})`,
    ],
  ];
  const body = $('model-info').querySelector('tbody')!;
  body.replaceChildren(
    ...rows.map(([k, v]) => {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.textContent = k;
      const td = document.createElement('td');
      td.textContent = v;
      tr.append(th, td);
      return tr;
    }),
  );
  report['model'] = { name, model: config.model, bytes: bytes.length, rnnParams: rnn, loadMs: performance.now() - t0 };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${r.statusText}`);
  return new Uint8Array(await r.arrayBuffer());
}

async function loadDemo(file: string): Promise<void> {
  await loadModel(await fetchBytes(`./models/${file}`), file);
}

// ---- dataset ----

function setDataset(d: PolyphonicDataset, from: string): void {
  dataset = d;
  $('dataset-info').textContent =
    `${d.name} from ${from}: ${d.splits.test.sequenceCount} test pieces (0..${d.splits.test.sequenceCount - 1}).`;
  $<HTMLInputElement>('piece').max = String(d.splits.test.sequenceCount - 1);
  $<HTMLInputElement>('primer').max = String(d.splits.test.sequenceCount - 1);
}

async function loadDefaultDataset(): Promise<void> {
  // data/index.json says what the build holds (the data is never committed, so it may not be there).
  const index = await fetch('./data/index.json');
  const have = index.ok && ((await index.json()) as Record<string, boolean>)['JSB_Chorales.json.gz'] === true;
  const r = have ? await fetch('./data/JSB_Chorales.json.gz') : undefined;
  if (!r?.ok) {
    $('dataset-info').textContent =
      'JSB Chorales is not on this server: drop JSB_Chorales.json.gz or JSB Chorales.pickle on the page for the NLL and primers.';
    return;
  }
  setDataset(
    await decodePolyphonicJsonGz(new Uint8Array(await r.arrayBuffer()), 'JSB_Chorales.json.gz'),
    'this server',
  );
}

async function loadFile(file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (file.name.endsWith('.json.gz')) setDataset(await decodePolyphonicJsonGz(bytes, file.name), file.name);
  else if (file.name.endsWith('.pickle'))
    setDataset(readPolyphonicPickle(bytes, file.name.replace(/\.pickle$/, ''), file.name), file.name);
  else await loadModel(bytes, file.name);
}

// ---- generation ----

function requireModel(): Loaded {
  if (!loaded) throw new Error('no model is loaded');
  return loaded;
}

function readNumber(id: string, what: string, integer: boolean): number {
  const raw = $<HTMLInputElement>(id).value.trim();
  const x = Number(raw);
  if (raw === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)))
    throw new RangeError(`${what} must be ${integer ? 'an integer' : 'a finite number'}, got '${raw}'`);
  return x;
}

async function generate(): Promise<void> {
  const { model, config, name } = requireModel();
  const length = readNumber('length', 'frames', true);
  const temperatureRaw = $<HTMLInputElement>('temperature').value.trim();
  const temperature = temperatureRaw === '' ? Number.NaN : Number(temperatureRaw);
  const seed = readNumber('seed', 'seed', true);
  const primerRaw = $<HTMLInputElement>('primer').value.trim();
  let primer: number[][] | undefined;
  if (primerRaw !== '') {
    if (!dataset) throw new Error('a primer needs the dataset: drop JSB_Chorales.json.gz on the page');
    primer = pieceFrames(dataset.splits.test, readNumber('primer', 'primer piece', true), PRIMER_FRAMES);
  }
  const options = { length, temperature, seed, ...(primer ? { primer } : {}) };
  checkSampleOptions(options); // temperature <= 0 or NaN, length < 1: a message, nothing generated
  player.stop();
  const progress = $<HTMLProgressElement>('progress');
  const out: number[][] = [];
  const it = sampleFrames(model, options);
  let computeMs = 0;
  const total = length + (primer?.length ?? 0);
  try {
    for (;;) {
      const t0 = performance.now();
      const r = it.next();
      computeMs += performance.now() - t0;
      if (r.done) break;
      out.push(r.value);
      if (out.length % 16 === 0) {
        progress.value = out.length / total;
        await nextPaint();
      }
    }
  } finally {
    it.return(undefined);
  }
  progress.value = 1;
  frames = out;
  primerLength = primer?.length ?? 0;
  const msPerFrame = computeMs / length;
  $('roll').innerHTML = pianoRollSvg(frames, primerLength); // our own SVG text
  if (midiUrl) URL.revokeObjectURL(midiUrl);
  midiUrl = URL.createObjectURL(new Blob([framesToMidi(frames).slice()], { type: 'audio/midi' }));
  const a = $<HTMLAnchorElement>('download');
  a.href = midiUrl;
  a.hidden = false;
  $('ms-per-frame').textContent = `${msPerFrame.toFixed(2)} ms per generated frame (${config.model}, ${backend?.name})`;
  addSpeed(name, model.rnnParams(), msPerFrame);
  const notes = frames.reduce((n, f) => n + f.length, 0);
  report['generated'] = { frames: frames.length, primer: primerLength, notes, msPerFrame, model: config.model };
}

function addSpeed(model: string, rnnParams: number, ms: number): void {
  const label = `${backend?.name ?? '?'}${backend?.name === 'wasm' ? ` ${backend.threads}t` : ''}`;
  const key = `${model} ${label}`;
  const prev = speed.get(key);
  if (!prev || ms < prev.ms) speed.set(key, { model, params: rnnParams, backend: label, ms });
  const body = $('speed').querySelector('tbody')!;
  body.replaceChildren(
    ...[...speed.values()].map((s) => {
      const tr = document.createElement('tr');
      for (const [v, num] of [
        [s.model, false],
        [s.params.toLocaleString('en'), true],
        [s.backend, false],
        [s.ms.toFixed(2), true],
      ] as const) {
        const td = document.createElement('td');
        td.textContent = v;
        if (num) td.className = 'num';
        tr.append(td);
      }
      return tr;
    }),
  );
  report['speed'] = [...speed.values()];
}

/** A piece of the default length (128 frames) from each demo model in turns, five rounds, each model's fastest kept. */
async function timeBoth(): Promise<void> {
  const demos = ['tt-gru-jsb.safetensors', 'gru-jsb.safetensors'];
  const models = await Promise.all(
    demos.map(async (d) => [d, modelFromCheckpoint(await fetchBytes(`./models/${d}`), d)] as const),
  );
  const fastest: Record<string, number> = {};
  try {
    for (let round = 0; round < 5; round++) {
      for (const [d, { model }] of models) {
        const t0 = performance.now();
        let n = 0;
        for (const _ of sampleFrames(model, { length: 128, temperature: 1, seed: round + 1 })) n++;
        const ms = (performance.now() - t0) / n;
        fastest[d] = Math.min(fastest[d] ?? Infinity, ms);
        addSpeed(d, model.rnnParams(), ms);
        await nextPaint();
      }
    }
    report['timeBoth'] = fastest; // this run's fastest per model (the table keeps the fastest of all runs)
  } finally {
    for (const [, { model }] of models) model.dispose();
  }
}

// ---- NLL ----

async function computeNll(): Promise<void> {
  const { model, name } = requireModel();
  if (!dataset)
    throw new Error('the NLL needs the dataset: drop JSB_Chorales.json.gz (or JSB Chorales.pickle) on the page');
  const q = readNumber('piece', 'test piece', true);
  const t0 = performance.now();
  const r = pieceNll(model, dataset.splits.test, q);
  const ms = performance.now() - t0;
  const el = $('nll-value');
  el.textContent = `${r.nll.toFixed(4)} nats per frame over ${r.frames} frames (accuracy ${r.accuracy.toFixed(3)}; ${ms.toFixed(0)} ms)`;
  el.dataset['value'] = String(r.nll);
  report['nll'] = { piece: q, nll: r.nll, frames: r.frames, model: name };
}

// ---- wiring ----

async function play(): Promise<void> {
  if (frames.length === 0) throw new Error('generate a piece first');
  const first = await player.play(frames, SECONDS_PER_FRAME, () => {
    $<HTMLButtonElement>('stop').disabled = true;
  });
  report['firstSoundMs'] ??= first;
  $<HTMLButtonElement>('stop').disabled = false;
}

function wire(): void {
  $('generate').addEventListener('click', () => void act('generate', generate));
  $('nll').addEventListener('click', () => void act('NLL', computeNll));
  $('time-both').addEventListener('click', () => void act('time both', timeBoth));
  $('play').addEventListener('click', () => {
    play().catch((e: Error) => show(`play: ${e.message}`));
  });
  $('stop').addEventListener('click', () => {
    player.stop();
    $<HTMLButtonElement>('stop').disabled = true;
  });
  $('demo').addEventListener('change', (e) => void act('load', () => loadDemo((e.target as HTMLSelectElement).value)));
  $('backend').addEventListener(
    'change',
    (e) => void act('backend', () => switchBackend((e.target as HTMLSelectElement).value as BackendName)),
  );
  const input = $<HTMLInputElement>('file');
  input.addEventListener('change', () => {
    const f = input.files?.[0];
    if (f) void act(f.name, () => loadFile(f));
    input.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void act(f.name, () => loadFile(f));
  });
  // Whatever escapes the handlers still reaches the message line.
  addEventListener('unhandledrejection', (e) => show(String((e.reason as Error)?.message ?? e.reason)));
}

async function start(): Promise<void> {
  wire();
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  const asked = (params.get('backend') ?? 'wasm') as BackendName;
  $<HTMLSelectElement>('backend').value = asked;
  const demo = params.get('model') ?? 'tt-gru-jsb.safetensors';
  $<HTMLSelectElement>('demo').value = demo;
  await act('start', async () => {
    await startBackend(asked);
    await Promise.all([loadDemo(demo), loadDefaultDataset()]);
    report['loadedAtMs'] = performance.now();
    if (params.has('autoplay')) {
      // Benchmarks: the time from navigation to the first sound of a generated piece.
      await generate();
      await play();
    }
  });
  document.body.dataset['state'] = 'ready';
}

void start();
