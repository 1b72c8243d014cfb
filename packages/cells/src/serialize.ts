import * as tf from '@tensorflow/tfjs-core';
import { type RecurrentCell, createCell } from './cell.js';
import type { CellConfig } from './config.js';
import { CellError, check } from './errors.js';
import { type NamedArray, decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { storedShape } from './stored_layout.js';

/**
 * The version of the weight file layout written by cellToSafetensors. 2: a Tucker core in its
 * natural shape (inRanks..., outRanks...); version 1 files (a 2-D core) still load.
 */
export const WEIGHTS_FORMAT_VERSION = '2';

/**
 * The cell's weights as safetensors bytes, its configuration in the metadata
 * (`tensorized.config`, JSON). Tensor names are those of `cell.namedVariables()`: `W`, `U` (dense,
 * shape (in, gates*hidden), gates stacked r, z, n for a GRU and i, f, g, o for an LSTM), or
 * `W.core0..` (TT, (r, n, m, r)), `W.in0.., W.out0..` (CP, (n, R)), `W.core, W.in0.., W.out0..`
 * (Tucker); `bW`, `bU`.
 */
export function cellToSafetensors(cell: RecurrentCell, extraMetadata: Record<string, string> = {}): Uint8Array {
  const tensors: Array<[string, NamedArray]> = cell
    .namedVariables()
    .map(([name, v]) => [name, { shape: [...v.shape], data: v.dataSync() as Float32Array }]);
  return encodeSafetensors(tensors, {
    ...extraMetadata,
    format: 'tensorized',
    'tensorized.version': WEIGHTS_FORMAT_VERSION,
    'tensorized.config': JSON.stringify(cell.config),
  });
}

/** The configuration stored in a weight file. */
export function configFromSafetensors(bytes: Uint8Array): CellConfig {
  const { metadata } = decodeSafetensors(bytes);
  const json = metadata['tensorized.config'];
  check(
    typeof json === 'string',
    'BAD_WEIGHTS',
    () => 'configFromSafetensors: the file has no tensorized.config metadata (not written by cellToSafetensors)',
  );
  try {
    return JSON.parse(json) as CellConfig;
  } catch (e) {
    throw new CellError(
      'BAD_WEIGHTS',
      `configFromSafetensors: tensorized.config is not valid JSON (${(e as Error).message})`,
    );
  }
}

/** Loads weights into an existing cell: every variable must be present with its shape. */
export function loadCellWeights(cell: RecurrentCell, bytes: Uint8Array): void {
  const { tensors } = decodeSafetensors(bytes);
  const names = cell.namedVariables().map(([n]) => n);
  const missing = names.filter((n) => !tensors.has(n));
  check(missing.length === 0, 'BAD_WEIGHTS', () => `loadCellWeights: the file lacks ${missing.join(', ')}`);
  for (const n of names) {
    const bad = tensors.get(n)!.data.findIndex((x) => !Number.isFinite(x));
    check(
      bad < 0,
      'BAD_WEIGHTS',
      () => `loadCellWeights: '${n}' holds ${tensors.get(n)!.data[bad]} at flat index ${bad}; weights must be finite`,
    );
  }
  const shapes = new Map(cell.namedVariables().map(([n, v]) => [n, v.shape]));
  const values = tf.tidy(() =>
    Object.fromEntries(
      names.map((n) => [n, tf.tensor(tensors.get(n)!.data, storedShape(n, tensors.get(n)!.shape, shapes.get(n)!))]),
    ),
  );
  try {
    cell.setWeights(values);
  } finally {
    tf.dispose(Object.values(values));
  }
}

/** A new cell from a weight file written by cellToSafetensors: same configuration, same weights. */
export function cellFromSafetensors(bytes: Uint8Array): RecurrentCell {
  const cell = createCell(configFromSafetensors(bytes));
  try {
    loadCellWeights(cell, bytes);
  } catch (e) {
    cell.dispose();
    throw e;
  }
  return cell;
}
