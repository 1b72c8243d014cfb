import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serves `dir`; the page POSTs its outcome to /result, which `outcome` resolves with. */
function serve(dir: string): Promise<{ server: Server; url: string; outcome: Promise<string> }> {
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
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () =>
      ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, outcome }),
    ),
  );
}

describe.skipIf(!CHROMIUM)('the packages in a real browser (headless Chromium)', () => {
  it('bundled for the browser, useBackend starts cpu and wasm; a TT product equals its dense matrix; the TT-GRU runs and differentiates; nothing leaks', async () => {
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
    const { server, url, outcome } = await serve(out);
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
        url,
      ],
      { stdio: 'ignore' },
    );
    try {
      const timeout = new Promise<string>((_, fail) =>
        setTimeout(() => fail(new Error('the page sent no result in 180 s')), 180_000),
      );
      const body = JSON.parse(await Promise.race([outcome, timeout])) as { results?: unknown; error?: string };
      expect(body.error).toBeUndefined();
      const results = body.results as Array<{
        backend: string;
        simd: boolean;
        ttVsDense: number;
        cellOutput: number[];
        gradNorm: number;
        leaked: number;
      }>;
      expect(results.map((r) => r.backend)).toEqual(['cpu', 'wasm']);
      for (const r of results) {
        expect(r.ttVsDense).toBeLessThan(1e-4);
        expect(r.leaked, JSON.stringify(results)).toBe(0);
        expect(Number.isFinite(r.gradNorm) && r.gradNorm > 0).toBe(true);
      }
      // The same seeded cell gives the same outputs on both backends.
      for (const [i, v] of results[1]!.cellOutput.entries()) expect(v).toBeCloseTo(results[0]!.cellOutput[i]!, 4);
      expect(results[1]!.gradNorm).toBeCloseTo(results[0]!.gradNorm, 2);
    } finally {
      browser.kill('SIGKILL');
      server.close();
    }
  }, 300_000);
});
