/**
 * @tensorized/decomp/stages: the internals that @tensorized/cells builds its fused recurrence on,
 * for code that differentiates factorised products by hand. A prepared product as matMul stages with
 * layout views between them, the gradients of the stage matrices from a dense gradient, the cost
 * model the planner uses, and the Ops abstraction (TF.js tensors or float64 arrays) the contractions
 * are written against. Not needed to use the formats, contractions, planner or algorithms (the main
 * entry, `@tensorized/decomp`); this entry may change with the cells package.
 */
export { addBias, columnSums, type MatMulBiasOptions, matMulBias, recordingGradients } from './bias.js';
export { modeProducts } from './contract/mode_products.js';
export {
  hasDenseGradient,
  stageGradientsFromDense,
  stageShapes,
} from './contract/stage_gradients.js';
export {
  applyStages,
  applyView,
  foldedTranspose,
  inverseView,
  type MatmulStage,
  type StagedMatmul,
  stagedInSize,
  ttStages,
  unapplyView,
  type ViewOp,
  viewThenMatMul,
} from './contract/tt.js';
export {
  type CostEstimate,
  denseGradientTrace,
  denseMatmulCost,
  matmulCost,
  type PathCost,
  TN_DIRECT_MAX,
  TN_PACKED_MAX,
  TN_PANELS_MIN_COLS,
  TN_PANELS_MIN_ROWS,
  totalCost,
  weightGradientCosts,
} from './cost.js';
export { trStages } from './formats/tr.js';
export { btStages } from './formats/bt.js';
export { Trace, type TracedKernel, type Traced, traceApply, traceOps, tracePrepare } from './trace.js';
export { type Core, f64Ops, KHATRI_RAO_KERNELS, type Ops, tfOps } from './ops.js';
export { estimateMs, planWeightGradient, type WeightGradientRoute } from './planner.js';
