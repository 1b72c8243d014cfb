export type DatasetErrorCode =
  | 'BAD_DATASET'
  | 'UNSUPPORTED_PICKLE'
  | 'NOT_FOUND'
  | 'CHECKSUM_MISMATCH'
  | 'DOWNLOAD_FAILED'
  | 'INVALID_ARGUMENT';

/** The one error class of `@tensorized/datasets`; the message names the file or argument and what was expected. */
export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  constructor(code: DatasetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatasetError';
    this.code = code;
  }
}

export function check(condition: boolean, code: DatasetErrorCode, message: () => string): asserts condition {
  if (!condition) throw new DatasetError(code, message());
}
