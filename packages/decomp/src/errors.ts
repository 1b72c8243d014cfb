/** What went wrong, for programs that branch on it. */
export type DecompErrorCode = 'INVALID_ARGUMENT' | 'INVALID_MODES' | 'INVALID_RANK' | 'SHAPE_MISMATCH' | 'NOT_FINITE';

/**
 * The one error class of `@tensorized/decomp`. The message names the function, the argument, the
 * value that was given and what was expected.
 */
export class DecompError extends Error {
  readonly code: DecompErrorCode;
  constructor(code: DecompErrorCode, message: string) {
    super(message);
    this.name = 'DecompError';
    this.code = code;
  }
}

/** Throws a DecompError unless `condition` holds; the message is built only on failure. */
export function check(condition: boolean, code: DecompErrorCode, message: () => string): asserts condition {
  if (!condition) throw new DecompError(code, message());
}

export function fmt(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(fmt).join(', ')}]`;
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return JSON.stringify(value) ?? String(value);
}
