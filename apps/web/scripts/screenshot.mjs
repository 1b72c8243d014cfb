// The screenshot in the root README: the page built, served, a piece generated with the demo TT-GRU
// (seed 1, primed with JSB test piece 3 when the dataset is there) and its test NLL computed.
//
//   node apps/web/scripts/screenshot.mjs [out.png]      (default docs/web.png; from the repository root)
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { serve } from './static-server.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const target = process.argv[2] ?? 'docs/web.png';
const executablePath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!executablePath) {
  console.error('screenshot: Debian chromium is not installed (apt-get install chromium)');
  process.exit(2);
}
const out = mkdtempSync(join(tmpdir(), 'tensorized-web-shot-'));
await build({ configFile: join(here, '../vite.config.ts'), logLevel: 'error', build: { outDir: out } });
const { server, url } = await serve(out, true);
const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
  const ready = () => page.waitForSelector('body[data-state="ready"]', { timeout: 300_000 });
  const click = async (id) => {
    await page.click(`#${id}`);
    await page.waitForSelector('body[data-state="busy"], body[data-state="ready"]');
    await ready();
  };
  await page.goto(url);
  await ready();
  const hasData = await page.evaluate(() => !document.getElementById('dataset-info').textContent.includes('not on this server'));
  if (hasData) await page.fill('#primer', '3');
  await click('generate');
  if (hasData) {
    await page.fill('#piece', '3');
    await click('nll');
  }
  await click('time-both');
  const errors = await page.evaluate(() => globalThis.tensorized.errors);
  if (errors.length) throw new Error(errors.join('; '));
  await page.screenshot({ path: target, fullPage: true });
  console.log(`${target}: written`);
} finally {
  await browser.close();
  server.close();
}
