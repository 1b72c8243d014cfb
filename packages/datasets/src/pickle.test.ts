import { describe, expect, it } from 'vitest';
import { DatasetError, readPickle, readPolyphonicPickle } from './index.js';

/** Assembles a pickle from opcodes (numbers) and raw strings (latin-1 bytes). */
function pickle(...parts: Array<number | string>): Uint8Array {
  const bytes: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') bytes.push(p);
    else for (const c of p) bytes.push(c.charCodeAt(0));
  }
  return Uint8Array.from(bytes);
}

const str = (s: string): Array<number | string> => [0x55, s.length, s]; // SHORT_BINSTRING
const int64 = (v: number): string => String.fromCharCode(...new Uint8Array(new BigInt64Array([BigInt(v)]).buffer));

// numpy.dtype('i8', 0, 1) with state (3, '<', ...) memoised as 1; scalar memoised as 0.
const NUMPY_HEADER = [
  0x63,
  'numpy.core.multiarray\nscalar\n',
  0x71,
  0,
  0x63,
  'numpy\ndtype\n',
  ...str('i8'),
  0x4b,
  0,
  0x4b,
  1,
  0x87,
  0x52,
  0x28,
  0x4b,
  3,
  ...str('<'),
  0x4e,
  0x4e,
  0x4e,
  0x4a,
  255,
  255,
  255,
  255,
  0x4a,
  255,
  255,
  255,
  255,
  0x4b,
  0,
  0x74,
  0x62,
  0x71,
  1,
];
const NOTE = (midi: number): Array<number | string> => [0x68, 0, 0x68, 1, ...str(int64(midi)), 0x86, 0x52];

describe('readPickle', () => {
  it('reads a protocol-2 dict of lists of tuples of numpy int64, as the original files hold', () => {
    const bytes = pickle(
      0x80,
      2,
      0x7d,
      0x28,
      // The first note builds scalar and dtype in place (and memoises them), as the original files do.
      ...str('train'),
      0x5d,
      0x28,
      0x5d,
      0x28,
      0x28,
      ...NUMPY_HEADER,
      ...str(int64(60)),
      0x86,
      0x52,
      ...NOTE(64),
      0x74,
      0x29,
      0x28,
      ...NOTE(21),
      0x74,
      0x65,
      0x65,
      ...str('valid'),
      0x5d,
      0x5d,
      0x28,
      ...NOTE(108),
      0x74,
      0x61,
      0x61,
      ...str('test'),
      0x5d,
      0x5d,
      0x28,
      0x29,
      0x28,
      ...NOTE(72),
      0x74,
      0x65,
      0x61,
      0x75,
      0x2e,
    );
    const data = readPolyphonicPickle(bytes, 'tiny');
    expect(data.splits.train.sequenceCount).toBe(1);
    expect(Array.from(data.splits.train.keys)).toEqual([60 - 21, 64 - 21, 0]);
    expect(Array.from(data.splits.train.stepStart)).toEqual([0, 2, 2, 3]);
    expect(Array.from(data.splits.valid.keys)).toEqual([87]);
    expect(data.splits.test.stepCount).toBe(2);
  });

  it('refuses an unknown opcode, naming it and where it is', () => {
    const bytes = pickle(0x80, 2, 0x5d, 0x49, '1\n', 0x2e); // INT (text) is not supported
    expect(() => readPickle(bytes, 'x.pickle')).toThrow(DatasetError);
    expect(() => readPickle(bytes, 'x.pickle')).toThrow(/readPickle: x.pickle: unsupported opcode 0x49 at byte 3/);
  });

  it('refuses any global but the numpy scalar and dtype constructors', () => {
    const bytes = pickle(0x80, 2, 0x63, 'os\nsystem\n', ...str('echo hi'), 0x85, 0x52, 0x2e);
    expect(() => readPickle(bytes)).toThrow(/global 'os system' at byte 2 is not allowed/);
  });

  it('refuses a truncated file and a non-dict top level', () => {
    expect(() => readPickle(pickle(0x80, 2, 0x55, 10, 'abc'))).toThrow(/truncated at byte 4/);
    expect(() => readPolyphonicPickle(pickle(0x80, 2, 0x5d, 0x2e), 'x')).toThrow(/expected a dict of splits/);
  });
});
