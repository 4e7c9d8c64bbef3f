/**
 * EngramError: every failure of engram (bad shapes, dtypes, devices, disposed
 * tensors, out of memory, corrupt files, ...) is thrown or rejected as an
 * EngramError with a stable `code`. The native addon constructs this class
 * (lib/binding.ts hands it over at load).
 */
export type ErrorCode =
  | 'E_SHAPE'
  | 'E_DTYPE'
  | 'E_DEVICE'
  | 'E_OOM'
  | 'E_DISPOSED'
  | 'E_ARG'
  | 'E_OVERFLOW'
  | 'E_NAN'
  | 'E_CUDA'
  | 'E_IO'
  | 'E_FORMAT'
  | 'E_STATE'
  | 'E_UNSUPPORTED'
  | 'E_INTERNAL';

export class EngramError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'E_INTERNAL') {
    super(message);
    this.name = 'EngramError';
    this.code = code;
  }
}

/** Throws EngramError(code, message) unless `cond` holds. */
export function check(cond: unknown, code: ErrorCode, message: string | (() => string)): asserts cond {
  if (!cond) throw new EngramError(typeof message === 'function' ? message() : message, code);
}

/** Runs `fn` and, for async callers, turns a synchronous throw into a rejection. */
export async function asyncCall<T>(fn: () => Promise<T>): Promise<T> {
  return fn();
}
