import { ISOLATION_HEADERS } from './scripts/static-server.mjs';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

/**
 * JSB Chorales for the page's NLL, from the project's data directory (TENSORIZED_DATA_DIR, else
 * ../shared/data/polyphonic beside the repository): served in development and copied into the build
 * as data/JSB_Chorales.json.gz. The data has no stated license, so it is never committed; without it
 * the page asks for the file to be dropped on it.
 */
function polyphonicData(): Plugin {
  const file = 'JSB_Chorales.json.gz';
  const dir = resolve(process.env['TENSORIZED_DATA_DIR'] ?? join(import.meta.dirname, '../../../shared/data/polyphonic'));
  const path = join(dir, file);
  return {
    name: 'tensorized-polyphonic-data',
    configureServer(server) {
      // What data the page may ask for, so that it never requests a file that is not there.
      server.middlewares.use('/data/index.json', (_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ [file]: existsSync(path) }));
      });
      server.middlewares.use(`/data/${file}`, (_req, res) => {
        if (!existsSync(path)) {
          res.statusCode = 404;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/gzip');
        res.end(readFileSync(path));
      });
    },
    generateBundle() {
      const have = existsSync(path);
      this.emitFile({ type: 'asset', fileName: 'data/index.json', source: JSON.stringify({ [file]: have }) });
      if (have) this.emitFile({ type: 'asset', fileName: `data/${file}`, source: readFileSync(path) });
      else this.warn(`${path} not found: the built page will ask for ${file} to be dropped on it`);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  // Relative asset paths: the built folder works from any directory of a static server.
  base: './',
  // The workspace packages from their TypeScript sources, each in its browser build.
  resolve: { conditions: ['@tensorized/source', 'browser', 'module', 'import', 'default'] },
  plugins: [polyphonicData()],
  server: { headers: ISOLATION_HEADERS, fs: { allow: ['../..'] } },
  preview: { headers: ISOLATION_HEADERS },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 2000,
    // Compressed but not renamed: TF.js starts the threaded wasm build's workers from the source text
    // of its factory function (Function.prototype.toString), which must still name what it uses.
    rolldownOptions: { output: { minify: { mangle: false, compress: false } } },
  },
});
