// Everything that runs anywhere (browsers, bundlers, Node.js): parsers, piano rolls, batching,
// statistics, the catalogue. Reading files and downloading are in the Node.js entry, ./node.ts.
export { DatasetError, type DatasetErrorCode } from './errors.js';
export {
  HIGHEST_NOTE,
  KEYS,
  LOWEST_NOTE,
  type PolyphonicDataset,
  SPLIT_NAMES,
  type Split,
  type SplitName,
  datasetFromSplits,
  keysAt,
  sequenceLength,
  splitBytes,
  splitFromNotes,
} from './piano_roll.js';
export { type NumpyDtype, type PickleValue, readPickle } from './pickle.js';
export { decodePolyphonicJsonGz, parsePolyphonicJson, readPolyphonicPickle } from './read.js';
export { independentNotesNll, type SplitStats, splitStats } from './stats.js';
export { type Batch, type BatchOptions, type Piece, batches, makeBatch, piecesOf, orderedBatches } from './batching.js';
export { type SyntheticOptions, syntheticDataset } from './synthetic.js';
export {
  DATASET_NAMES,
  type DatasetInfo,
  type DatasetName,
  ORIGINAL_BASE_URL,
  POLYPHONIC_DATASETS,
} from './catalog.js';
