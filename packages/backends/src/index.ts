export { BackendError, type BackendErrorCode } from './errors.js';
export {
  type BackendName,
  type BackendRequest,
  type BackendInfo,
  BACKEND_NAMES,
  useBackend,
  isBackendInstalled,
  installedBackends,
} from './use_backend.js';
export {
  installWasmKernelFixes,
  TN_DIRECT_MAX,
  TN_PACKED_MAX,
  TN_PANELS_MIN_COLS,
  TN_PANELS_MIN_ROWS,
} from './wasm_kernels.js';
export {
  type AdamAllAttrs,
  type AdamAttrs,
  type DropoutAttrs,
  FUSED_KERNELS,
  type GateActivation,
  type GruStepAttrs,
  type GruStepGradAttrs,
  hash32,
  installFusedKernels,
} from './fused_kernels.js';
export { installMatMulPair, type MatMulPairAttrs } from './matmul_pair.js';
export { installView, type ViewAttrs, type ViewStep } from './view.js';
export { setNativeWasmKernels } from './wasm_native.js';
export {
  type GruSequenceAttrs,
  type GruSequenceGradAttrs,
  type GruStagedSequenceAttrs,
  type GruStagedSequenceGradAttrs,
  installGruSequence,
} from './gru_sequence.js';
