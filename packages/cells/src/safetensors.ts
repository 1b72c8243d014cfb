import { CellError, check } from './errors.js';

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
export function encodeSafetensors(tensors: ReadonlyArray<readonly [string, NamedArray]>, metadata: Record<string, string> = {}): Uint8Array {
  check(LITTLE_ENDIAN, 'BAD_WEIGHTS', () => 'encodeSafetensors: big-endian platforms are not supported');
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    check(size === t.data.length, 'BAD_WEIGHTS', () => `encodeSafetensors: '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
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

/** Decodes a safetensors file of float32 tensors; anything malformed is a CellError. */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const bad = (why: string): CellError => new CellError('BAD_WEIGHTS', `decodeSafetensors: ${why}`);
  if (bytes.length < 8) throw bad(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.length - 8) throw bad(`header length ${headerLength} exceeds the file (${bytes.length} bytes): truncated or not safetensors`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (e) {
    throw bad(`header is not valid JSON (${(e as Error).message})`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw bad(`'${name}' has dtype ${JSON.stringify(e.dtype)}; only F32 is supported`);
    const shape = e.shape as number[];
    const [begin, end] = e.data_offsets as [number, number];
    const size = Array.isArray(shape) ? shape.reduce((a, b) => a * b, 1) : Number.NaN;
    if (!(Number.isInteger(begin) && Number.isInteger(end) && begin >= 0 && end <= dataLength && end - begin === 4 * size)) {
      throw bad(`'${name}' has byte range ${JSON.stringify(e.data_offsets)} that does not fit shape ${JSON.stringify(shape)} in ${dataLength} data bytes: truncated or corrupt`);
    }
    // Copy so that the result is aligned and independent of the input buffer.
    const data = new Float32Array(size);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { shape: [...shape], data });
  }
  return { tensors, metadata };
}
