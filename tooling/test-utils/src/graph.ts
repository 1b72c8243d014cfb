import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The modules a TypeScript entry loads at run time, transitively through its relative imports
 * (`import type` aside; `./x.js` read as `./x.ts`), and the bare specifiers they import: what a
 * bundler would pull in. For tests that an entry stays free of Node.js modules. No TF.js here.
 */
export function moduleGraph(entry: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?from\s+'([^']+)'/gms)) {
      const spec = m[1]!;
      if (spec.startsWith('./') || spec.startsWith('../')) visit(join(dirname(file), spec.replace(/\.js$/, '.ts')));
      else bare.add(spec);
    }
  };
  visit(entry);
  return { files: [...files].sort(), bare: [...bare].sort() };
}
