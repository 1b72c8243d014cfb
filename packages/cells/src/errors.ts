export type CellErrorCode = 'INVALID_CONFIG' | 'INVALID_MODES' | 'INVALID_RANK' | 'SHAPE_MISMATCH' | 'BAD_WEIGHTS';

/** The one error class of `@tensorized/cells`; the message names the argument and what was expected. */
export class CellError extends Error {
  readonly code: CellErrorCode;
  constructor(code: CellErrorCode, message: string) {
    super(message);
    this.name = 'CellError';
    this.code = code;
  }
}

export function check(condition: boolean, code: CellErrorCode, message: () => string): asserts condition {
  if (!condition) throw new CellError(code, message());
}
