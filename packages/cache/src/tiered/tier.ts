import type { CacheDriver, MaybePromise, StoredValue } from '../driver.ts'
import { utf8 } from '../serializers.ts'
import type { TierDefinition } from '../types.ts'
import { decodeEnvelope, type Envelope } from './envelope.ts'
import { isEnvelope } from './hot.ts'
import { newCounters, type TierCounters } from './metrics.ts'
import { Residency } from './residency.ts'

/** One tier of the tiered driver: its built driver, how it stores, its residency and counters. */
export interface Tier {
  readonly driver: CacheDriver
  readonly name: string
  readonly byReference: boolean
  readonly local: boolean
  readonly residency: Residency | undefined
  readonly counters: Map<string, TierCounters>
  /** The counters of the namespace used last (most calls repeat it). */
  lastNs: string | undefined
  lastCounters: TierCounters | undefined
}

const NO_TAGS: readonly string[] = Object.freeze([])
const COUNTER = /^-?\d{1,16}$/

export function makeTier(t: TierDefinition): Tier {
  return {
    driver: t.driver,
    name: t.name ?? t.driver.name,
    byReference: t.driver.capabilities.values === 'any',
    local: t.local ?? t.driver.name === 'memory',
    residency: t.capacity === undefined ? undefined : new Residency(t.capacity),
    counters: new Map(),
    lastNs: undefined,
    lastCounters: undefined,
  }
}

/** The counters of a namespace in a tier. */
export function countOf(tier: Tier, ns: string): TierCounters {
  if (ns === tier.lastNs) return tier.lastCounters as TierCounters
  let c = tier.counters.get(ns)
  if (c === undefined) {
    c = newCounters()
    tier.counters.set(ns, c)
  }
  tier.lastNs = ns
  tier.lastCounters = c
  return c
}

export function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function'
}

/** The envelope of a counter the bottom tier holds as a plain decimal (written by increment()). */
function counter(payload: Uint8Array): Envelope {
  return { payload, freshUntil: Infinity, staleUntil: Infinity, createdAt: 0, tags: NO_TAGS, counter: true }
}

/** What a tier's raw value is: an envelope, a counter, or nothing (a foreign value is CACHE_DESERIALIZE). */
export function decodeRaw(tier: Tier, raw: StoredValue | undefined): Envelope | undefined {
  if (raw === undefined) return undefined
  if (tier.byReference) {
    if (isEnvelope(raw)) return raw
    return typeof raw === 'number' ? counter(Buffer.from(String(raw))) : undefined
  }
  const bytes = raw as Uint8Array
  if (bytes.byteLength > 0 && bytes.byteLength <= 17 && bytes[0] !== 0xb7 && COUNTER.test(utf8(bytes)))
    return counter(bytes)
  return decodeEnvelope(bytes)
}

/** The TTL a tier keeps an envelope for (to the end of its grace); undefined = none, 0 = already past it. */
export function physicalTtl(e: Envelope): number | undefined {
  if (e.staleUntil === Infinity) return undefined
  const ttl = Math.ceil(e.staleUntil - Date.now())
  return ttl <= 0 ? 0 : ttl
}
