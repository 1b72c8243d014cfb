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

/**
 * The threaded wasm build runs in a browser only on a cross-origin isolated page (SharedArrayBuffer
 * needs the headers `Cross-Origin-Opener-Policy: same-origin` and
 * `Cross-Origin-Embedder-Policy: require-corp`); TF.js then picks it by itself. The backend caps its
 * thread pool at half of navigator.hardwareConcurrency (it assumes two hardware threads per core), so
 * on a 2-core machine it would run 1 thread whatever it is asked: until the returned `restore` is
 * called (right after the backend has started), navigator.hardwareConcurrency reads 2 x threads.
 */
export async function prepareWasmThreads(threads: number): Promise<() => void> {
  if (!(globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated) {
    throw new Error(
      'wasm threads need a cross-origin isolated page: serve it with the headers ' +
        "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp'",
    );
  }
  const nav = (globalThis as { navigator?: object }).navigator;
  if (!nav) return () => {};
  const seen = Math.max(parallelism(), 2 * threads);
  Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => seen });
  return () => {
    // The own property goes; Navigator.prototype's getter shows through again.
    delete (nav as { hardwareConcurrency?: number }).hardwareConcurrency;
  };
}

/** A page's workers end with it: nothing to release in a browser. */
export function releaseWasmWorkers(_module: unknown): void {}
