import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as browser from './environment.browser.js';
import * as node from './environment.node.js';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const versionOf = (pkg: string): string =>
  (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;

describe('the two environments of useBackend', () => {
  it('both give the versions of the installed TF.js packages (read from their package.json), and at least one thread', () => {
    for (const pkg of ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-backend-wasm']) {
      expect(browser.packageVersion(pkg)).toBe(versionOf(pkg));
      expect(node.packageVersion(pkg)).toBe(versionOf(pkg));
    }
    expect(browser.packageVersion('@tensorflow/tfjs-node')).toBeUndefined();
    expect(browser.parallelism()).toBeGreaterThanOrEqual(1);
    expect(node.parallelism()).toBeGreaterThanOrEqual(1);
    expect([browser.RUNTIME, node.RUNTIME]).toEqual(['browser', 'node']);
  });

  it("the browser build's module graph (from index.ts, #environment as the browser condition maps it) imports no Node.js module", () => {
    const pkg = JSON.parse(readFileSync(resolve(here, '../package.json'), 'utf8')) as {
      imports: Record<string, { '@tensorized/source': { browser: string } }>;
    };
    const seen = new Set<string>();
    const bare = new Set<string>();
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /(?:import|export)[^'"]*?from\s*'([^']+)'|import\s*'([^']+)'|import\(\s*'([^']+)'\s*\)/g,
      )) {
        const spec = m[1] ?? m[2] ?? m[3]!;
        if (spec.startsWith('.')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
        else if (spec.startsWith('#')) visit(resolve(here, '..', pkg.imports[spec]!['@tensorized/source'].browser));
        else bare.add(spec);
      }
    };
    visit(join(here, 'index.ts'));
    expect(seen.has(join(here, 'environment.browser.ts'))).toBe(true);
    expect(seen.has(join(here, 'environment.node.ts'))).toBe(false);
    const nodeOnly = [...bare].filter(
      (s) => s.startsWith('node:') || ['fs', 'os', 'path', 'module', 'child_process'].includes(s),
    );
    expect(nodeOnly).toEqual([]);
    // What it does import: TF.js packages only.
    expect([...bare].every((s) => s.startsWith('@tensorflow/'))).toBe(true);
  });
});
