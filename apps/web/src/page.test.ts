// The page in a real browser: apps/web built with Vite, served by a small static server (with or
// without the cross-origin isolation headers), driven in Debian's Chromium by playwright-core.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { encodeCheckpoint, modelFromCheckpoint, pieceNll } from '@tensorized/bench/web';
import { decodePolyphonicJsonGz } from '@tensorized/datasets';
import { useBackend } from '@tensorized/test-utils';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '../scripts/static-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const DATA = join(
  process.env['TENSORIZED_DATA_DIR'] ?? join(here, '../../../../shared/data/polyphonic'),
  'JSB_Chorales.json.gz',
);
const TT = join(here, '../public/models/tt-gru-jsb.safetensors');

let built: Promise<string> | undefined;
function build(): Promise<string> {
  built ??= (async () => {
    const { build: viteBuild } = await import('vite');
    const out = mkdtempSync(join(tmpdir(), 'tensorized-web-'));
    await viteBuild({ configFile: join(here, '../vite.config.ts'), logLevel: 'warn', build: { outDir: out } });
    return out;
  })();
  return built;
}

interface Report {
  errors: string[];
  backend?: { name: string; simd: boolean; threads: number };
  model?: { name: string; model: string; bytes: number; rnnParams: number };
  generated?: { frames: number; primer: number; notes: number; msPerFrame: number };
  nll?: { piece: number; nll: number; frames: number };
}

const report = (page: Page): Promise<Report> =>
  page.evaluate(() => {
    const { numTensors: _, ...rest } = (globalThis as unknown as { tensorized: Record<string, unknown> }).tensorized;
    return JSON.parse(JSON.stringify(rest)) as Report;
  });
const numTensors = (page: Page): Promise<number> =>
  page.evaluate(() => (globalThis as unknown as { tensorized: { numTensors(): number } }).tensorized.numTensors());
const ready = (page: Page): Promise<unknown> => page.waitForSelector('body[data-state="ready"]', { timeout: 120_000 });

async function click(page: Page, id: string): Promise<void> {
  await page.click(`#${id}`);
  await page.waitForSelector('body[data-state="busy"], body[data-state="ready"]');
  await ready(page);
}

async function open(browser: Browser, url: string): Promise<{ page: Page; consoleErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(url);
  await ready(page);
  return { page, consoleErrors };
}

/** Pixels of the piano roll's green in a PNG, counted by the browser's own decoder. */
async function greenPixels(page: Page, png: Buffer): Promise<{ green: number; distinct: number }> {
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = img.width;
    canvas.height = img.height;
    const ctx = canvas.getContext('2d')!;
    ctx.drawImage(img, 0, 0);
    const px = ctx.getImageData(0, 0, img.width, img.height).data;
    let green = 0;
    const colours = new Set<number>();
    for (let i = 0; i < px.length; i += 4) {
      const [r, g, b] = [px[i]!, px[i + 1]!, px[i + 2]!];
      if (Math.abs(r - 0x1b) < 8 && Math.abs(g - 0x9e) < 8 && Math.abs(b - 0x77) < 8) green++;
      if (colours.size < 64) colours.add((r << 16) | (g << 8) | b);
    }
    return { green, distinct: colours.size };
  }, png.toString('base64'));
}

