export { CellError, type CellErrorCode } from './errors.js';
export {
  type CellConfig,
  type CellKind,
  type WeightSpec,
  type WeightFormat,
  WEIGHT_FORMATS,
  foldGates,
  gateCount,
  resolveMatrices,
} from './config.js';
export {
  type AppliedWeight,
  type VariableFactory,
  WeightMatrix,
  type WeightPlan,
  type WeightPlanOptions,
} from './weight.js';
export {
  RecurrentCell,
  GruCell,
  LstmCell,
  createCell,
  type SequenceOptions,
  type SequenceResult,
  type StepResult,
} from './cell.js';
export { MODEL_NAMES, type ModelName, PAPER_SPECS, type PaperCellOptions, paperCellConfig } from './presets.js';
export { type BudgetProposal, type BudgetRequest, balancedModes, proposeConfig } from './budget.js';
export { type NamedArray, decodeSafetensors, encodeSafetensors } from './safetensors.js';
export {
  WEIGHTS_FORMAT_VERSION,
  cellFromSafetensors,
  cellToSafetensors,
  configFromSafetensors,
  loadCellWeights,
} from './serialize.js';
export { flipsStepChain, flipsStepProduct } from './gru_sequence.js';
export { storedShape } from './stored_layout.js';
export { type CompressCellOptions, type CompressCellResult, type CompressSpec, compressCell } from './compress.js';
