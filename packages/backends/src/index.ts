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
export { installWasmKernelFixes } from './wasm_kernels.js';
