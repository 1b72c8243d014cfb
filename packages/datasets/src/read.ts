import { check, DatasetError } from './errors.js';
import { datasetFromSplits, type PolyphonicDataset } from './piano_roll.js';
import { type PickleValue, readPickle } from './pickle.js';

/**
 * The gzipped JSON format: {"name", "source", "splits": {"train", "valid", "test"}}, each split a
 * list of sequences of time steps of MIDI note numbers. Decompressed with the platform's
 * DecompressionStream (browsers, Node.js 18 and later); in Node.js `readPolyphonicJsonGz` of
 * `@tensorized/datasets/node` does the same synchronously.
 */
export async function decodePolyphonicJsonGz(bytes: Uint8Array, where = 'json.gz'): Promise<PolyphonicDataset> {
  let text: string;
  try {
    const stream = new Blob([bytes.slice()]).stream().pipeThrough(new DecompressionStream('gzip'));
    text = await new Response(stream).text();
  } catch (cause) {
    throw notGzip(where, cause);
  }
  return parsePolyphonicJson(text, where);
}

/** The error for bytes that do not decompress (both readers of the gzipped JSON). */
export function notGzip(where: string, cause: unknown): DatasetError {
  return new DatasetError(
    'BAD_DATASET',
    `${where}: not a complete gzip file (${(cause as Error).message}); download it again`,
    { cause },
  );
}

export function parsePolyphonicJson(text: string, where = 'json'): PolyphonicDataset {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new DatasetError('BAD_DATASET', `${where}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  const d = doc as { name?: unknown; source?: unknown; splits?: unknown };
  check(
    typeof d === 'object' &&
      d !== null &&
      typeof d.splits === 'object' &&
      d.splits !== null &&
      !Array.isArray(d.splits),
    'BAD_DATASET',
    () =>
      `${where}: expected {"name", "source", "splits": {"train", "valid", "test"}}, got ${Array.isArray(doc) ? 'an array' : typeof doc === 'object' && doc ? `an object with keys ${Object.keys(doc).join(', ')}` : typeof doc}`,
  );
  return datasetFromSplits(
    typeof d.name === 'string' ? d.name : where,
    typeof d.source === 'string' ? d.source : where,
    d.splits as Record<string, unknown>,
    where,
  );
}

/**
 * The original distribution format (Boulanger-Lewandowski 2012): a pickle of
 * {'train', 'valid', 'test'}, each a list of sequences of time steps, each a tuple of numpy int64
 * MIDI note numbers.
 */
export function readPolyphonicPickle(bytes: Uint8Array, name: string, where = 'pickle'): PolyphonicDataset {
  const root = readPickle(bytes, where);
  check(root instanceof Map, 'BAD_DATASET', () => `${where}: expected a dict of splits at the top level`);
  const splits: Record<string, unknown> = {};
  for (const [k, v] of root as Map<PickleValue, PickleValue>) {
    if (typeof k === 'string') splits[k] = toNoteLists(v, `${where}: split '${k}'`);
  }
  return datasetFromSplits(name, where, splits, where);
}

function toNoteLists(v: PickleValue, where: string): number[][][] {
  check(Array.isArray(v), 'BAD_DATASET', () => `${where} must be a list of sequences`);
  return (v as PickleValue[]).map((seq, q) => {
    check(Array.isArray(seq), 'BAD_DATASET', () => `${where}[${q}] must be a list of time steps`);
    return (seq as PickleValue[]).map((step, t) => {
      const notes = Array.isArray(step) ? step : (step as { tuple?: PickleValue[] } | null)?.tuple;
      check(Array.isArray(notes), 'BAD_DATASET', () => `${where}[${q}][${t}] must be a tuple of note numbers`);
      return (notes as PickleValue[]).map((n) => n as number);
    });
  });
}
