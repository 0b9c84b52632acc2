// What the tiered driver is built from, and what a read through its tiers gives.
import type { InvalidationBus } from '../bus/bus.ts'
import type { TierDefinition } from '../types.ts'
import type { Envelope } from './envelope.ts'
import type { TierStrategy } from './strategy.ts'

/** Options of the tiered driver (`TieredDriver`). */
export interface TieredDriverOptions {
  /** Built drivers, top (fastest) first; the tiered driver closes them on close. */
  tiers: readonly TierDefinition[]
  /** How entries move between tiers; default the basic strategy. */
  strategy?: TierStrategy | undefined
  /** `all` (default): writes go to every tier (bounded ones through admission); `top`: only to the top tier, lower tiers get entries by demotion. */
  writes?: 'all' | 'top' | undefined
  /** How long an expired entry is kept to be served stale (grace), in ms; default 0. */
  graceMs?: number | undefined
  /** Carries invalidations to other processes; closed with the driver when `ownsBus`. */
  bus?: InvalidationBus | undefined
  ownsBus?: boolean | undefined
  /**
   * Hits of a synchronous by-reference top tier (memory) hand every caller the one value decoded
   * on the first hit, as the memory driver hands out what it keeps: no decoding per hit, but a
   * mutation of a value read is seen by later reads in this process. Default false (a copy per hit).
   */
  sharesDecoded?: boolean | undefined
  /** How long tag invalidation times read from the shared tier are trusted locally; default 60 s with a bus, 1 s without. */
  tagsCacheMs?: number | undefined
}

/** An entry read through the tiers, with what grace and tags make of it. */
export interface TieredRead {
  envelope: Envelope
  /** fresh: serve; stale: past its TTL (or soft-invalidated) but within grace. */
  state: 'fresh' | 'stale'
  tier: number
}
