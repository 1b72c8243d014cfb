import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DATASET_NAMES,
  type DatasetInfo,
  type DatasetName,
  ORIGINAL_BASE_URL,
  POLYPHONIC_DATASETS,
} from './catalog.js';
import { DatasetError } from './errors.js';
import type { PolyphonicDataset } from './piano_roll.js';
import { readPolyphonicPickle } from './read.js';
import { readPolyphonicJsonGz } from './read_node.js';
import { splitStats } from './stats.js';
import { syntheticDataset } from './synthetic.js';

export interface LocateOptions {
  /** A directory holding the files; default the TENSORIZED_DATA_DIR environment variable. */
  dataDir?: string;
  /** Where downloads go; default TENSORIZED_CACHE_DIR, else ~/.cache/tensorized. */
  cacheDir?: string;
}

export interface LoadOptions extends LocateOptions {
  /** Download the original pickle into cacheDir when no file is found (default false). */
  download?: boolean;
  /** Base address of the originals (default ORIGINAL_BASE_URL). */
  baseUrl?: string;
  /** Give up on a download after this many milliseconds (default 120000). */
  timeoutMs?: number;
  /** Seed of the synthetic dataset. */
  seed?: number;
}

function info(name: string): DatasetInfo {
  const entry = (POLYPHONIC_DATASETS as Record<string, DatasetInfo>)[name];
  if (!entry) {
    throw new DatasetError(
      'INVALID_ARGUMENT',
      `loadPolyphonic: unknown dataset '${name}'; expected one of synthetic, ${DATASET_NAMES.join(', ')}`,
    );
  }
  return entry;
}

export function defaultCacheDir(): string {
  return process.env['TENSORIZED_CACHE_DIR'] ?? join(homedir(), '.cache', 'tensorized');
}

/** The directories searched, in order: dataDir (or TENSORIZED_DATA_DIR), then cacheDir. */
export function searchDirs(options: LocateOptions = {}): string[] {
  const dirs = [options.dataDir ?? process.env['TENSORIZED_DATA_DIR'], options.cacheDir ?? defaultCacheDir()];
  return dirs.filter((d): d is string => typeof d === 'string' && d.length > 0).map((d) => resolve(d));
}

/** The first file found for a dataset (original pickle preferred), or undefined. */
export function findDatasetFile(name: DatasetName, options: LocateOptions = {}): string | undefined {
  const entry = info(name);
  for (const dir of searchDirs(options)) {
    for (const file of [entry.pickle, entry.json]) {
      const path = join(dir, file);
      if (existsSync(path)) return path;
    }
  }
  return undefined;
}

/** Reads a dataset file of either format, judged by its name. */
export async function readDatasetFile(path: string, name = path): Promise<PolyphonicDataset> {
  const bytes = new Uint8Array(await readFile(path));
  return path.endsWith('.json.gz') ? readPolyphonicJsonGz(bytes, path) : readPolyphonicPickle(bytes, name, path);
}

/**
 * A dataset by short name: 'synthetic' (built in), or one of the four benchmarks from the first
 * directory that holds its original pickle or its .json.gz; with `download`, the original pickle is
 * fetched into the cache directory first. Offline, the error says which file to put where.
 */
export async function loadPolyphonic(
  name: DatasetName | 'synthetic',
  options: LoadOptions = {},
): Promise<PolyphonicDataset> {
  if (name === 'synthetic') return syntheticDataset(options.seed === undefined ? {} : { seed: options.seed });
  const entry = info(name);
  let path = findDatasetFile(name, options);
  if (!path && options.download) path = await downloadOriginal(name, options);
  if (!path) {
    const dirs = searchDirs(options);
    throw new DatasetError(
      'NOT_FOUND',
      `loadPolyphonic: dataset '${name}' not found in ${dirs.length ? dirs.join(', ') : '(no directory given)'}. ` +
        `Put the original '${entry.pickle}' (from ${ORIGINAL_BASE_URL}${encodeURIComponent(entry.pickle)}) or '${entry.json}' ` +
        `in a directory named by --data-dir or TENSORIZED_DATA_DIR, or allow the download into ${options.cacheDir ?? defaultCacheDir()}.`,
    );
  }
  return readDatasetFile(path, entry.title);
}

/**
 * Downloads the original pickle into cacheDir: to a temporary file, checked (sha256 where known,
 * then parsed and its sequence counts compared with the published ones), then renamed into place.
 * On any failure nothing is left behind and the error says why.
 */
export async function downloadOriginal(name: DatasetName, options: LoadOptions = {}): Promise<string> {
  const entry = info(name);
  const dir = resolve(options.cacheDir ?? defaultCacheDir());
  const url = `${options.baseUrl ?? ORIGINAL_BASE_URL}${encodeURIComponent(entry.pickle)}`;
  let bytes: Uint8Array;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 120_000) });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (cause) {
    throw new DatasetError(
      'DOWNLOAD_FAILED',
      `downloadOriginal: could not download ${url}: ${(cause as Error).message}`,
      { cause },
    );
  }
  if (entry.sha256) {
    const digest = createHash('sha256').update(bytes).digest('hex');
    if (digest !== entry.sha256) {
      throw new DatasetError(
        'CHECKSUM_MISMATCH',
        `downloadOriginal: ${url} has sha256 ${digest}, expected ${entry.sha256}; nothing was written`,
      );
    }
  }
  const dataset = readPolyphonicPickle(bytes, entry.title, url);
  const counts = (['train', 'valid', 'test'] as const).map((s) => splitStats(dataset.splits[s]).sequences);
  if (counts.some((c, i) => c !== entry.sequences[i])) {
    throw new DatasetError(
      'CHECKSUM_MISMATCH',
      `downloadOriginal: ${url} holds ${counts.join('/')} sequences (train/valid/test), expected ${entry.sequences.join('/')}; nothing was written`,
    );
  }
  await mkdir(dir, { recursive: true });
  const target = join(dir, entry.pickle);
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, target);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new DatasetError(
      'DOWNLOAD_FAILED',
      `downloadOriginal: could not write ${target}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return target;
}
