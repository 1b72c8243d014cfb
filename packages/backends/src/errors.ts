export type BackendErrorCode = 'UNKNOWN_BACKEND' | 'BACKEND_NOT_INSTALLED' | 'BACKEND_INIT_FAILED' | 'INVALID_OPTION';

/** The one error class of `@tensorized/backends`. */
export class BackendError extends Error {
  readonly code: BackendErrorCode;
  constructor(code: BackendErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
    this.code = code;
  }
}
