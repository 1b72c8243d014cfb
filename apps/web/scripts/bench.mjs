// The page's speed in headless Chromium (Debian's chromium): ms per generated frame (batch 1) of the
// demo TT-GRU and dense GRU on wasm with 1 and 2 threads (the page's "Time both": 128 frames of each
// model in turns, five times; a page per thread count, the rounds alternating between the two pages;
// each model's fastest), and the time from navigation to the first sound of a generated piece
// (?autoplay: backend, model, dataset, 128 frames, then playback).
//
//   node apps/web/scripts/bench.mjs [rounds]      (from the repository root; builds the page first)
//
// Pause background trainings first: the machine is shared, compare figures within one run only.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { serve } from './static-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) {
  console.error('bench: Debian chromium is not installed (apt-get install chromium)');
  process.exit(2);
}
const rounds = Number(process.argv[2] ?? 2);
if (!(Number.isInteger(rounds) && rounds >= 1)) {
  console.error(`bench: rounds must be a positive integer, got ${process.argv[2]}`);
  process.exit(2);
}

const out = mkdtempSync(join(tmpdir(), 'tensorized-web-bench-'));
await build({ configFile: join(here, '../vite.config.ts'), logLevel: 'error', build: { outDir: out } });
const { server, url } = await serve(out, true);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
const report = (page) => page.evaluate(() => JSON.parse(JSON.stringify({ ...globalThis.tensorized, numTensors: 0 })));
const ready = (page) => page.waitForSelector('body[data-state="ready"]', { timeout: 300_000 });

const best = new Map(); // "model threads" -> ms/frame
const firstSound = new Map(); // threads -> ms
const perRound = new Map(); // "model threads" -> ms/frame of each round (its run's fastest)
let version = '';
try {
  version = browser.version();
  // Both thread counts stay loaded in two pages, and the rounds alternate between them (the order
  // swapping every round): on this shared machine the speed drifts by 30% within minutes, so only
  // measurements taken in turns compare.
  const pages = new Map();
  for (const threads of [1, 2]) {
    const page = await browser.newPage();
    await page.goto(`${url}?threads=${threads}`);
    await ready(page);
    const r0 = await report(page);
    if (r0.errors.length) throw new Error(r0.errors.join('; '));
    if (r0.backend.threads !== threads) throw new Error(`asked for ${threads} threads, the page runs ${r0.backend.threads}`);
    pages.set(threads, page);
  }
  for (let round = 0; round < rounds; round++) {
    for (const threads of round % 2 === 0 ? [1, 2] : [2, 1]) {
      const page = pages.get(threads);
      await page.bringToFront();
      await page.click('#time-both');
      await page.waitForSelector('body[data-state="busy"]');
      await ready(page);
      const r = await report(page);
      if (r.errors.length) throw new Error(r.errors.join('; '));
      for (const [model, ms] of Object.entries(r.timeBoth)) {
        const key = `${model}|${threads}`;
        best.set(key, Math.min(best.get(key) ?? Infinity, ms));
        (perRound.get(key) ?? perRound.set(key, []).get(key)).push(ms);
      }
    }
  }
  for (const page of pages.values()) await page.close();
  for (let round = 0; round < rounds; round++) {
    for (const threads of round % 2 === 0 ? [1, 2] : [2, 1]) {
      const auto = await browser.newPage();
      await auto.goto(`${url}?threads=${threads}&autoplay`);
      await ready(auto);
      const r = await report(auto);
      if (r.errors.length) throw new Error(r.errors.join('; '));
      firstSound.set(threads, Math.min(firstSound.get(threads) ?? Infinity, r.firstSoundMs));
      await auto.close();
    }
  }
} finally {
  await browser.close();
  server.close();
}

const models = [
  ['tt-gru-jsb.safetensors', 'TT-GRU ranks 8 (7,168 RNN parameters)'],
  ['gru-jsb.safetensors', 'dense GRU (1,181,184 RNN parameters)'],
];
console.log(`headless ${version}, wasm SIMD, the page served cross-origin isolated; fastest of ${rounds} round(s)`);
console.log('');
console.log('| model | ms/frame, 1 thread | ms/frame, 2 threads |');
console.log('| --- | ---: | ---: |');
for (const [file, label] of models)
  console.log(`| ${label} | ${best.get(`${file}|1`).toFixed(3)} | ${best.get(`${file}|2`).toFixed(3)} |`);
const tt = best.get('tt-gru-jsb.safetensors|1');
const dense = best.get('gru-jsb.safetensors|1');
console.log('');
console.log(`TT-GRU / dense GRU per frame: ${(tt / dense).toFixed(2)} (1 thread), ${(best.get('tt-gru-jsb.safetensors|2') / best.get('gru-jsb.safetensors|2')).toFixed(2)} (2 threads)`);
console.log(`time to first sound (navigation to the first note, TT-GRU, 128 frames generated first): ${firstSound.get(1).toFixed(0)} ms (1 thread), ${firstSound.get(2).toFixed(0)} ms (2 threads)`);
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
for (const [file, label] of models) {
  const one = perRound.get(`${file}|1`);
  const two = perRound.get(`${file}|2`);
  const ratios = one.map((v, i) => two[i] / v);
  console.log(`${label.split(' (')[0]}, 2 threads / 1 thread, round by round: median ${median(ratios).toFixed(3)}, range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}, ${ratios.filter((q) => q > 1).length} of ${ratios.length} rounds slower`);
}
