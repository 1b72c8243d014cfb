import { DatasetError } from './errors.js';

/** A numpy dtype as far as the reader needs it: its type code ('i8', 'f4', ...) and byte order. */
export interface NumpyDtype {
  readonly kind: 'numpy-dtype';
  code: string;
  byteOrder: string;
}

/** Values a pickle decodes to: numbers, strings (Python 2 str as latin-1), lists, tuples, dicts. */
export type PickleValue =
  | null
  | boolean
  | number
  | string
  | PickleValue[]
  | { readonly tuple: PickleValue[] }
  | Map<PickleValue, PickleValue>
  | NumpyDtype
  | { readonly global: string };

const OPCODE_NAMES: Record<number, string> = {
  0x80: 'PROTO',
  0x95: 'FRAME',
  0x7d: 'EMPTY_DICT',
  0x5d: 'EMPTY_LIST',
  0x29: 'EMPTY_TUPLE',
  0x28: 'MARK',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x68: 'BINGET',
  0x6a: 'LONG_BINGET',
  0x55: 'SHORT_BINSTRING',
  0x54: 'BINSTRING',
  0x58: 'BINUNICODE',
  0x8c: 'SHORT_BINUNICODE',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x74: 'TUPLE',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x6c: 'LIST',
  0x64: 'DICT',
  0x61: 'APPEND',
  0x65: 'APPENDS',
  0x73: 'SETITEM',
  0x75: 'SETITEMS',
  0x63: 'GLOBAL',
  0x52: 'REDUCE',
  0x62: 'BUILD',
  0x2e: 'STOP',
  0x8a: 'LONG1',
  0x47: 'BINFLOAT',
  0x94: 'MEMOIZE',
};

/** The globals a piano-roll pickle may name: numpy scalars and dtypes, nothing else. */
const ALLOWED_GLOBALS = new Set(['numpy.core.multiarray scalar', 'numpy._core.multiarray scalar', 'numpy dtype']);

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

/**
 * A small, strict reader of Python pickles (protocols 2 to 4) for the data these benchmarks ship
 * in: dicts, lists, tuples, ints, strings, and numpy integer/float scalars. It executes nothing:
 * the only globals it accepts are numpy's scalar and dtype constructors, which it evaluates itself.
 * Any other opcode or global is a DatasetError naming it and its byte offset.
 */
