export { DecompError, type DecompErrorCode } from './errors.js';
export {
  type NdArray,
  ndarray,
  isNdArray,
  frobeniusNorm,
  relativeError,
  reshapeNd,
  transposeNd,
  matMulNd,
  unfold,
} from './ndarray.js';
export { toNdArray, toTensor } from './ops.js';
export { Rng } from './random.js';

export { type FormatOptions, type TtTensor, type TtMatrix, ttTensor, ttMatrix } from './formats/tt.js';
export { type CpTensor, type CpMatrix, cpTensor, cpMatrix } from './formats/cp.js';
export { type TuckerTensor, type TuckerMatrix, tuckerTensor, tuckerMatrix } from './formats/tucker.js';
export type { MatrixFormat, MatrixShape, TtMatrixSpec, CpMatrixSpec, TuckerMatrixSpec } from './formats/matrix.js';
export { convertFormat } from './formats/convert.js';
export {
  type TrMatrix,
  type TrMatrixSpec,
  checkTrMatrixSpec,
  trCoreStd,
  trMatrix,
  trMatrixInit,
  trMatmul,
  trMatrixParamCount,
  trMatrixToDense,
} from './formats/tr.js';
export {
  type BtMatrix,
  type BtMatrixSpec,
  btFactorStd,
  btMatmul,
  btMatrix,
  btMatrixInit,
  btMatrixParamCount,
  btMatrixToDense,
  checkBtMatrixSpec,
} from './formats/bt.js';
export {
  type FormatDefinition,
  type FormatName,
  type FormatPart,
  type FormatSpec,
  type Modes,
  FORMATS,
  FORMAT_NAMES,
  definitionOf,
  formatDefinition,
  paramCount,
} from './formats/registry.js';

export { groupTtCores, ttMatmul, ttMatrixToDense, ttToDense } from './contract/tt.js';
export { cpToDense, cpMatrixToDense, cpMatmul } from './contract/cp.js';
export { tuckerToDense, tuckerMatrixToDense, tuckerMatmul } from './contract/tucker.js';
export {
  MATMUL_PAIR_KERNEL,
  matrixToDense,
  factorisedMatmul,
  plannedMatmul,
  prepareMatmul,
  type PreparedMatmul,
  type PrepareOptions,
} from './matmul.js';

export type { MatmulPath } from './cost.js';
export {
  type Calibration,
  type MatmulPlan,
  type PlanOptions,
  calibrate,
  setCalibration,
  planMatmul,
} from './planner.js';
export { COST_PROFILES } from './profiles.js';

export {
  ttMatrixParamCount,
  cpMatrixParamCount,
  tuckerMatrixParamCount,
  checkTtMatrixSpec,
  checkCpMatrixSpec,
  checkTuckerMatrixSpec,
} from './params.js';
export {
  AUTHORS_STD,
  type InitOptions,
  type InitStd,
  targetStd,
  ttCoreStd,
  cpFactorStd,
  tuckerFactorStd,
  ttMatrixInit,
  cpMatrixInit,
  tuckerMatrixInit,
} from './init.js';

export { type Svd, svd, truncationRank } from './linalg/svd.js';
export { type TtSvdOptions, ttSvd } from './algorithms/tt_svd.js';
export { ttRound } from './algorithms/tt_round.js';
export { type TtMatrixFromDenseOptions, ttMatrixFromDense } from './algorithms/tt_matrix_from_dense.js';
export { type TrMatrixFromDenseOptions, trMatrixFromDense } from './algorithms/tr_svd.js';
export {
  type BtMatrixFromDenseOptions,
  type BtMatrixFromDenseResult,
  btMatrixFromDense,
} from './algorithms/bt_als.js';
export { type CpAlsOptions, type CpAlsResult, cpAls } from './algorithms/cp_als.js';
export { type TuckerOptions, tuckerHosvd } from './algorithms/tucker_hosvd.js';
export { type TuckerHooiOptions, type TuckerHooiResult, tuckerHooi } from './algorithms/tucker_hooi.js';
export {
  type CompressedMatrix,
  type CompressFormat,
  type CompressMatrixOptions,
  type CompressReport,
  type CompressTrial,
  compressMatrix,
} from './algorithms/compress.js';
export { prod } from './prod.js';
