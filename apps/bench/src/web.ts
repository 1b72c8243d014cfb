// The parts of the bench app that run in a browser (apps/web bundles them): the model of PAPER.md,
// checkpoints decoded from bytes, sampling, MIDI and piano rolls, and evaluation. Nothing here imports
// a Node.js module; `entries.test.ts` checks it.
export { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint_codec.js';
export { cellConfigOf, evaluate, pieceNll } from './evaluate.js';
export { type FrameSums, summarise } from './metrics.js';
export { PolyphonicModel } from './model.js';
export {
  checkSampleOptions,
  framesToMidi,
  midiToFrames,
  modelFromCheckpoint,
  pianoRollSvg,
  pieceFrames,
  sampleFrames,
  type SampleOptions,
  samplePiece,
} from './sample.js';
export type { RunConfig } from './train.js';
