import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '@tensorized/cells';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Writes bytes to path through a temporary file and a rename: readers see the old file or the new one. */
export async function writeAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
}

function dataDigest(tensors: ReadonlyArray<readonly [string, NamedArray]>): string {
  const hash = createHash('sha256');
  for (const [name, t] of tensors) {
    hash.update(name);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

/**
 * Saves named tensors and a JSON state in one safetensors file, atomically, with a sha256 of the
 * tensor data in its metadata so that corruption is detected on load.
 */
export async function saveCheckpoint(path: string, tensors: ReadonlyArray<readonly [string, tf.Tensor]>, state: unknown): Promise<void> {
  const arrays: Array<[string, NamedArray]> = tensors.map(([n, t]) => [n, { shape: [...t.shape], data: t.dataSync() as Float32Array }]);
  const bytes = encodeSafetensors(arrays, { format: 'tensorized-checkpoint', state: JSON.stringify(state), sha256: dataDigest(arrays) });
  await writeAtomic(path, bytes);
}

/** Loads a checkpoint, refusing a truncated or corrupt file with a CheckpointError that says so. */
export async function loadCheckpoint<S>(path: string): Promise<{ tensors: Map<string, NamedArray>; state: S }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`checkpoint ${path} is truncated or corrupt (${(e as Error).message}); it was not used`);
  }
  const { tensors, metadata } = decoded;
  if (metadata['format'] !== 'tensorized-checkpoint' || typeof metadata['state'] !== 'string') {
    throw new CheckpointError(`${path} is not a tensorized checkpoint`);
  }
  const digest = dataDigest([...tensors.entries()]);
  if (digest !== metadata['sha256']) throw new CheckpointError(`checkpoint ${path} is corrupt (its data does not match its sha256); it was not used`);
  return { tensors, state: JSON.parse(metadata['state']) as S };
}
