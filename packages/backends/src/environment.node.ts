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

/**
 * Registers TF.js's gradients (tfjs-core alone registers none). In Node the union package
 * `@tensorflow/tfjs` does it when loaded: its Node entry is the only CommonJS build of them
 * (tfjs-core's own register_all_gradients is an ES module with extensionless imports, which Node
 * cannot load).
 */
export async function registerGradients(): Promise<void> {
  await import('@tensorflow/tfjs');
}
