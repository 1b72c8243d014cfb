// The checkpoint file format (safetensors with a whole-file sha256 in its metadata): encoding and
// decoding, on any platform (Node.js, browsers). Files are read and written in checkpoint.ts.
import type * as tf from '@tensorflow/tfjs-core';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '@tensorized/cells';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** The digest of checkpoints written before the whole-file hash: tensor names and data only. */
function legacyDataDigest(tensors: ReadonlyArray<readonly [string, NamedArray]>): string {
  const hash = sha256.create();
  for (const [name, t] of tensors) {
    hash.update(new TextEncoder().encode(name));
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return bytesToHex(hash.digest());
}

const PLACEHOLDER = '0'.repeat(64);
const INTEGRITY = 'sha256-of-file';

/** The first index of `needle` in `bytes`, or -1. */
function indexOf(bytes: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
    for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Where in the file the sha256's hex digits are (the header holds `"sha256":"<64 hex>"` once). */
function digestRange(bytes: Uint8Array, headerEnd: number, digest: string): [number, number] | undefined {
  const needle = new TextEncoder().encode(`"sha256":"${digest}"`);
  const header = bytes.subarray(0, headerEnd);
  const at = indexOf(header, needle);
  return at < 0 ? undefined : [at + 10, at + 10 + 64];
}

/** sha256 of the file with its own digest replaced by zeros. */
function fileDigest(bytes: Uint8Array, range: [number, number]): string {
  return bytesToHex(
    sha256
      .create()
      .update(bytes.subarray(0, range[0]))
      .update(new TextEncoder().encode(PLACEHOLDER))
      .update(bytes.subarray(range[1]))
      .digest(),
  );
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
