/** Brand shared by every copy of the kit, so guards work across duplicated installs. */
export const BEAVER_ERROR = Symbol.for('beaver-kit.error')

export interface BeaverErrorOptions {
  cause?: unknown
  details?: Record<string, unknown>
}

/**
 * Base class of every error the kit throws: a stable UPPER_SNAKE `code` prefixed by the
 * package, structured `details`, and the original error as `cause`.
 * @example throw new BeaverError('CORE_PEER_MISSING', 'Install ioredis: npm install ioredis')
 */
export class BeaverError<Code extends string = string> extends Error {
  readonly code: Code
  readonly details: Readonly<Record<string, unknown>>
  declare readonly [BEAVER_ERROR]: true

  constructor(code: Code, message: string, options: BeaverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
    this.details = Object.freeze({ ...options.details })
    Object.defineProperty(this, BEAVER_ERROR, { value: true })
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true })
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message, details: this.details }
  }
}

/** True for any kit error (by brand, not `instanceof`), optionally with one of the given codes. */
export function isBeaverError(err: unknown, ...codes: string[]): err is BeaverError {
  if (typeof err !== 'object' || err === null) return false
  if ((err as Record<symbol, unknown>)[BEAVER_ERROR] !== true) return false
  return codes.length === 0 || codes.includes((err as BeaverError).code)
}

/**
 * Builds a package's guard (`isCacheError(err, 'CACHE_TIMEOUT')`) that checks the brand and
 * the package's code prefix, so it still works when two copies of the package are installed.
 */
export function errorGuard<Code extends string, E extends BeaverError<Code> = BeaverError<Code>>(
  prefix: string,
): (err: unknown, ...codes: Code[]) => err is E {
  return function isPackageError(err: unknown, ...codes: Code[]): err is E {
    return isBeaverError(err, ...codes) && (err as BeaverError).code.startsWith(prefix)
  }
}

/** Error codes of `@beaver-kit/core` itself. */
export type CoreErrorCode =
  | 'CORE_ALREADY_INITIALIZED'
  | 'CORE_PEER_MISSING'
  | 'CORE_SHUTDOWN_FAILED'
  | 'CORE_SHUTDOWN_TIMEOUT'
  | 'CORE_ABORTED'
  | 'CORE_TIMEOUT'
  | 'CORE_DRIVER_UNKNOWN'
  | 'CORE_DRIVER_NAME_INVALID'

export class CoreError extends BeaverError<CoreErrorCode> {}
export const isCoreError = errorGuard<CoreErrorCode, CoreError>('CORE_')
