import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '@tensorized/cells';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

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

/** The digest of checkpoints written before the whole-file hash: tensor names and data only. */
function legacyDataDigest(tensors: ReadonlyArray<readonly [string, NamedArray]>): string {
  const hash = createHash('sha256');
  for (const [name, t] of tensors) {
    hash.update(name);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}

const PLACEHOLDER = '0'.repeat(64);
const INTEGRITY = 'sha256-of-file';

/** Where in the file the sha256's hex digits are (the header holds `"sha256":"<64 hex>"` once). */
function digestRange(bytes: Uint8Array, headerEnd: number, digest: string): [number, number] | undefined {
  const needle = new TextEncoder().encode(`"sha256":"${digest}"`);
  const header = bytes.subarray(0, headerEnd);
  const at = Buffer.from(header.buffer, header.byteOffset, header.byteLength).indexOf(needle);
  return at < 0 ? undefined : [at + 10, at + 10 + 64];
}

/** sha256 of the file with its own digest replaced by zeros. */
function fileDigest(bytes: Uint8Array, range: [number, number]): string {
  return createHash('sha256')
    .update(bytes.subarray(0, range[0]))
    .update(PLACEHOLDER)
    .update(bytes.subarray(range[1]))
    .digest('hex');
}

/**
 * Encodes named tensors and a JSON state as one safetensors file whose metadata holds a sha256 of
 * every byte of the file but the digest itself (header, shapes, state and data).
 */
export function encodeCheckpoint(tensors: ReadonlyArray<readonly [string, tf.Tensor]>, state: unknown): Uint8Array {
  const arrays: Array<[string, NamedArray]> = tensors.map(([n, t]) => [
    n,
    { shape: [...t.shape], data: t.dataSync() as Float32Array },
  ]);
  const bytes = encodeSafetensors(arrays, {
    format: 'tensorized-checkpoint',
    integrity: INTEGRITY,
    state: JSON.stringify(state),
    sha256: PLACEHOLDER,
  });
  const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const range = digestRange(bytes, headerEnd, PLACEHOLDER)!;
  bytes.set(new TextEncoder().encode(fileDigest(bytes, range)), range[0]);
  return bytes;
}

/** Saves a checkpoint atomically (see encodeCheckpoint and writeAtomic). */
export async function saveCheckpoint(
  path: string,
  tensors: ReadonlyArray<readonly [string, tf.Tensor]>,
  state: unknown,
): Promise<void> {
  await writeAtomic(path, encodeCheckpoint(tensors, state));
}

/**
 * Decodes a checkpoint, refusing with a CheckpointError naming `path` anything truncated, corrupt or
 * changed: the whole-file sha256 must match (checkpoints from before it: the data sha256), and the
 * state must be JSON that `validate` accepts (it throws a message, or returns nothing).
 */
export function decodeCheckpoint<S>(
  bytes: Uint8Array,
  path: string,
  validate?: (state: unknown) => void,
): { tensors: Map<string, NamedArray>; state: S } {
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes);
  } catch (e) {
    throw new CheckpointError(`checkpoint ${path} is truncated or corrupt (${(e as Error).message}); it was not used`);
  }
  const { tensors, metadata } = decoded;
  if (
    metadata['format'] !== 'tensorized-checkpoint' ||
    typeof metadata['state'] !== 'string' ||
    typeof metadata['sha256'] !== 'string'
  ) {
    throw new CheckpointError(
      `${path} is not a tensorized checkpoint (its metadata lacks format, state or sha256); it was not used`,
    );
  }
  const corrupt = (what: string) =>
    new CheckpointError(`checkpoint ${path} is corrupt (${what} does not match its sha256); it was not used`);
  if (metadata['integrity'] === INTEGRITY) {
    const headerEnd = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const range = /^[0-9a-f]{64}$/.test(metadata['sha256'])
      ? digestRange(bytes, headerEnd, metadata['sha256'])
      : undefined;
    if (!range || fileDigest(bytes, range) !== metadata['sha256']) throw corrupt('the file');
  } else if (metadata['integrity'] === undefined) {
    if (legacyDataDigest([...tensors.entries()]) !== metadata['sha256']) throw corrupt('its data');
  } else {
    throw new CheckpointError(
      `checkpoint ${path} names an unknown integrity scheme ${JSON.stringify(metadata['integrity'])}; it was not used`,
    );
  }
  let state: unknown;
  try {
    state = JSON.parse(metadata['state']);
  } catch (e) {
    throw new CheckpointError(
      `checkpoint ${path} has a state that is not JSON (${(e as Error).message}); it was not used`,
    );
  }
  try {
    validate?.(state);
  } catch (e) {
    throw new CheckpointError(`checkpoint ${path} has an invalid state: ${(e as Error).message}; it was not used`);
  }
  return { tensors, state: state as S };
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
