import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import type { NamedArray } from '@tensorized/cells';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint_codec.js';

export { CheckpointError, decodeCheckpoint, encodeCheckpoint };

/**
 * Fault injection for tests of what a kill leaves behind: with TENSORIZED_KILL_AT_WRITE=n, the
 * process kills itself (SIGKILL) at the n-th step of its atomic writes, counted from 1 over the
 * process's life. Each write has two steps: after the temporary file is written and fsynced, and
 * after the rename. Read once at start-up.
 */
const killAt = Number(process.env['TENSORIZED_KILL_AT_WRITE'] ?? 0);
let writeSteps = 0;
function faultPoint(): void {
  if (killAt > 0 && ++writeSteps === killAt) process.kill(process.pid, 'SIGKILL');
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes bytes to path through a temporary file in the same directory, fsynced, then renamed over the
 * target, then the directory fsynced: after a crash, readers see the old file or the new one, whole.
 */
export async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    faultPoint();
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  await fsyncPath(dirname(path));
  faultPoint();
}

/** Removes temporary files that a killed writeAtomic left in dir (call it holding the directory's lock). */
export async function removeOrphanTemps(dir: string): Promise<string[]> {
  const orphans = (await readdir(dir)).filter((f) => /\.\d+\.[0-9a-f]{8}\.tmp$/.test(f));
  await Promise.all(orphans.map((f) => rm(join(dir, f), { force: true })));
  return orphans;
}

/** Saves a checkpoint atomically (see encodeCheckpoint and writeAtomic). */
export async function saveCheckpoint(
  path: string,
  tensors: ReadonlyArray<readonly [string, tf.Tensor]>,
  state: unknown,
): Promise<void> {
  await writeAtomic(path, encodeCheckpoint(tensors, state));
}

/** Reads and decodes a checkpoint (see decodeCheckpoint). */
export async function loadCheckpoint<S>(
  path: string,
  validate?: (state: unknown) => void,
): Promise<{ tensors: Map<string, NamedArray>; state: S }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  return decodeCheckpoint<S>(bytes, path, validate);
}
