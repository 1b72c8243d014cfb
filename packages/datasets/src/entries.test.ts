import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleGraph } from '@tensorized/test-utils/graph';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

describe('entries', () => {
  it('the main entry imports no Node.js module (it bundles for a browser); the node entry holds the file and network access', async () => {
    const main = moduleGraph(join(src, 'index.ts'));
    expect(main.bare).toEqual([]);
    expect(main.files).not.toContain(join(src, 'registry.ts'));
    const node = moduleGraph(join(src, 'node.ts'));
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