export function readPickle(bytes: Uint8Array, source = 'pickle'): PickleValue {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, PickleValue>();
  let pos = 0;
  const fail = (why: string): never => {
    throw new DatasetError('UNSUPPORTED_PICKLE', `readPickle: ${source}: ${why}`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.length) fail(`truncated at byte ${pos} (needed ${n} more bytes)`);
  };
  /** Advances over n bytes and returns where they start. */
  const take = (n: number): number => {
    need(n);
    pos += n;
    return pos - n;
  };
  const u8 = (): number => bytes[take(1)]!;
  const u16 = (): number => view.getUint16(take(2), true);
  const u32 = (): number => view.getUint32(take(4), true);
  const i32 = (): number => view.getInt32(take(4), true);
  const latin1 = (n: number): string => {
    need(n);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(bytes[pos + i]!);
    pos += n;
    return s;
  };
  const utf8 = (n: number): string => {
    need(n);
    pos += n;
    return new TextDecoder().decode(bytes.subarray(pos - n, pos));
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail(`unterminated line at byte ${pos}`);
    const s = latin1(end - pos);
    pos++;
    return s;
  };
  const pop = (): PickleValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) fail(`stack underflow at byte ${pos}`);
    return v as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) fail(`no MARK on the stack at byte ${pos}`);
    const items = stack.splice(at) as StackItem[];
    return items.slice(1) as PickleValue[];
  };
  const top = (): StackItem => {
    if (stack.length === 0) fail(`empty stack at byte ${pos}`);
    return stack[stack.length - 1]!;
  };
  const get = (i: number): PickleValue => {
    if (!memo.has(i)) fail(`memo key ${i} not defined at byte ${pos}`);
    return memo.get(i)!;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 4) fail(`protocol ${bytes[pos - 1]} is not supported (2 to 4 are)`);
        break;
      case 0x95: // FRAME
        need(8);
        pos += 8;
        break;
      case 0x7d:
        stack.push(new Map());
        break;
      case 0x5d:
        stack.push([]);
        break;
      case 0x29:
        stack.push({ tuple: [] });
        break;
      case 0x28:
        stack.push(MARK);
        break;
      case 0x71:
        memo.set(u8(), top() as PickleValue);
        break;
      case 0x72:
        memo.set(u32(), top() as PickleValue);
        break;
      case 0x94:
        memo.set(memo.size, top() as PickleValue);
        break;
      case 0x68:
        stack.push(get(u8()));
        break;
      case 0x6a:
        stack.push(get(u32()));
        break;
      case 0x55:
        stack.push(latin1(u8()));
        break;
      case 0x54:
        stack.push(latin1(i32()));
        break;
      case 0x58:
        stack.push(utf8(u32()));
        break;
      case 0x8c:
        stack.push(utf8(u8()));
        break;
      case 0x4a:
        stack.push(i32());
        break;
      case 0x4b:
        stack.push(u8());
        break;
      case 0x4d:
        stack.push(u16());
        break;
      case 0x8a: {
        // LONG1: little-endian two's complement of n bytes.
        const n = u8();
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[pos + i]!);
        if (n > 0 && bytes[pos + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
          fail(`integer ${v} at byte ${at} is too large`);
        stack.push(Number(v));
        break;
      }
      case 0x47:
        need(8);
        pos += 8;
        stack.push(view.getFloat64(pos - 8, false));
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x74:
        stack.push({ tuple: popMark() });
        break;
      case 0x85:
        stack.push({ tuple: [pop()] });
        break;
      case 0x86: {
        const b = pop();
        stack.push({ tuple: [pop(), b] });
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        stack.push({ tuple: [pop(), b, c] });
        break;
      }
      case 0x6c:
        stack.push(popMark());
        break;
      case 0x64: {
        const items = popMark();
        const m = new Map<PickleValue, PickleValue>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i]!, items[i + 1]!);
        stack.push(m);
        break;
      }
      case 0x61: {
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail(`APPEND to a non-list at byte ${at}`);
        (list as PickleValue[]).push(v);
        break;
      }
      case 0x65: {
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail(`APPENDS to a non-list at byte ${at}`);
        for (const v of items) (list as PickleValue[]).push(v);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        const m = top();
        if (!(m instanceof Map)) fail(`SETITEM on a non-dict at byte ${at}`);
        (m as Map<PickleValue, PickleValue>).set(k, v);
        break;
      }
      case 0x75: {
        const items = popMark();
        const m = top();
        if (!(m instanceof Map)) fail(`SETITEMS on a non-dict at byte ${at}`);
        for (let i = 0; i + 1 < items.length; i += 2)
          (m as Map<PickleValue, PickleValue>).set(items[i]!, items[i + 1]!);
        break;
      }
      case 0x63: {
        const name = `${line()} ${line()}`;
        if (!ALLOWED_GLOBALS.has(name))
          fail(`global '${name}' at byte ${at} is not allowed (only numpy scalars and dtypes are)`);
        stack.push({ global: name });
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(reduce(fn, args, at, fail));
        break;
      }
      case 0x62: {
        const state = pop();
        const obj = top();
        if (!(obj && typeof obj === 'object' && 'kind' in obj && obj.kind === 'numpy-dtype'))
          fail(`BUILD on an unsupported object at byte ${at}`);
        const s = (state as { tuple?: PickleValue[] }).tuple;
        if (s && typeof s[1] === 'string') (obj as NumpyDtype).byteOrder = s[1];
        break;
      }
      case 0x2e:
        if (stack.length !== 1) fail(`STOP with ${stack.length} items on the stack`);
        return pop();
      default:
        fail(
          `unsupported opcode 0x${op.toString(16).padStart(2, '0')}${OPCODE_NAMES[op] ? ` (${OPCODE_NAMES[op]})` : ''} at byte ${at}`,
        );
    }
  }
}

function reduce(fn: PickleValue, args: PickleValue, at: number, fail: (why: string) => never): PickleValue {
  const name = (fn as { global?: string } | null)?.global;
  const a = (args as { tuple?: PickleValue[] } | null)?.tuple;
  if (!a) return fail(`REDUCE with non-tuple arguments at byte ${at}`);
  if (name === 'numpy dtype') {
    if (typeof a[0] !== 'string') return fail(`numpy dtype with a non-string code at byte ${at}`);
    return { kind: 'numpy-dtype', code: a[0], byteOrder: '<' };
  }
  if (name?.endsWith('multiarray scalar')) {
    const dtype = a[0] as NumpyDtype;
    const raw = a[1];
    if (!(dtype && dtype.kind === 'numpy-dtype') || typeof raw !== 'string')
      return fail(`numpy scalar with unexpected arguments at byte ${at}`);
    return numpyScalar(dtype, raw, at, fail);
  }
  return fail(`REDUCE of ${name ?? 'a non-global'} at byte ${at} is not supported`);
}

function numpyScalar(dtype: NumpyDtype, raw: string, at: number, fail: (why: string) => never): number {
  const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const little = dtype.byteOrder !== '>';
  const sizes: Record<string, number> = { i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8, f4: 4, f8: 8 };
  const size = sizes[dtype.code];
  if (size === undefined) return fail(`numpy dtype '${dtype.code}' at byte ${at} is not supported`);
  if (bytes.length !== size) return fail(`numpy ${dtype.code} scalar of ${bytes.length} bytes at byte ${at}`);
  switch (dtype.code) {
    case 'i1':
      return view.getInt8(0);
    case 'u1':
      return view.getUint8(0);
    case 'i2':
      return view.getInt16(0, little);
    case 'u2':
      return view.getUint16(0, little);
    case 'i4':
      return view.getInt32(0, little);
    case 'u4':
      return view.getUint32(0, little);
    case 'f4':
      return view.getFloat32(0, little);
    case 'f8':
      return view.getFloat64(0, little);
    default: {
      const v = dtype.code === 'i8' ? view.getBigInt64(0, little) : view.getBigUint64(0, little);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
        return fail(`numpy ${dtype.code} ${v} at byte ${at} is too large`);
      return Number(v);
    }
  }
}
