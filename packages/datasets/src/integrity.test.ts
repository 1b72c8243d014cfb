import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_SHARED, integrityTable, POLYPHONIC_DIR } from '../test/shared.js';
import {
  decodePolyphonicJsonGz,
  readPolyphonicJsonGz,
  readPolyphonicPickle,
  type SplitName,
  splitBytes,
  splitStats,
} from './node.js';

const FILES: Record<string, string> = {
  JSB_Chorales: 'JSB_Chorales.json.gz',
  Nottingham: 'Nottingham.json.gz',
  MuseData: 'MuseData.json.gz',
  Piano_midi: 'Piano_midi.json.gz',
};

describe.skipIf(!HAVE_SHARED)(`the four datasets against the integrity table of ${POLYPHONIC_DIR}/README.md`, () => {
  const table = HAVE_SHARED ? integrityTable() : [];

  it('the table has 12 rows (4 datasets x 3 splits)', () => {
    expect(table.length).toBe(12);
  });

  for (const [dataset, file] of Object.entries(FILES)) {
    it(`${dataset}: sequences, steps, note range, notes/step and empty steps of every split`, () => {
      const data = readPolyphonicJsonGz(new Uint8Array(readFileSync(join(POLYPHONIC_DIR, file))), file);
      for (const row of table.filter((r) => r.dataset === dataset)) {
        const s = splitStats(data.splits[row.split as SplitName]);
        expect({
          split: row.split,
          sequences: s.sequences,
          steps: s.steps,
          minNote: s.minNote,
          maxNote: s.maxNote,
          notesPerStep: s.notesPerStep.toFixed(3),
          emptySteps: s.emptySteps,
        }).toEqual({
          split: row.split,
          sequences: row.sequences,
          steps: row.steps,
          minNote: row.minNote,
          maxNote: row.maxNote,
          notesPerStep: row.notesPerStep,
          emptySteps: row.emptySteps,
        });
      }
    });
  }

  it("reading 'JSB Chorales.pickle' gives exactly the sequences of JSB_Chorales.json.gz", () => {
    const fromPickle = readPolyphonicPickle(
      new Uint8Array(readFileSync(join(POLYPHONIC_DIR, 'JSB Chorales.pickle'))),
      'JSB Chorales',
    );
    const fromJson = readPolyphonicJsonGz(new Uint8Array(readFileSync(join(POLYPHONIC_DIR, 'JSB_Chorales.json.gz'))));
    for (const split of ['train', 'valid', 'test'] as const) {
      const a = fromPickle.splits[split];
      const b = fromJson.splits[split];
      expect(a.sequenceCount).toBe(b.sequenceCount);
      expect(Array.from(a.seqStart)).toEqual(Array.from(b.seqStart));
      expect(Array.from(a.stepStart)).toEqual(Array.from(b.stepStart));
      expect(Buffer.from(a.keys).equals(Buffer.from(b.keys))).toBe(true);
    }
  });

  it('decodePolyphonicJsonGz (DecompressionStream, the browser-safe entry) reads the same as readPolyphonicJsonGz; a truncated file is refused', async () => {
    const bytes = new Uint8Array(readFileSync(join(POLYPHONIC_DIR, 'JSB_Chorales.json.gz')));
    const a = readPolyphonicJsonGz(bytes);
    const b = await decodePolyphonicJsonGz(bytes);
    for (const split of ['train', 'valid', 'test'] as const) {
      expect(Array.from(b.splits[split].stepStart)).toEqual(Array.from(a.splits[split].stepStart));
      expect(Buffer.from(b.splits[split].keys).equals(Buffer.from(a.splits[split].keys))).toBe(true);
    }
    await expect(decodePolyphonicJsonGz(bytes.subarray(0, 1000), 'cut.json.gz')).rejects.toThrow(
      /cut\.json\.gz: not a complete gzip file/,
    );
  });

  it('MuseData, the largest, is held in under 3 MB of arrays, and loading it grows the heap by under 64 MB', () => {
    const bytes = new Uint8Array(readFileSync(join(POLYPHONIC_DIR, 'MuseData.json.gz')));
    const before = process.memoryUsage();
    const data = readPolyphonicJsonGz(bytes, 'MuseData.json.gz');
    const after = process.memoryUsage();
    const held = Object.values(data.splits).reduce((n, s) => n + splitBytes(s), 0);
    // Figures for the README: printed, and bounded.
    console.log(
      `MuseData: ${(held / 2 ** 20).toFixed(2)} MB of arrays; heap +${((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1)} MB, rss +${((after.rss - before.rss) / 2 ** 20).toFixed(1)} MB while loading`,
    );
    expect(held).toBeLessThan(3 * 2 ** 20);
    expect(after.heapUsed - before.heapUsed).toBeLessThan(64 * 2 ** 20);
  });
});

describe.runIf(!HAVE_SHARED)('the shared datasets', () => {
  it.skip(`skipped: ${POLYPHONIC_DIR} is absent`, () => {});
});
