// What useBackend needs to know of its environment, in Node.js (see environment.browser.ts for the
// browser). Chosen through the package's "imports" map (#environment), by the "browser" condition.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
 * Registers TF.js's gradients (tfjs-core alone registers none) and its chained tensor methods (which
 * tfjs-layers calls) from dist/gradients.node.js, tfjs-core's own register_all_gradients and
 * register_all_chained_ops bundled into one ES module at build time (scripts/bundle-gradients.mjs):
 * tfjs-core ships them only as ES modules with extensionless imports, which Node cannot load. The URL
 * is the same from src/ (tests) and from dist/.
 */
export async function registerGradients(): Promise<void> {
  const url = new URL('../dist/gradients.node.js', import.meta.url);
  try {
    await import(url.href);
  } catch (cause) {
    throw new Error(
      `the gradients module ${fileURLToPath(url)} could not be loaded (${(cause as Error).message}); build the package (pnpm build) or reinstall it`,
      { cause },
    );
  }
}

/**
 * Makes the threaded SIMD build of @tensorflow/tfjs-backend-wasm start in Node.js with `threads`
 * threads, where TF.js turns threads off (WASM_HAS_MULTITHREAD_SUPPORT is false in Node; tfjs issue
 * 3830). The build itself supports Node (Emscripten's pthreads on worker_threads); two things stand
 * in the way, both handled here without changing any file under node_modules:
 * - TF.js hands the build its scripts as blob: URLs, which Node's Worker cannot load. So, from the
 *   first call on, worker_threads' Worker is a subclass that runs the pthread worker's code (the
 *   package's wasmWorkerContents) with `eval: true` when it is given a blob: URL, and gives the
 *   worker the path of the package's threaded main script (wasm-out/tfjs-backend-wasm-threaded-simd.js)
 *   where TF.js's "load" message carries a Blob; every other use of Worker passes through unchanged.
 * - The backend caps its thread pool at half the logical cores it sees (its backend.cc assumes two
 *   hardware threads per core; setThreadsCount cannot go above it), so on a 2-core machine it runs 1
 *   thread whatever it is asked. Until the returned `restore` is called (right after the backend has
 *   started), os.cpus() lists 2 x threads entries, which is what the build's
 *   emscripten_num_logical_cores reads in Node.
 * Emscripten unrefs idle workers, so they do not keep the process alive.
 */
export async function prepareWasmThreads(threads: number): Promise<() => void> {
  if (!threadsPrepared) {
    const workerThreads = require('node:worker_threads') as typeof import('node:worker_threads');
    const main = require.resolve('@tensorflow/tfjs-backend-wasm');
    const out = join(dirname(main), '..', 'wasm-out');
    const mainScript = join(out, 'tfjs-backend-wasm-threaded-simd.js');
    const { wasmWorkerContents } = require(join(out, 'tfjs-backend-wasm-threaded-simd.worker.js')) as {
      wasmWorkerContents: string;
    };
    // The contents come from a template literal whose "\n" escapes became newlines inside the code's
    // string literals; escaped again, as TF.js does for its Blob.
    const workerCode = wasmWorkerContents.replace(/\n/g, '\\n');
    const Base = workerThreads.Worker;
    class WasmAwareWorker extends Base {
      constructor(file: string | URL, options?: import('node:worker_threads').WorkerOptions) {
        const blob = typeof file === 'string' && file.startsWith('blob:');
        super(blob ? workerCode : file, blob ? { ...options, eval: true } : options);
      }
      override postMessage(
        message: unknown,
        transfer?: readonly import('node:worker_threads').TransferListItem[],
      ): void {
        const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
        if (m && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') message = { ...m, urlOrBlob: mainScript };
        super.postMessage(message, transfer);
      }
    }
    (workerThreads as { Worker: typeof Base }).Worker = WasmAwareWorker;
    threadsPrepared = true;
  }
  const os = require('node:os') as typeof import('node:os');
  const cpus = os.cpus;
  const real = cpus();
  const seen = Math.max(real.length, 2 * threads);
  (os as { cpus: typeof cpus }).cpus = () => Array.from({ length: seen }, (_, i) => real[i % real.length]!);
  return () => {
    (os as { cpus: typeof cpus }).cpus = cpus;
  };
}

let threadsPrepared = false;

/**
 * Lets the process exit while the wasm backend's thread pool waits for work: Emscripten refs a
 * worker while it runs a pthread, and XNNPACK's pool threads run (idle) for the life of the process.
 */
export function releaseWasmWorkers(module: unknown): void {
  const pool = (module as { PThread?: { runningWorkers?: Array<{ unref?: () => void }> } }).PThread;
  for (const worker of pool?.runningWorkers ?? []) worker.unref?.();
}
