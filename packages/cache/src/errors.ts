import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a {@link CacheError} can carry. */
export type CacheErrorCode =
  /** The driver name is not built in and was never registered. */
  | 'CACHE_DRIVER_UNKNOWN'
  /** registerCacheDriver() got a name that is not lowercase letters, digits and dashes. */
  | 'CACHE_DRIVER_NAME_INVALID'
  /** A value could not be serialized (undefined, a function, a cycle, the wrong type for the raw serializer). */
  | 'CACHE_SERIALIZE'
  /** Stored bytes could not be read back with the configured serializer. */
  | 'CACHE_DESERIALIZE'
  /** A key is not a non-empty string within the length limit. */
  | 'CACHE_KEY_INVALID'
  /** A TTL is not a positive duration. */
  | 'CACHE_TTL_INVALID'
  /** A value is larger than `maxEntrySize` (or than the memory bound itself). */
  | 'CACHE_VALUE_TOO_LARGE'
  /** The stored value is not an integer, so it cannot be incremented. */
  | 'CACHE_NOT_A_NUMBER'
  /** The store could not be reached, or the connection broke during the operation. */
  | 'CACHE_CONNECTION'
  /** The store answered with an error. */
  | 'CACHE_DRIVER'
  /** The operation or option is not supported by this driver (never emulated non-atomically). */
  | 'CACHE_UNSUPPORTED'
  /** The caller's signal aborted while it waited; the reason is the cause. */
  | 'CACHE_ABORTED'
  /** `clear()` would touch keys outside any namespace. */
  | 'CACHE_CLEAR_UNSCOPED'
  /** Options given to createCache are invalid. */
  | 'CACHE_OPTIONS_INVALID'
  /** The cache (or the namespace view) was closed. */
  | 'CACHE_CLOSED'
  /** A getOrSet loader ran past loaderTimeout (and no stale value could be served). */
  | 'CACHE_LOADER_TIMEOUT'
  /** An encrypted entry failed authentication: it was altered, or moved to another key. */
  | 'CACHE_TAMPERED'
  /** The write-behind queue is full and the write was refused rather than dropped. */
  | 'CACHE_BACKPRESSURE'
  /** close() could not flush every write-behind entry to the store; details list how many. */
  | 'CACHE_WRITE_BEHIND_PENDING'

/**
 * The one error class of `@beaver-kit/cache`. The message says what happened, with which
 * input, and what to do; `details` carries the same as fields.
 * @example
 * try { await cache().get('') } catch (err) { if (isCacheError(err, 'CACHE_KEY_INVALID')) ... }
 */
export class CacheError extends BeaverError<CacheErrorCode> {}

/** True for a cache error (by brand, so it works across duplicated installs), optionally of the given codes. */
export const isCacheError = errorGuard<CacheErrorCode, CacheError>('CACHE_')
