import type { Tier } from './tier.ts'

/** Per-tier counters (totals and per namespace in {@link TieredMetrics}). */
export interface TierCounters {
  hits: number
  misses: number
  /** Entries served stale (grace). */
  staleHits: number
  writes: number
  promotions: number
  demotions: number
  /** Candidates the strategy kept out of a full bounded tier. */
  rejections: number
  evictions: number
  /** Total read time in ms while `beaver:cache:tier` had subscribers (divide by hits + misses for the mean). */
  readMs: number
}

/** The tiered driver's counters, in the cache's `stats().tiers`: one row per tier, with per-namespace rows. */
export interface TieredMetrics {
  strategy: string
  tiers: Array<{
    name: string
    local: boolean
    capacity: number | undefined
    resident: number | undefined
    totals: TierCounters
    namespaces: Record<string, TierCounters>
  }>
  /** Invalidation messages sent and received on the bus, and those dropped (malformed, unsigned, forged). */
  bus: { sent: number; received: number; reconnects: number; rejected: number }
}

export function newCounters(): TierCounters {
  return {
    hits: 0,
    misses: 0,
    staleHits: 0,
    writes: 0,
    promotions: 0,
    demotions: 0,
    rejections: 0,
    evictions: 0,
    readMs: 0,
  }
}

/** The metrics of a tiered driver's tiers: totals and per-namespace rows of each. */
export function metricsOf(strategy: string, tiers: readonly Tier[], bus: TieredMetrics['bus']): TieredMetrics {
  return {
    strategy,
    tiers: tiers.map((t) => {
      const totals = newCounters()
      const namespaces: Record<string, TierCounters> = {}
      for (const [ns, c] of t.counters) {
        namespaces[ns] = { ...c }
        for (const k of Object.keys(totals) as Array<keyof TierCounters>) totals[k] += c[k]
      }
      return {
        name: t.name,
        local: t.local,
        capacity: t.residency?.capacity,
        resident: t.residency?.size,
        totals,
        namespaces,
      }
    }),
    bus,
  }
}
