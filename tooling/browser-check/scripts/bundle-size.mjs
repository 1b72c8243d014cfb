// The size of the page's browser bundle (src/page.ts: backends, decomp and cells), minified, per
// chunk: node tooling/browser-check/scripts/bundle-size.mjs
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'tensorized-bundle-'));
const root = mkdtempSync(join(tmpdir(), 'tensorized-page-'));
writeFileSync(join(root, 'index.html'), `<!doctype html><script type="module" src="${join(here, '../src/page.ts')}"></script>`);
await build({
  root,
  logLevel: 'silent',
  configFile: false,
  resolve: { conditions: ['@tensorized/source', 'browser', 'module', 'import', 'default'] },
  build: { outDir: out, emptyOutDir: true, minify: true, target: 'es2022', chunkSizeWarningLimit: 100_000 },
});
let total = 0;
for (const f of readdirSync(join(out, 'assets')).filter((f) => f.endsWith('.js'))) {
  const size = statSync(join(out, 'assets', f)).size;
  total += size;
  console.log(`${f}: ${(size / 1024).toFixed(0)} KiB`);
}
console.log(`total JavaScript: ${(total / 1024).toFixed(0)} KiB minified (the .wasm binaries are fetched at start)`);
