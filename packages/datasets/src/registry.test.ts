import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_SHARED, POLYPHONIC_DIR } from '../test/shared.js';
import {
  DatasetError,
  downloadOriginal,
  findDatasetFile,
  loadPolyphonic,
  readDatasetFile,
  splitStats,
} from './node.js';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'tensorized-datasets-'));

async function rejection(p: Promise<unknown>): Promise<DatasetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(DatasetError);
  return e as DatasetError;
}

describe('finding and reading files', () => {
  it('finds a dataset in the data directory (option or TENSORIZED_DATA_DIR), preferring the original pickle', async () => {
    const dir = tempDir();
    const json = {
      name: 'tiny',
      source: 'test',
      splits: { train: [[[60], [62]]], valid: [[[64], []]], test: [[[65, 69], [72]]] },
    };
    writeFileSync(join(dir, 'Nottingham.json.gz'), gzipSync(JSON.stringify(json)));
    expect(findDatasetFile('nottingham', { dataDir: dir, cacheDir: tempDir() })).toBe(join(dir, 'Nottingham.json.gz'));
    const data = await loadPolyphonic('nottingham', { dataDir: dir, cacheDir: tempDir() });
    expect(splitStats(data.splits.test)).toMatchObject({ sequences: 1, steps: 2, minNote: 65, maxNote: 72 });
    process.env['TENSORIZED_DATA_DIR'] = dir;
    try {
      expect(findDatasetFile('nottingham', { cacheDir: tempDir() })).toBe(join(dir, 'Nottingham.json.gz'));
    } finally {
      delete process.env['TENSORIZED_DATA_DIR'];
    }
  });

  it('offline and without the file, says which file to put where', async () => {
    const e = await rejection(loadPolyphonic('musedata', { dataDir: tempDir(), cacheDir: tempDir() }));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(
      /Put the original 'MuseData.pickle' .* or 'MuseData.json.gz' in a directory named by --data-dir or TENSORIZED_DATA_DIR/,
    );
    await expect(loadPolyphonic('cmaj' as never)).rejects.toThrow(
      /unknown dataset 'cmaj'; expected one of synthetic, jsb, nottingham, musedata, pianomidi/,
    );
  });

  it.each<[string, Buffer | string, RegExp]>([
    [
      'a truncated gzip',
      gzipSync(JSON.stringify({ splits: { train: [[[60]]] } })).subarray(0, 20),
      /not a complete gzip file/,
    ],
    [
      'JSON of the wrong shape',
      gzipSync(JSON.stringify([[60, 62]])),
      /expected \{"name", "source", "splits": \{"train", "valid", "test"\}\}, got an array/,
    ],
    [
      'a note out of range',
      gzipSync(JSON.stringify({ splits: { train: [[[60], [120]]], valid: [[[60]]], test: [[[60]]] } })),
      /train\[0\]\[1\] has note 120, outside the piano range \(MIDI 21..108\)/,
    ],
    [
      'an empty split',
      gzipSync(JSON.stringify({ splits: { train: [[[60]]], valid: [], test: [[[60]]] } })),
      /split 'valid' is empty/,
    ],
    [
      'a missing split',
      gzipSync(JSON.stringify({ splits: { train: [[[60]]], valid: [[[60]]] } })),
      /missing split 'test'/,
    ],
  ])('%s is refused with a clear error', async (_, bytes, message) => {
    const dir = tempDir();
    const path = join(dir, 'JSB_Chorales.json.gz');
    writeFileSync(path, bytes);
    const e = await rejection(readDatasetFile(path));
    expect(e.code).toBe('BAD_DATASET');
    expect(e.message).toMatch(message);
    expect(readdirSync(dir)).toEqual(['JSB_Chorales.json.gz']);
  });
});

describe.skipIf(!HAVE_SHARED)('downloading the original pickle (from a server on 127.0.0.1)', () => {
  const original = HAVE_SHARED ? readFileSync(join(POLYPHONIC_DIR, 'JSB Chorales.pickle')) : Buffer.alloc(0);
  let server: Server;
  let base = '';
  const requests: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      const mode = req.url?.split('/')[1];
      if (mode === 'broken') {
        res.writeHead(500);
        res.end('server error');
      } else if (mode === 'truncated') {
        // Promise the whole file, send a third of it, then drop the connection.
        res.writeHead(200, { 'content-length': String(original.length) });
        res.write(original.subarray(0, original.length / 3), () => res.destroy());
      } else if (mode === 'corrupt') {
        const bad = Buffer.from(original);
        bad[1000] = bad[1000]! ^ 0xff;
        res.writeHead(200, { 'content-length': String(bad.length) });
        res.end(bad);
      } else {
        res.writeHead(200, { 'content-length': String(original.length) });
        res.end(original);
      }
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((done) => server.close(() => done()));
  });

  it('downloads into the cache directory, checks the checksum, renames into place, then loads from it', async () => {
    const cacheDir = tempDir();
    const data = await loadPolyphonic('jsb', { dataDir: tempDir(), cacheDir, download: true, baseUrl: `${base}/ok/` });
    expect(requests.at(-1)).toBe('/ok/JSB%20Chorales.pickle');
    expect(readdirSync(cacheDir)).toEqual(['JSB Chorales.pickle']);
    expect(readFileSync(join(cacheDir, 'JSB Chorales.pickle')).equals(original)).toBe(true);
    expect(splitStats(data.splits.train).sequences).toBe(229);
    // Found in the cache the next time, without a request.
    const count = requests.length;
    await loadPolyphonic('jsb', { dataDir: tempDir(), cacheDir, download: true, baseUrl: `${base}/ok/` });
    expect(requests.length).toBe(count);
  });

  it.each<[string, string, RegExp]>([
    ['broken', 'DOWNLOAD_FAILED', /could not download .*\/broken\/JSB%20Chorales.pickle: HTTP 500/],
    ['truncated', 'DOWNLOAD_FAILED', /could not download .*\/truncated\/JSB%20Chorales.pickle/],
    ['corrupt', 'CHECKSUM_MISMATCH', /has sha256 [0-9a-f]{64}, expected 69dc4c3e.*nothing was written/],
  ])('a %s reply is refused and leaves nothing behind', async (mode, code, message) => {
    const cacheDir = tempDir();
    const e = await rejection(downloadOriginal('jsb', { cacheDir, baseUrl: `${base}/${mode}/`, timeoutMs: 10_000 }));
    expect(e.code).toBe(code);
    expect(e.message).toMatch(message);
    expect(readdirSync(cacheDir)).toEqual([]);
  });
});
