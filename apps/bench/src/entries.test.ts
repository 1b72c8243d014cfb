import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

/** The modules an entry loads at run time, transitively (relative imports; `import type` aside), and the bare specifiers they use. */
function graph(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(join(src, file), 'utf8');
    for (const m of text.matchAll(/^(import|export)\s(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[2]!;
      if (spec.startsWith('./')) visit(spec.slice(2).replace(/\.js$/, '.ts'));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].sort(), bare: [...bare].sort() };
}

describe('the web entry', () => {
  it('loads no Node.js module and none of the training, file or CLI code (apps/web bundles it)', () => {
    const web = graph('web.ts');
    expect(web.bare.filter((s) => s.startsWith('node:'))).toEqual([]);
    for (const f of ['train.ts', 'checkpoint.ts', 'cli.ts', 'load_model.ts']) expect(web.files).not.toContain(f);
    expect(web.bare).toEqual(
      expect.arrayContaining(['@noble/hashes/sha2.js', '@tensorflow/tfjs-core', '@tensorized/cells', 'midi-file']),
    );
  });
});
