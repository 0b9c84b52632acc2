import { toMs, type Duration } from '@beaver-kit/config'
import { CacheError } from './errors.ts'

/**
 * A TTL in ms for a driver: `undefined` when the caller gave none (the fallback then), `Infinity`,
 * `'forever'` or `'infinity'` for "never expires" (undefined); otherwise a positive duration
 * through config's `toMs()`, anything else a `CACHE_TTL_INVALID` naming `what`.
 */
export function ttlMs(
  ttl: Duration | undefined | null,
  fallback: number | undefined,
  what = 'ttl',
): number | undefined {
  if (ttl === undefined || ttl === null) return fallback
  if (ttl === Infinity) return undefined
  if (typeof ttl === 'string' && /^\s*(forever|infinity)\s*$/i.test(ttl)) return undefined
  let ms = Number.NaN
  if (typeof ttl === 'number' || typeof ttl === 'string') {
    try {
      ms = toMs(ttl, what)
    } catch {
      // reported below, as a cache error naming what was given
    }
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new CacheError(
      'CACHE_TTL_INVALID',
      `${what} must be a positive duration (a number of ms, text such as '10s' or '1h', or Infinity for no expiry), got ${JSON.stringify(ttl) ?? String(ttl)}.`,
      { details: { [what]: String(ttl) } },
    )
  }
  return Math.ceil(ms)
}

/** A duration option where 0 means "off": ms, 0 for off, the fallback when not given. */
export function optionalMs(value: Duration | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback
  if (value === 0 || value === '0') return 0
  return ttlMs(value, undefined, what) ?? 0
}
