import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { BackendResult } from './page.js';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/**
 * Serves `dir`; the page POSTs its outcome to /result, which `outcome` resolves with. `isolated`
 * sends the headers that make the page cross-origin isolated (what the threaded wasm build needs).
 */
function serve(dir: string, isolated = false): Promise<{ server: Server; url: string; outcome: Promise<string> }> {
  const headers: Record<string, string> = isolated
    ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' }
    : {};
  let report: (body: string) => void = () => {};
  const outcome = new Promise<string>((ok) => {
    report = ok;
  });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      req.on('end', () => {
        res.writeHead(204).end();
        report(body);
      });
      return;
    }
    const path = join(dir, decodeURIComponent((req.url ?? '/').split('?')[0]!));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res
      .writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
      .end(readFileSync(file));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, outcome }),
    ),
  );
}

/** Bundles page.ts with Vite (once) and copies the wasm binaries beside it. */
let bundled: Promise<string> | undefined;
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('vite');
    const out = mkdtempSync(join(tmpdir(), 'tensorized-browser-'));
    const root = mkdtempSync(join(tmpdir(), 'tensorized-page-'));
    writeFileSync(
      join(root, 'index.html'),
      `<!doctype html><title>LOADING</title><script type="module" src="${join(here, 'page.ts')}"></script>`,
    );
    await build({
      root,
      logLevel: 'warn',
      configFile: false,
      // The workspace packages from their TypeScript sources, each in its browser build.
      resolve: { conditions: ['@tensorized/source', 'browser', 'module', 'import', 'default'] },
      build: { outDir: out, emptyOutDir: true, minify: false, target: 'es2022', chunkSizeWarningLimit: 100_000 },
      server: { fs: { allow: ['/'] } },
    });
    mkdirSync(join(out, 'wasm'));
    const wasmDist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
    for (const f of readdirSync(wasmDist).filter((f) => f.endsWith('.wasm')))
      copyFileSync(join(wasmDist, f), join(out, 'wasm', f));
    return out;
  })();
  return bundled;
}

type PageResult = BackendResult;

/** Loads the bundled page in headless Chromium (`query` its search string) and returns what it posted. */
async function runPage(query: string, isolated: boolean): Promise<PageResult[]> {
  const out = await bundle();
  const { server, url, outcome } = await serve(out, isolated);
  const profile = mkdtempSync(join(tmpdir(), 'tensorized-chromium-'));
  const browser = spawn(
    CHROMIUM!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      '--remote-debugging-port=0',
      `${url}${query}`,
    ],
    { stdio: 'ignore' },
  );
  try {
    const timeout = new Promise<string>((_, fail) =>
      setTimeout(() => fail(new Error('the page sent no result in 180 s')), 180_000),
    );
    const body = JSON.parse(await Promise.race([outcome, timeout])) as { results?: unknown; error?: string };
    expect(body.error).toBeUndefined();
    return body.results as PageResult[];
  } finally {
    browser.kill('SIGKILL');
    server.close();
  }
}

function expectSound(results: PageResult[]): void {
  expect(results.map((r) => r.backend)).toEqual(['cpu', 'wasm']);
  for (const r of results) {
    expect(r.ttVsDense).toBeLessThan(1e-4);
    expect(r.leaked, JSON.stringify(results)).toBe(0);
    expect(Number.isFinite(r.gradNorm) && r.gradNorm > 0).toBe(true);
  }
  // The same seeded cell gives the same outputs on both backends.
  for (const [i, v] of results[1]!.cellOutput.entries()) expect(v).toBeCloseTo(results[0]!.cellOutput[i]!, 4);
  expect(results[1]!.gradNorm).toBeCloseTo(results[0]!.gradNorm, 2);
}

describe.skipIf(!CHROMIUM)('the packages in a real browser (headless Chromium)', () => {
  it('bundled for the browser, useBackend starts cpu and wasm; a TT product equals its dense matrix; the TT-GRU runs and differentiates; nothing leaks', async () => {
    const results = await runPage('', false);
    expectSound(results);
    expect(results[1]!.threads).toBe(1);
  }, 300_000);

  it('on a cross-origin isolated page, wasm with threads: 2 computes with 2 threads and the same results', async () => {
    const results = await runPage('?threads=2', true);
    expectSound(results);
    expect(results[1]!.simd).toBe(true);
    expect(results[1]!.threads).toBe(2);
  }, 300_000);
});
