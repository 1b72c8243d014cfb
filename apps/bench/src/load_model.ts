import { readFile } from 'node:fs/promises';
import { CheckpointError } from './checkpoint_codec.js';
import type { PolyphonicModel } from './model.js';
import { modelFromCheckpoint } from './sample.js';
import type { RunConfig } from './train.js';

/** The model of a checkpoint file (see modelFromCheckpoint). The caller disposes it. */
export async function loadModel(path: string): Promise<{ model: PolyphonicModel; config: RunConfig }> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(e as Error).message}`);
  }
  return modelFromCheckpoint(bytes, path);
}
