import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The publishable packages as a user gets them: packed (pnpm pack, the workspace protocol replaced by
 * versions), installed with npm into a fresh project outside the repository, and the README examples
 * marked `<!-- install-check -->` run there with plain Node. The examples are the code this test runs,
 * so they cannot drift from what works.
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const PACKAGES = ['decomp', 'cells', 'backends', 'datasets'];
/**
 * The TF.js version the consumer installs: 4.22.0, or TENSORIZED_INSTALL_TFJS (e.g. 4.20.0) to check
 * that the peer ranges hold for another 4.x.
 */
const TFJS = process.env['TENSORIZED_INSTALL_TFJS'] ?? '4.22.0';
const PEERS = [
  `@tensorflow/tfjs-core@${TFJS}`,
  `@tensorflow/tfjs-backend-cpu@${TFJS}`,
  `@tensorflow/tfjs-backend-wasm@${TFJS}`,
];

/** The ```ts blocks of a README preceded by an `<!-- install-check -->` line. */
function markedExamples(markdown: string): string[] {
  const out: string[] = [];
  const re = /<!-- install-check -->\s*\n```ts\n([\s\S]*?)\n```/g;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) out.push(m[1]!);
  return out;
}

const examples = PACKAGES.flatMap((p) =>
  markedExamples(readFileSync(join(root, 'packages', p, 'README.md'), 'utf8')).map(
    (code, i) => [`${p} README, example ${i + 1}`, code] as const,
  ),
);

// The datasets example reads TENSORIZED_DATA_DIR: the project's data beside the repository, if any.
const dataDir = process.env['TENSORIZED_DATA_DIR'] ?? resolve(root, '../shared/data/polyphonic');
const haveData = existsSync(join(dataDir, 'JSB Chorales.pickle')) || existsSync(dataDir);

let project = '';
let installLog = '';

describe('the packages installed from their tarballs into a fresh project', () => {
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'tensorized-install-'));
    for (const p of PACKAGES) {
      const dir = join(root, 'packages', p);
      if (!existsSync(join(dir, 'dist'))) throw new Error(`packages/${p} is not built: run pnpm build first`);
      execFileSync('pnpm', ['pack', '--pack-destination', project], { cwd: dir, stdio: 'pipe' });
    }
    const tarballs = readdirSync(project).filter((f) => f.endsWith('.tgz'));
    writeFileSync(
      join(project, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    const r = spawnSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--loglevel', 'warn', ...tarballs.map((t) => `./${t}`), ...PEERS],
      { cwd: project, encoding: 'utf8' },
    );
    installLog = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`npm install failed:\n${installLog}`);
  }, 600_000);

  afterAll(() => {
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it('installs with npm without a warning (no peer conflicts, no --legacy-peer-deps)', () => {
    const lines = installLog.split('\n').filter((l) => /npm (warn|WARN)/.test(l));
    // No warning at all: no peer conflict, and no dependency with an install script (npm 11 names
    // those; core-js, which came with the @tensorflow/tfjs union, was the last one).
    expect(lines).toEqual([]);
  });

  it('finds the marked examples in the READMEs', () => {
    expect(examples.map(([name]) => name)).toEqual(
      expect.arrayContaining(['decomp README, example 1', 'cells README, example 1', 'backends README, example 1']),
    );
  });

  // The same examples in a page: bundled by Vite from the installed packages (their browser builds,
  // no workspace sources), wasm binaries beside the bundle, run in Debian's Chromium. The ones that
  // read files (the datasets example) are Node-only by design.
  const browserExamples = examples.filter(([, code]) => !code.includes('@tensorized/datasets/node'));
  it.skipIf(!CHROMIUM)(
    `the examples bundled for the browser from the installed packages run in Chromium (${browserExamples.map(([n]) => n.split(' ')[0]).join(', ')})`,
    async () => {
      const web = join(project, 'web');
      mkdirSync(web, { recursive: true });
      const slug = (name: string) => name.replace(/[^a-z0-9]+/gi, '-');
      for (const [name, code] of browserExamples) writeFileSync(join(web, `${slug(name)}.ts`), `${code}\nexport {};\n`);
      writeFileSync(
        join(web, 'main.ts'),
        [
          'const examples: Record<string, () => Promise<unknown>> = {',
          ...browserExamples.map(([name]) => `  ${JSON.stringify(name)}: () => import('./${slug(name)}.ts'),`),
          '};',
          'const results: Record<string, string> = {};',
          'for (const [name, run] of Object.entries(examples)) {',
          "  try { await run(); results[name] = 'ok'; } catch (e) { results[name] = String((e as Error)?.stack ?? e); }",
          '}',
          '(globalThis as { results?: unknown }).results = results;',
          "document.title = 'DONE';",
        ].join('\n'),
      );
      writeFileSync(
        join(web, 'index.html'),
        '<!doctype html><title>RUNNING</title><link rel="icon" href="data:,"><script type="module" src="./main.ts"></script>',
      );
      const { build } = await import('vite');
      const out = join(web, 'dist');
      await build({
        root: web,
        configFile: false,
        logLevel: 'error',
        build: { outDir: out, target: 'es2022', minify: false },
      });
      // Where the wasm backend looks for its binaries when no setWasmPaths is called: the page's
      // directory (a bundled module has no document.currentScript).
      const wasmDist = join(project, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
      for (const f of readdirSync(wasmDist).filter((f) => f.endsWith('.wasm')))
        copyFileSync(join(wasmDist, f), join(out, f));
      const types: Record<string, string> = {
        '.html': 'text/html',
        '.js': 'text/javascript',
        '.wasm': 'application/wasm',
      };
      const server = createServer((req, res) => {
        const file = join(out, (req.url ?? '/').split('?')[0]!.replace(/\/$/, '/index.html'));
        if (!file.startsWith(out) || !existsSync(file)) return void res.writeHead(404).end();
        res
          .writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
          .end(readFileSync(file));
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        await page.goto(`http://127.0.0.1:${(server.address() as { port: number }).port}/`);
        await page.waitForFunction(
          () => (globalThis as { document?: { title: string } }).document?.title === 'DONE',
          undefined,
          {
            timeout: 240_000,
          },
        );
        const results = await page.evaluate(() => (globalThis as { results?: Record<string, string> }).results);
        expect(results).toEqual(Object.fromEntries(browserExamples.map(([name]) => [name, 'ok'])));
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
        server.close();
      }
    },
    300_000,
  );

  for (const [name, code] of examples) {
    const needsData = code.includes('loadPolyphonic');
    it.skipIf(needsData && !haveData)(
      `${name} runs in the installed project`,
      () => {
        // The examples are TypeScript: types stripped, nothing else changed.
        const js = ts.transpileModule(code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        const file = join(project, `${name.replace(/[^a-z0-9]+/gi, '-')}.mjs`);
        writeFileSync(file, js);
        const r = spawnSync('node', [file], {
          cwd: project,
          encoding: 'utf8',
          timeout: 300_000,
          env: { ...process.env, TENSORIZED_DATA_DIR: dataDir },
        });
        expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      },
      300_000,
    );
  }
});