describe.skipIf(!CHROMIUM)('apps/web in headless Chromium', () => {
  let browser: Browser;
  let nodeNll: number;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM!,
      args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
    });
    await build();
    // The Node figure for the same checkpoint and piece: the TT-GRU on JSB's test piece 3.
    await useBackend('wasm');
    if (existsSync(DATA)) {
      const data = await decodePolyphonicJsonGz(new Uint8Array(readFileSync(DATA)));
      const { model } = modelFromCheckpoint(new Uint8Array(readFileSync(TT)), 'tt-gru-jsb.safetensors');
      nodeNll = pieceNll(model, data.splits.test, 3).nll;
      model.dispose();
    }
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
  });

  it('loads with no console errors, generates a piece, draws and plays it, matches Node on the NLL, leaks nothing; bad input is a message and the page keeps working', async () => {
    const { server, url } = await serve(await build(), false);
    try {
      const { page, consoleErrors } = await open(browser, url);
      let r = await report(page);
      expect(r.errors).toEqual([]);
      expect(r.backend).toEqual({ name: 'wasm', simd: true, threads: 1 });
      expect(r.model).toMatchObject({ model: 'tt-gru', rnnParams: 7168, bytes: readFileSync(TT).length });
      expect(await page.textContent('#model-info')).toMatch(
        /7,168 .*164\.8x fewer than a dense GRU of the same sizes \(1,181,184\)/s,
      );

      const before = await numTensors(page);
      await click(page, 'generate');
      r = await report(page);
      expect(r.errors).toEqual([]);
      expect(r.generated).toMatchObject({ frames: 128, primer: 0 });
      expect(r.generated!.notes).toBeGreaterThan(128); // JSB: about four notes a frame
      expect(await page.locator('#roll svg rect').count()).toBeGreaterThan(r.generated!.notes);
      expect(await page.getAttribute('#download', 'href')).toMatch(/^blob:/);
      expect(await numTensors(page)).toBe(before);
      await page.click('#play');
      await page.waitForFunction(
        () =>
          (globalThis as unknown as { tensorized: { firstSoundMs?: number } }).tensorized.firstSoundMs !== undefined,
      );

      // The screenshot: not blank, the piano roll drawn in its colour.
      const shot = await page.screenshot({ fullPage: true });
      const { green, distinct } = await greenPixels(page, shot);
      expect(distinct).toBeGreaterThan(8);
      expect(green).toBeGreaterThan(r.generated!.notes * 4); // each note-frame a 4x4 square, some overlap aside

      if (existsSync(DATA)) {
        await page.fill('#piece', '3');
        await click(page, 'nll');
        r = await report(page);
        expect(r.nll!.piece).toBe(3);
        expect(Math.abs(r.nll!.nll - nodeNll)).toBeLessThan(1e-4);
        // A primer from that piece: its 16 frames come first.
        await page.fill('#primer', '3');
        await click(page, 'generate');
        expect((await report(page)).generated).toMatchObject({ frames: 144, primer: 16 });
        await page.fill('#primer', '');
      }

      // Bad input: each a message naming what was wrong; the model stays, the page works on.
      const bad: Array<[string, Buffer, RegExp]> = [
        ['notes.txt', Buffer.from('not a checkpoint'), /notes\.txt: checkpoint notes\.txt is truncated or corrupt/],
        ['cut.safetensors', readFileSync(TT).subarray(0, 5000), /cut\.safetensors is truncated or corrupt/],
        ['other.safetensors', unknownModelCheckpoint(), /other\.safetensors has an invalid state: .*model/],
      ];
      for (const [name, buffer, message] of bad) {
        await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer });
        await page.waitForSelector('#message:not([hidden])');
        await ready(page);
        expect(await page.textContent('#message')).toMatch(message);
      }
      for (const t of ['0', '-1', '']) {
        await page.fill('#temperature', t);
        await click(page, 'generate');
        expect(await page.textContent('#message')).toMatch(/temperature must be a finite number > 0, got (0|-1|NaN)/);
      }
      await page.fill('#temperature', '1');
      await click(page, 'generate');
      r = await report(page);
      expect(await page.isHidden('#message')).toBe(true);
      expect(r.model!.model).toBe('tt-gru');
      expect(r.generated!.frames).toBe(128);

      // The cpu backend: the same model rebuilt there, the same NLL.
      if (existsSync(DATA)) {
        await page.selectOption('#backend', 'cpu');
        await ready(page);
        await click(page, 'nll');
        r = await report(page);
        expect(r.backend!.name).toBe('cpu');
        expect(Math.abs(r.nll!.nll - nodeNll)).toBeLessThan(1e-4);
        // And webgl (SwiftShader in headless Chromium): float32 in shaders, the same NLL.
        await page.selectOption('#backend', 'webgl');
        await ready(page);
        await click(page, 'nll');
        r = await report(page);
        expect(await page.isHidden('#message')).toBe(true);
        expect(r.backend!.name).toBe('webgl');
        expect(Math.abs(r.nll!.nll - nodeNll)).toBeLessThan(1e-4);
      }
      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      server.close();
    }
  }, 300_000);

  it('served with COOP/COEP and ?threads=2, wasm computes with 2 threads and gives the same NLL', async () => {
    const { server, url } = await serve(await build(), true);
    try {
      const { page, consoleErrors } = await open(browser, `${url}?threads=2`);
      const r = await report(page);
      expect(r.errors).toEqual([]);
      expect(r.backend).toEqual({ name: 'wasm', simd: true, threads: 2 });
      await click(page, 'generate');
      expect((await report(page)).generated!.frames).toBe(128);
      if (existsSync(DATA)) {
        await page.fill('#piece', '3');
        await click(page, 'nll');
        expect(Math.abs((await report(page)).nll!.nll - nodeNll)).toBeLessThan(1e-4);
      }
      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      server.close();
    }
  }, 300_000);
});

/** A well-formed checkpoint whose state names a model that does not exist. */
function unknownModelCheckpoint(): Buffer {
  const w = tf.zeros([2, 2]);
  const bytes = encodeCheckpoint([['in.W', w]], { config: { dataset: 'jsb', model: 'xyz-gru', seed: 1 } });
  w.dispose();
  return Buffer.from(bytes);
}
