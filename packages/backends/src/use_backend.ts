import * as tf from '@tensorflow/tfjs-core';
// Node.js or browser (package.json "imports": the "browser" condition picks environment.browser.js).
import {
  packageVersion,
  parallelism,
  prepareWasmThreads,
  RUNTIME,
  registerGradients,
  releaseWasmWorkers,
} from '#environment';
import { BackendError } from './errors.js';
import { installWasmKernelFixes } from './wasm_kernels.js';

/**
 * The backends this project supports: WebAssembly (SIMD), native TensorFlow, pure JavaScript, and in
 * a browser WebGL (the page imports @tensorflow/tfjs-backend-webgl itself: it is an optional peer).
 */
export type BackendName = 'wasm' | 'node' | 'cpu' | 'webgl';
export type BackendRequest = BackendName | 'auto';
export const BACKEND_NAMES: readonly BackendName[] = ['wasm', 'node', 'cpu', 'webgl'];

/** How to start a backend. */
export interface BackendOptions {
  /**
   * Threads of the wasm backend (a positive integer; default 1). More than 1 starts TF.js's threaded
   * SIMD build: in Node.js with worker threads (see prepareWasmThreads), in a browser on a
   * cross-origin isolated page. Chosen at the backend's first start in a process; later calls without
   * it keep that count, and asking for another count is an error. Only for 'wasm'. On an idle
   * 2-core machine 2 threads trained the paper's GRUs 0.68x to 0.89x as long per epoch; batch-1
   * inference gained nothing (docs/performance.md).
   */
  threads?: number;
}

/** What `useBackend` chose. */
export interface BackendInfo {
  /** Our name for it. */
  name: BackendName;
  /** The name TF.js knows it by ('wasm', 'tensorflow', 'cpu'). */
  tfName: string;
  /** WebAssembly SIMD in use (wasm only). */
  simd: boolean;
  /** Threads the backend computes with (1 for wasm in Node and for cpu). */
  threads: number;
  /** Versions of the TF.js packages in use. */
  versions: Record<string, string>;
  /** float32 or float16 arithmetic, as the backend reports it. */
  floatPrecision: number;
}

const PACKAGES: Record<BackendName, string> = {
  wasm: '@tensorflow/tfjs-backend-wasm',
  node: '@tensorflow/tfjs-node',
  cpu: '@tensorflow/tfjs-backend-cpu',
  webgl: '@tensorflow/tfjs-backend-webgl',
};
const TF_NAMES: Record<BackendName, string> = { wasm: 'wasm', node: 'tensorflow', cpu: 'cpu', webgl: 'webgl' };

/**
 * How each backend's package is loaded. Literal specifiers, so that a bundler includes wasm and cpu
 * in a browser build; tfjs-node (never in a browser, and an optional peer that is usually absent)
 * through a variable, which bundlers leave alone.
 */
const LOADERS: Record<BackendName, () => Promise<unknown>> = {
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
  node: () => {
    const pkg = PACKAGES.node;
    return import(/* @vite-ignore */ pkg);
  },
  // Registered by the page's own `import '@tensorflow/tfjs-backend-webgl'` (see isBackendInstalled).
  webgl: async () => {},
};

/** Whether TF.js has a factory for the backend (a backend package registers one when imported). */
function registered(tfName: string): boolean {
  return (tf.engine() as unknown as { registryFactory: Record<string, unknown> }).registryFactory[tfName] !== undefined;
}

const versionOf = packageVersion;

/**
 * Whether the package of a backend can be found (it may still fail to start). webgl: whether the page
 * has imported @tensorflow/tfjs-backend-webgl (in a browser only).
 */
export function isBackendInstalled(name: BackendName): boolean {
  if (name === 'webgl') return RUNTIME === 'browser' && registered('webgl');
  return versionOf(PACKAGES[name]) !== undefined;
}

/** The backends whose packages are installed, in order of preference. */
export function installedBackends(): BackendName[] {
  return BACKEND_NAMES.filter(isBackendInstalled);
}

let gradientsLoaded: Promise<void> | undefined;

/** tfjs-core registers no gradients: the environment's module registers them, once (see registerGradients). */
function loadGradients(): Promise<void> {
  gradientsLoaded ??= registerGradients();
  return gradientsLoaded;
}

async function loadBackendPackage(name: BackendName): Promise<void> {
  const pkg = PACKAGES[name];
  if (name === 'node' && RUNTIME === 'browser') {
    throw new BackendError(
      'BACKEND_NOT_INSTALLED',
      "useBackend: backend 'node' (@tensorflow/tfjs-node) runs only in Node.js; in a browser use 'wasm' or 'cpu'",
    );
  }
  if (name === 'webgl' && RUNTIME !== 'browser') {
    throw new BackendError(
      'BACKEND_NOT_INSTALLED',
      "useBackend: backend 'webgl' runs only in a browser; in Node.js use 'wasm', 'node' or 'cpu'",
    );
  }
  if (name === 'webgl' && !isBackendInstalled(name)) {
    throw new BackendError(
      'BACKEND_NOT_INSTALLED',
      `useBackend: backend 'webgl' is not registered: \`npm install ${pkg}@${tf.version_core}\` and import that package in the page before calling useBackend('webgl')`,
    );
  }
  if (!isBackendInstalled(name)) {
    const hint =
      name === 'node'
        ? `Install it with \`npm install @tensorflow/tfjs-node@${tf.version_core}\` (its install script downloads ` +
          `libtensorflow, so it needs network access beyond the npm registry), or use 'wasm', which works everywhere.`
        : `Install it with \`npm install ${pkg}@${tf.version_core}\`, or use 'wasm', which works everywhere.`;
    throw new BackendError(
      'BACKEND_NOT_INSTALLED',
      `useBackend: backend '${name}' needs ${pkg}, which is not installed. ${hint}`,
    );
  }
  try {
    await LOADERS[name]();
  } catch (cause) {
    throw new BackendError(
      'BACKEND_INIT_FAILED',
      `useBackend: ${pkg} is installed but could not be loaded: ${(cause as Error).message}` +
        (name === 'node' ? ` (its native library may be missing; 'wasm' works everywhere)` : ''),
      { cause },
    );
  }
}

