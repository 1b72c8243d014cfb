// What useBackend needs to know of its environment, in Node.js (see environment.browser.ts for the
// browser). Chosen through the package's "imports" map (#environment), by the "browser" condition.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';

const require = createRequire(import.meta.url);

/** The version of an installed package, or undefined when it cannot be found. */
export function packageVersion(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return undefined;
  }
}

/** The threads a multi-threaded backend may use. */
export function parallelism(): number {
  return availableParallelism();
}

/** Where this build runs. */
export const RUNTIME: 'node' | 'browser' = 'node';
