import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { moduleGraph } from '@tensorized/test-utils/graph';
import { describe, expect, it } from 'vitest';

const src = dirname(fileURLToPath(import.meta.url));

describe('the web entry', () => {
  it('loads no Node.js module and none of the training, file or CLI code (apps/web bundles it)', () => {
    const web = moduleGraph(join(src, 'web.ts'));
    expect(web.bare.filter((s) => s.startsWith('node:'))).toEqual([]);
    for (const f of ['train.ts', 'checkpoint.ts', 'cli.ts', 'load_model.ts'])
      expect(web.files).not.toContain(join(src, f));
    expect(web.bare).toEqual(
      expect.arrayContaining(['@noble/hashes/sha2.js', '@tensorflow/tfjs-core', '@tensorized/cells', 'midi-file']),
    );
  });
});
