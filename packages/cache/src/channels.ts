import { defineChannels, event, tracing } from '@beaver-kit/core'

/**
 * What every `beaver:cache:<operation>` tracing channel publishes: where it ran and its
 * outcome. Never a value and never a key (keys may hold tokens or e-mail addresses).
 */
export interface CacheTrace {
  op: string
  namespace: string
  driver: string
  /** Number of keys of a batch operation. */
  count?: number
  /** Set before the end event of single reads: whether the entry was found. */
  hit?: boolean
  /** Set for batch reads: how many keys were found. */
  hits?: number
  /** Set for getOrSet: whether the loader ran in this call. */
  loaded?: boolean
}

const op = (doc: string): ReturnType<typeof tracing<CacheTrace>> =>
  tracing<CacheTrace>(doc, 'op, namespace, driver, count?, hit?, hits?, loaded?')

/**
 * Every diagnostics channel of `@beaver-kit/cache`, declared once; the README's Diagnostics
 * table is generated from it. Publishing costs one property read when nobody listens.
 */
export const channels = defineChannels('cache', {
  get: op('One read (get, getSync)'),
  set: op('One write (set, setSync)'),
  has: op('A presence check'),
  delete: op('One removal'),
  clear: op('A namespace cleared (and the namespaces nested in it)'),
  getMany: op('A batch read'),
  setMany: op('A batch write'),
  deleteMany: op('A batch removal'),
  getOrSet: op('A read that loads on a miss; loaded says whether the loader ran in this call'),
  getOrSetMany: op('A batch read that loads every miss with one loader call'),
  increment: op('An atomic increment (or decrement)'),
  ttl: op('A remaining-TTL read'),
  touch: op('A new TTL for an existing entry'),
  pull: op('A read-and-remove'),
  entries: op('An audit-style query of stored entries'),
  invalidateTags: op('Entries carrying tags invalidated (tiered driver)'),
  preload: op('Keys copied from lower tiers into the upper ones (tiered driver)'),
  ready: op('ready(): the driver loaded and one round trip to its store'),
  purgeExpired: op('purgeExpired(): every expired entry the store still held removed'),
  evict: event<{ namespace: string; driver: string }>(
    'An entry evicted for room (not for expiry)',
    'namespace, driver',
  ),
  error: event<{ op: string; namespace: string; driver: string; error: unknown }>(
    'A store failure the cache counted, including one it degraded around (a loaded value that could not be written, a lost Redis connection)',
    'op, namespace, driver, error',
  ),
  grace: event<{ namespace: string; reason: string; error?: unknown }>(
    'A stale value served: stale-while-revalidate, soft timeout, loader failure or loader timeout (reason)',
    'namespace, reason, error?',
  ),
  warm: event<{ namespace: string; loaded: number; skipped: number; failed: number; requested?: number }>(
    'Progress of warm() and preload(): counts so far',
    'namespace, loaded, skipped, failed, requested?',
  ),
  tier: event<{ op: string; tier: string; namespace: string; hit: boolean; durationMs: number }>(
    'One tier of the tiered driver read (published only while someone listens)',
    'op, tier, namespace, hit, durationMs',
  ),
  hybrid: event<{
    event: 'degraded' | 'recovered' | 'flushFailed' | 'lost'
    op?: string
    count?: number
    error?: unknown
  }>(
    'The hybrid driver lost or got back its store, a flush failed, or close() left writes unflushed',
    'event, op?, count?, error?',
  ),
  bus: event<{ event: 'received' | 'malformed' | 'rejected'; kind?: string; namespace?: string }>(
    'An invalidation bus message received, or dropped as malformed or unsigned/forged (rejected)',
    'event, kind?, namespace?',
  ),
})
