// What useBackend needs to know of its environment, in a browser (see environment.node.ts). No
// Node.js module is imported here: bundlers pick this file by the "browser" condition of #environment.
import { version_core } from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { version_wasm } from '@tensorflow/tfjs-backend-wasm';

/** Versions of the packages a browser bundle holds (tfjs-node has none there). */
const VERSIONS: Readonly<Record<string, string>> = {
  '@tensorflow/tfjs-core': version_core,
  '@tensorflow/tfjs-backend-cpu': version_cpu,
  '@tensorflow/tfjs-backend-wasm': version_wasm,
};

/** The version of a package in the bundle, or undefined (tfjs-node is never in a browser). */
export function packageVersion(pkg: string): string | undefined {
  return VERSIONS[pkg];
}

/** The threads a multi-threaded backend may use: the browser's logical processors. */
export function parallelism(): number {
  return (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
}

/** Where this build runs. */
export const RUNTIME: 'node' | 'browser' = 'browser';

/**
 * Registers TF.js's gradients with tfjs-core's own module, which a bundler can load: the browser
 * bundle then holds no copy of the @tensorflow/tfjs union (layers, converter, webgl).
 */
export async function registerGradients(): Promise<void> {
  await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
}