/**
 * Loads the backend package on demand, makes it the TF.js backend, waits until it is ready, registers
 * the gradients (once), and tells what was chosen. 'auto' prefers tfjs-node when it is installed,
 * else wasm.
 */
export async function useBackend(which: BackendRequest = 'auto', options: BackendOptions = {}): Promise<BackendInfo> {
  if (which !== 'auto' && !BACKEND_NAMES.includes(which)) {
    throw new BackendError(
      'UNKNOWN_BACKEND',
      `useBackend: unknown backend ${JSON.stringify(which)}; expected one of 'auto', ${BACKEND_NAMES.map((n) => `'${n}'`).join(', ')}`,
    );
  }
  const name: BackendName = which === 'auto' ? (isBackendInstalled('node') ? 'node' : 'wasm') : which;
  const { threads: asked } = options;
  if (asked !== undefined) {
    if (!(Number.isInteger(asked) && asked >= 1)) {
      throw new BackendError('INVALID_OPTION', `useBackend: threads must be a positive integer, got ${asked}`);
    }
    if (name !== 'wasm') {
      throw new BackendError(
        'INVALID_OPTION',
        `useBackend: threads is an option of 'wasm' only, got it for '${name}' (${name === 'node' ? 'tfjs-node uses every core by itself' : 'cpu is single-threaded'})`,
      );
    }
  }
  await loadBackendPackage(name);
  // Before the gradients: loading them can start the highest-priority backend (wasm).
  const restore = name === 'wasm' ? await chooseWasmThreads(asked) : undefined;
  const tfName = TF_NAMES[name];
  let ok = false;
  try {
    await loadGradients();
    try {
      ok = await tf.setBackend(tfName);
      await tf.ready();
    } catch (cause) {
      throw new BackendError(
        'BACKEND_INIT_FAILED',
        `useBackend: backend '${name}' failed to start: ${(cause as Error).message}`,
        { cause },
      );
    }
  } finally {
    restore?.();
  }
  if (!ok || tf.getBackend() !== tfName) {
    throw new BackendError(
      'BACKEND_INIT_FAILED',
      `useBackend: backend '${name}' failed to start (tf.setBackend returned false)`,
    );
  }
  if (name === 'wasm') {
    // Recorded once the backend has started: a failed start leaves the choice open.
    wasmStartedWith ??= wasmThreads();
    installWasmKernelFixes();
    releaseWasmWorkers((startedBackend('wasm') as { wasm?: unknown } | undefined)?.wasm);
  }
  const simd = name === 'wasm' && tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
  const threads = name === 'wasm' ? wasmThreads() : name === 'node' ? parallelism() : 1;
  const versions: Record<string, string> = { '@tensorflow/tfjs-core': tf.version_core };
  // webgl: the page's own copy, whose version this package cannot see.
  const v = name === 'webgl' ? undefined : versionOf(PACKAGES[name]);
  if (v) versions[PACKAGES[name]] = v;
  return { name, tfName, simd, threads, versions, floatPrecision: tf.backend().floatPrecision() };
}

/** The thread count the wasm backend started with in this process (undefined: not started yet). */
let wasmStartedWith: number | undefined;

/**
 * Before wasm's first start: the thread count (default 1), and for more than one the threaded build
 * (TF.js's flag, the environment's preparation, setThreadsCount). After it: nothing to do, unless a
 * count other than the running one is asked for, which is an error. Returns what undoes the
 * preparation's temporary changes once the backend has started.
 */
async function chooseWasmThreads(asked: number | undefined): Promise<(() => void) | undefined> {
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as {
    setThreadsCount(n: number): void;
  };
  const started = wasmStartedWith ?? (startedBackend('wasm') ? wasmThreads() : undefined);
  if (started !== undefined) {
    if (asked !== undefined && started !== asked) {
      throw new BackendError(
        'INVALID_OPTION',
        `useBackend: the wasm backend already runs with ${started} thread(s) in this process; threads (${asked}) can be chosen only at its first start`,
      );
    }
    return undefined;
  }
  const threads = asked ?? 1;
  let restore: (() => void) | undefined;
  if (threads > 1) {
    try {
      restore = await prepareWasmThreads(threads);
    } catch (cause) {
      throw new BackendError('BACKEND_INIT_FAILED', `useBackend: ${(cause as Error).message}`, { cause });
    }
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  } else if (RUNTIME === 'node') tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  // One thread on the threaded build (a browser page that is cross-origin isolated) is still one.
  wasm.setThreadsCount(threads);
  return restore;
}

/**
 * The backend `name` if it has been started (tf.findBackend would start it: it initialises a
 * registered backend on first use).
 */
function startedBackend(name: string): unknown {
  return (tf.engine() as unknown as { registry: Record<string, unknown> }).registry[name];
}

/** The threads the started wasm backend computes with (its own count; 1 on the unthreaded build). */
function wasmThreads(): number {
  if (!tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')) return 1;
  const backend = startedBackend('wasm') as { wasm?: { tfjs?: { getThreadsCount?: () => number } } } | undefined;
  return backend?.wasm?.tfjs?.getThreadsCount?.() ?? 1;
}
