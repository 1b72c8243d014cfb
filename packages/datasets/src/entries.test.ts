import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

/** Every module the entry imports, transitively (relative imports), with the bare specifiers they use. */
function graph(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(join(src, file), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('./')) visit(spec.slice(2).replace(/\.js$/, '.ts'));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].sort(), bare: [...bare].sort() };
}

describe('entries', () => {
  it('the main entry imports no Node.js module (it bundles for a browser); the node entry holds the file and network access', async () => {
    const main = graph('index.ts');
    expect(main.bare).toEqual([]);
    expect(main.files).not.toContain('registry.ts');
    const node = graph('node.ts');
    expect(node.bare.filter((s) => s.startsWith('node:'))).toEqual(
      expect.arrayContaining(['node:crypto', 'node:fs/promises', 'node:zlib']),
    );
    // The node entry is a superset of the main one.
    const [a, b] = await Promise.all([import('./index.js'), import('./node.js')]);
    for (const name of Object.keys(a)) expect(b).toHaveProperty(name);
    expect(Object.keys(b)).toEqual(
      expect.arrayContaining(['loadPolyphonic', 'readPolyphonicJsonGz', 'findDatasetFile']),
    );
    expect(Object.keys(a)).not.toContain('loadPolyphonic');
  });
});
