import { CellError, check } from './errors.js';
import { prod } from '@tensorized/decomp';

/** One float32 tensor of a safetensors file. */
export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Encodes float32 tensors in the safetensors format (https://huggingface.co/docs/safetensors): an
 * 8-byte little-endian header length, a JSON header (padded with spaces to a multiple of 8) naming
 * each tensor's dtype, shape and byte range, then the raw little-endian data. Readable by the
 * `safetensors` packages of Python (NumPy, PyTorch) as they are.
 */
export function encodeSafetensors(
  tensors: ReadonlyArray<readonly [string, NamedArray]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  check(LITTLE_ENDIAN, 'BAD_WEIGHTS', () => 'encodeSafetensors: big-endian platforms are not supported');
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = prod(t.shape);
    check(
      size === t.data.length,
      'BAD_WEIGHTS',
      () => `encodeSafetensors: '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`,
    );
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  // Padded with spaces to a multiple of 8 bytes (TextEncoder, not Buffer: this runs in browsers too).
  const unpadded = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat((8 - (unpadded.length % 8)) % 8));
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, t] of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/**
 * Decodes a safetensors file of float32 tensors; anything malformed is a CellError naming the tensor.
 * The header is validated in full: every entry an object with dtype F32, a shape of non-negative
 * integers and data_offsets [begin, end] whose length is 4 x the shape's product; the byte ranges
 * tile the data exactly (contiguous, non-overlapping, nothing left over); metadata values are strings.
 */
export function decodeSafetensors(bytes: Uint8Array): {
  tensors: Map<string, NamedArray>;
  metadata: Record<string, string>;
} {
  const bad = (why: string): CellError => new CellError('BAD_WEIGHTS', `decodeSafetensors: ${why}`);
  if (bytes.length < 8) throw bad(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8)
    throw bad(`header length ${headerLength} exceeds the file (${bytes.length} bytes): truncated or not safetensors`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Array<{ name: string; shape: number[]; begin: number; end: number }> = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (
        typeof entry !== 'object' ||
        entry === null ||
        Array.isArray(entry) ||
        !Object.values(entry).every((x) => typeof x === 'string')
      ) {
        throw bad('__metadata__ must be an object of strings');
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    if (typeof entry !== 'object' || entry === null)
      throw bad(`'${name}' is ${JSON.stringify(entry)}, not a tensor entry {dtype, shape, data_offsets}`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw bad(`'${name}' has dtype ${JSON.stringify(e.dtype)}; only F32 is supported`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw bad(`'${name}' has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`);
    }
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw bad(`'${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end], non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    const size = prod(shape as number[]);
    if (end - begin !== 4 * size)
      throw bad(
        `'${name}' has ${end - begin} data bytes (data_offsets ${JSON.stringify(offsets)}) for shape ${JSON.stringify(shape)}, which needs ${4 * size}`,
      );
    if (end > dataLength)
      throw bad(
        `'${name}' has data_offsets ${JSON.stringify(offsets)} beyond the ${dataLength} data bytes: truncated or corrupt`,
      );
    entries.push({ name, shape: shape as number[], begin, end });
  }
  // The byte ranges must tile the data buffer: no overlap, no gap, nothing after the last.
  let at = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (e.begin !== at) {
      throw bad(
        `'${e.name}' starts at data byte ${e.begin} where ${at} was expected: ${e.begin < at ? 'it overlaps the tensor before it' : 'there is a gap before it'}`,
      );
    }
    at = e.end;
  }
  if (at !== dataLength)
    throw bad(`the tensors cover ${at} of ${dataLength} data bytes: ${dataLength - at} bytes are unaccounted for`);
  const tensors = new Map<string, NamedArray>();
  for (const { name, shape, begin, end } of entries) {
    // Copy so that the result is aligned and independent of the input buffer.
    const data = new Float32Array((end - begin) / 4);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: [...shape], data });
  }
  return { tensors, metadata };
}
