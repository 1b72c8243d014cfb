import { gunzipSync } from 'node:zlib';
import type { PolyphonicDataset } from './piano_roll.js';
import { notGzip, parsePolyphonicJson } from './read.js';

/**
 * The gzipped JSON format: {"name", "source", "splits": {"train", "valid", "test"}}, each split a
 * list of sequences of time steps of MIDI note numbers. (Node.js; `decodePolyphonicJsonGz` anywhere.)
 */
export function readPolyphonicJsonGz(bytes: Uint8Array, where = 'json.gz'): PolyphonicDataset {
  let text: string;
  try {
    text = gunzipSync(bytes).toString('utf8');
  } catch (cause) {
    throw notGzip(where, cause);
  }
  return parsePolyphonicJson(text, where);
}
