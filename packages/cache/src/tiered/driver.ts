import { channels } from '../channels.ts'
import {
  storeCapabilities,
  type CacheDriver,
  type CacheDriverCapabilities,
  type DriverEntry,
  type DriverRow,
  type DriverStats,
  type EntriesQuery,
  type EntryOptions,
  type EntryRead,
  type MaybePromise,
  type StoredValue,
} from '../driver.ts'
import { coarseNow } from '../drivers/memory.ts'
import { Coherence } from './coherence.ts'
import type { TieredDriverOptions, TieredRead } from './options.ts'
import { encodeEnvelope, preciseNow, type Envelope } from './envelope.ts'
import { HotEnvelope, refOf } from './hot.ts'
import { metricsOf, type TieredMetrics } from './metrics.ts'
import { Placement } from './placement.ts'
import { sketchHash } from './sketch.ts'
import { BasicStrategy, type TierStrategy } from './strategy.ts'
import { internalNamespace, TagTimes } from './tags.ts'
import { countOf, decodeRaw, isPromise, makeTier, physicalTtl, type Tier } from './tier.ts'

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * A cache driver over any number of built tiers (memory over Redis over a database over
 * S3...): reads fall through and back-fill upper tiers, writes go to every tier (or per
 * policy), a {@link TierStrategy} decides admission, promotion and demotion of bounded tiers,
 * entries carry grace and tags, counters live in the bottom tier, a lease in the shared tier
 * gives cross-process single flight, and an {@link InvalidationBus} keeps other processes'
 * local tiers coherent. Chosen with `BEAVER_CACHE_DRIVER=tiered`; every method of the cache
 * works over it.
 */
export class TieredDriver implements CacheDriver {
  readonly name = 'tiered'
  readonly capabilities: CacheDriverCapabilities
  readonly strategy: TierStrategy
  readonly graceMs: number
  /** Hits of the hot top tier share the value the facade decoded (see {@link TieredDriverOptions.sharesDecoded}). */
  readonly sharesDecoded: boolean
  readonly #tiers: Tier[]
  readonly #writes: 'all' | 'top'
  readonly #tags: TagTimes
  readonly #coherence: Coherence
  /** The lowest tier shared between processes (leases and tag times live there), if any. */
  readonly #shared: Tier | undefined
  /** The bottom tier: counters live there, and entries() reads it. */
  readonly #bottom: Tier
  /** The top tier answers synchronously and by reference: it holds {@link HotEnvelope}s. */
  readonly #hotTop: boolean
  readonly #placement: Placement
  #closed = false

  constructor(options: TieredDriverOptions) {
    if (options.tiers.length === 0) throw new TypeError('A tiered cache needs at least one tier')
    this.strategy = options.strategy ?? new BasicStrategy()
    this.graceMs = options.graceMs ?? 0
    this.#writes = options.writes ?? 'all'
    this.#tiers = options.tiers.map(makeTier)
    this.#shared = [...this.#tiers].reverse().find((t) => !t.local)
    this.#bottom = this.#tiers[this.#tiers.length - 1] as Tier
    this.#tags = new TagTimes(this.#shared, options.tagsCacheMs ?? (options.bus ? 60_000 : 1_000))
    const top = this.#tiers[0] as Tier
    this.#hotTop = top.driver.capabilities.sync && top.byReference
    this.sharesDecoded = this.#hotTop && options.sharesDecoded === true
    this.#placement = new Placement(this.#tiers, this.strategy, this.#writes, this.#hotTop)
    const bottom = this.#bottom.driver
    const shared = this.#shared?.driver
    this.capabilities = storeCapabilities({
      grace: true,
      tags: true,
      leases: shared?.increment !== undefined && shared.capabilities.atomicIncrement,
      atomicIncrement: bottom.increment !== undefined && bottom.capabilities.atomicIncrement,
      query: bottom.entries !== undefined && bottom.capabilities.query,
    })
    this.#coherence = new Coherence(options.bus, options.ownsBus ?? false, this.#tiers, this.#tags, (tier, ns) =>
      this.#clearTier(tier, ns),
    )
  }

  /** Tier names, top first. */
  get tierNames(): string[] {
    return this.#tiers.map((t) => t.name)
  }

  /** Called by a tier's driver (through its context) when it evicts an entry for room. */
  onTierEvict(index: number, ns: string, key: string): void {
    const tier = this.#tiers[index]
    if (!tier) return
    tier.residency?.remove(refOf(ns, key))
    countOf(tier, ns).evictions++
  }

  // ---- reading -------------------------------------------------------------------------

  #state(e: Envelope, ns: string): 'fresh' | 'stale' | 'dead' | Promise<'fresh' | 'stale' | 'dead'> {
    return e.tags.length === 0
      ? (this.#tags.state(e, ns, Date.now()) as 'fresh' | 'stale' | 'dead')
      : this.#tags.stateAsync(e, ns)
  }

  /**
   * Reads through the tiers: the first fresh entry wins (and is promoted per the strategy);
   * when none is fresh, the first stale one within grace is returned with `state: 'stale'`.
   * Dead entries (past grace, hard-invalidated) are removed on the way.
   */
  async read(ns: string, key: string, options?: { promote?: boolean }): Promise<TieredRead | undefined> {
    const ref = refOf(ns, key)
    this.strategy.recordAccess(ref)
    let stale: TieredRead | undefined
    for (let i = 0; i < this.#tiers.length; i++) {
      const tier = this.#tiers[i] as Tier
      const started = channels.tier.hasSubscribers ? performance.now() : 0
      const raw = tier.driver.get(ns, key)
      const e = decodeRaw(tier, isPromise(raw) ? await raw : raw)
      const c = countOf(tier, ns)
      if (channels.tier.hasSubscribers) {
        const ms = performance.now() - started
        c.readMs += ms
        channels.tier.publish({ op: 'get', tier: tier.name, namespace: ns, hit: e !== undefined, durationMs: ms })
      }
      if (e === undefined) {
        c.misses++
        continue
      }
      const s = this.#state(e, ns)
      const state = typeof s === 'string' ? s : await s
      if (state === 'dead') {
        c.misses++
        await tier.driver.delete(ns, key)
        tier.residency?.remove(ref)
        continue
      }
      if (state === 'stale') {
        c.staleHits++
        stale ??= { envelope: e, state, tier: i }
        continue
      }
      c.hits++
      tier.residency?.touch(ref)
      if (i > 0 && options?.promote !== false && e.counter !== true) {
        const done = this.#promote(ref, ns, key, e, i)
        if (done !== undefined) await done
      }
      return { envelope: e, state, tier: i }
    }
    return stale
  }

  /** Copies an entry up; synchronous (undefined) when every upper tier answers synchronously. */
  #promote(ref: string, ns: string, key: string, e: Envelope, found: number): Promise<void> | undefined {
    for (let u = found - 1; u >= 0; u--) {
      const tier = this.#tiers[u] as Tier
      if (!this.strategy.shouldPromote(ref, u, found)) continue
      const placed = this.#placement.placeSync(u, ref, ns, key, e)
      if (placed === undefined) return this.#promoteAsync(ref, ns, key, e, found, u)
      if (placed) countOf(tier, ns).promotions++
    }
    return undefined
  }

  async #promoteAsync(ref: string, ns: string, key: string, e: Envelope, found: number, from: number): Promise<void> {
    for (let u = from; u >= 0; u--) {
      const tier = this.#tiers[u] as Tier
      if (!this.strategy.shouldPromote(ref, u, found)) continue
      if (await this.#placement.place(u, ref, ns, key, e)) countOf(tier, ns).promotions++
    }
  }

  /**
   * A fresh entry of a synchronous by-reference top tier, without a promise: the L1 hit fast
   * path. Counts the hit and records the access like `read` does. Undefined means "ask
   * `get`" (missing, stale, tags not known yet, or tier events observed), not "missing".
   */
  peek(ns: string, key: string): HotEnvelope | undefined {
    if (!this.#hotTop || channels.tier.hasSubscribers) return undefined
    const top = this.#tiers[0] as Tier
    const e = top.driver.get(ns, key)
    if (!(e instanceof HotEnvelope)) return undefined
    const now = coarseNow()
    if (now >= e.freshUntil || (e.tags.length !== 0 && this.#tags.state(e, ns, now) !== 'fresh')) return undefined
    this.strategy.recordAccess(e.ref, e.hash ?? (e.hash = sketchHash(e.ref)))
    const res = top.residency
    if (res !== undefined) {
      const mark = e.mark
      if (mark !== undefined && mark.resident) mark.used = true
      else e.mark = res.touchMark(e.ref)
    }
    countOf(top, ns).hits++
    return e
  }

  get(ns: string, key: string): MaybePromise<StoredValue | undefined> {
    return this.read(ns, key).then((r) => (r?.state === 'fresh' ? r.envelope.payload : undefined))
  }

  async getEntry(ns: string, key: string): Promise<EntryRead | undefined> {
    const r = await this.read(ns, key)
    if (r === undefined) return undefined
    return { value: r.envelope.payload, stale: r.state === 'stale', createdAt: r.envelope.createdAt }
  }

  async has(ns: string, key: string): Promise<boolean> {
    const r = await this.read(ns, key, { promote: false })
    return r?.state === 'fresh' && r.envelope.payload.byteLength > 0
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    const out: Array<StoredValue | undefined> = Array.from({ length: keys.length })
    let pending = keys.map((_, i) => i)
    const found: Array<{ index: number; tier: number; e: Envelope }> = []
    for (let t = 0; t < this.#tiers.length && pending.length > 0; t++) {
      const tier = this.#tiers[t] as Tier
      const ks = pending.map((i) => keys[i] as string)
      const raws = tier.driver.getMany
        ? await tier.driver.getMany(ns, ks)
        : await Promise.all(ks.map((k) => tier.driver.get(ns, k)))
      const next: number[] = []
      const c = countOf(tier, ns)
      for (let j = 0; j < pending.length; j++) {
        const index = pending[j] as number
        const e = decodeRaw(tier, raws[j])
        if (e === undefined || (await this.#state(e, ns)) !== 'fresh') {
          c.misses++
          next.push(index)
          continue
        }
        c.hits++
        out[index] = e.payload
        if (t > 0 && e.counter !== true) found.push({ index, tier: t, e })
      }
      pending = next
    }
    for (const { index, tier, e } of found) {
      const key = keys[index] as string
      const ref = refOf(ns, key)
      this.strategy.recordAccess(ref)
      await this.#promote(ref, ns, key, e, tier)
    }
    return out
  }

  /** Copies `keys` from lower tiers into the upper ones (through the strategy); resolves how many were found. */
  async preload(ns: string, keys: readonly string[]): Promise<number> {
    return (await this.getMany(ns, keys)).filter((v) => v !== undefined).length
  }

  /** Remaining fresh time in ms, Infinity when it never expires, undefined when missing or stale. */
  async ttl(ns: string, key: string): Promise<number | undefined> {
    const r = await this.read(ns, key, { promote: false })
    if (r?.state !== 'fresh') return undefined
    if (r.envelope.counter === true) return this.#tiers[r.tier]?.driver.ttl?.(ns, key)
    return r.envelope.freshUntil === Infinity ? Infinity : Math.max(1, r.envelope.freshUntil - Date.now())
  }

  // ---- writing -------------------------------------------------------------------------

  /** Builds the envelope of a write. */
  envelope(
    payload: Uint8Array,
    ttlMs: number | undefined,
    options: { graceMs?: number | undefined; tags?: readonly string[] | undefined; createdAt?: number } = {},
  ): Envelope {
    const grace = options.graceMs ?? this.graceMs
    const freshUntil = ttlMs === undefined ? Infinity : Date.now() + ttlMs
    return {
      payload,
      freshUntil,
      staleUntil: freshUntil === Infinity ? Infinity : freshUntil + grace,
      createdAt: options.createdAt ?? preciseNow(),
      tags: options.tags && options.tags.length > 0 ? [...new Set(options.tags)] : NO_TAGS,
    }
  }

  /** Writes an envelope to the tiers (bottom first, so a shared tier has it before any local one) and tells other processes. */
  async writeEnvelope(ns: string, key: string, e: Envelope): Promise<void> {
    this.#coherence.written(ns)
    const ref = refOf(ns, key)
    const bytes = this.#tiers.some((t) => !t.byReference) ? encodeEnvelope(e) : undefined
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      if (this.#writes === 'top' && i > 0) continue
      const tier = this.#tiers[i] as Tier
      // A synchronous tier is written without a promise (one await less per tier and write).
      const placed = this.#placement.placeSync(i, ref, ns, key, e) ?? this.#placement.place(i, ref, ns, key, e, bytes)
      if (!(isPromise(placed) ? await placed : placed) && tier.residency?.has(ref) === false) {
        // Left out of a bounded tier: make sure no older copy stays there.
        const r = tier.driver.delete(ns, key)
        if (isPromise(r)) await r
      }
    }
    if (this.#coherence.publishes) await this.#coherence.publish({ kind: 'delete', namespace: ns, keys: [key] })
  }

  set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    return this.writeEnvelope(ns, key, this.envelope(value as Uint8Array, ttlMs))
  }

  setEntry(ns: string, key: string, value: Uint8Array, options: EntryOptions): Promise<void> {
    const graceMs = options.graceMs === Infinity ? Number.MAX_SAFE_INTEGER : options.graceMs
    return this.writeEnvelope(ns, key, this.envelope(value, options.ttlMs, { graceMs, tags: options.tags }))
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    this.#coherence.written(ns)
    const envs = entries.map((x) => ({ key: x.key, e: this.envelope(x.value as Uint8Array, x.ttlMs) }))
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      if (this.#writes === 'top' && i > 0) continue
      const tier = this.#tiers[i] as Tier
      if (tier.residency === undefined && tier.driver.setMany) {
        const list: DriverEntry[] = []
        for (const { key, e } of envs) {
          const ttl = physicalTtl(e)
          if (ttl === 0) continue
          list.push({ key, value: this.#placement.storedForm(i, ns, key, e), ttlMs: ttl })
        }
        const r = tier.driver.setMany(ns, list)
        if (isPromise(r)) await r
        countOf(tier, ns).writes += list.length
      } else {
        for (const { key, e } of envs) {
          const ref = refOf(ns, key)
          if (!(await this.#placement.place(i, ref, ns, key, e)) && tier.residency?.has(ref) === false)
            await tier.driver.delete(ns, key)
        }
      }
    }
    await this.#coherence.publish({ kind: 'delete', namespace: ns, keys: entries.map((x) => x.key) })
  }

  async delete(ns: string, key: string): Promise<boolean> {
    let existed = false
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      const tier = this.#tiers[i] as Tier
      if (await tier.driver.delete(ns, key)) existed = true
      tier.residency?.remove(refOf(ns, key))
    }
    await this.#coherence.publish({ kind: 'delete', namespace: ns, keys: [key] })
    return existed
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    let most = 0
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      const tier = this.#tiers[i] as Tier
      const n = tier.driver.deleteMany
        ? await tier.driver.deleteMany(ns, keys)
        : (await Promise.all(keys.map((k) => Promise.resolve(tier.driver.delete(ns, k))))).filter(Boolean).length
      if (n > most) most = n
      for (const k of keys) tier.residency?.remove(refOf(ns, k))
    }
    await this.#coherence.publish({ kind: 'delete', namespace: ns, keys })
    return most
  }

  /**
   * Adds to a counter in the bottom tier (atomically there), after removing every upper copy
   * of the key so reads fall through to it; other processes drop theirs over the bus.
   */
  async increment(ns: string, key: string, by: number, ttlMs: number | undefined): Promise<number> {
    for (let i = 0; i < this.#tiers.length - 1; i++) {
      const tier = this.#tiers[i] as Tier
      await tier.driver.delete(ns, key)
      tier.residency?.remove(refOf(ns, key))
    }
    const n = await (this.#bottom.driver.increment as NonNullable<CacheDriver['increment']>)(ns, key, by, ttlMs)
    await this.#coherence.publish({ kind: 'delete', namespace: ns, keys: [key] })
    return n
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    const r = await this.read(ns, key, { promote: false })
    if (r?.state !== 'fresh') return false
    if (r.envelope.counter === true) return (await this.#bottom.driver.touch?.(ns, key, ttlMs)) ?? false
    await this.writeEnvelope(
      ns,
      key,
      this.envelope(r.envelope.payload, ttlMs, { tags: r.envelope.tags, createdAt: r.envelope.createdAt }),
    )
    return true
  }

  async pull(ns: string, key: string): Promise<StoredValue | undefined> {
    const r = await this.read(ns, key, { promote: false })
    if (r === undefined) return undefined
    await this.delete(ns, key)
    return r.state === 'fresh' ? r.envelope.payload : undefined
  }

  async clear(ns: string): Promise<void> {
    for (let i = this.#tiers.length - 1; i >= 0; i--) await this.#clearTier(this.#tiers[i] as Tier, ns)
    await this.#coherence.publish({ kind: 'clear', namespace: ns })
  }

  async #clearTier(tier: Tier, ns: string): Promise<void> {
    const r = tier.driver.clear(ns)
    if (isPromise(r)) await r
    tier.residency?.removePrefix(`${ns}\u0000`)
    tier.residency?.removePrefix(`${ns}:`)
    this.#tags.forget(ns)
  }

  /** Fresh entries of the bottom tier, for audit-style queries (capability `query` of that tier). */
  async entries(ns: string, query: EntriesQuery): Promise<DriverRow[]> {
    const bottom = this.#bottom
    const rows = await (bottom.driver.entries as NonNullable<CacheDriver['entries']>)(ns, query)
    const out: DriverRow[] = []
    const now = Date.now()
    for (const row of rows) {
      const e = decodeRaw(bottom, row.value)
      if (e === undefined || (e.counter !== true && now >= e.freshUntil)) continue
      out.push({
        ...row,
        value: e.payload,
        expiresAt: e.counter === true || e.freshUntil === Infinity ? row.expiresAt : e.freshUntil,
      })
    }
    return out
  }

  // ---- tags and leases -----------------------------------------------------------------

  /**
   * Invalidates every entry of `ns` carrying one of `tags`, in every tier and (through the
   * shared tier and the bus) every process: `hard` makes them misses, `soft` makes them stale
   * so grace may still serve them while a refresh runs.
   */
  async invalidateTags(ns: string, tags: readonly string[], mode: 'soft' | 'hard'): Promise<void> {
    if (tags.length === 0) return
    const at = await this.#tags.invalidate(ns, tags, mode)
    await this.#coherence.publish({ kind: 'tags', namespace: ns, tags, at, mode })
  }

  /** Takes the cluster-wide lease to load `key` (an atomic increment in the shared tier); true when this process got it. */
  async acquireLease(ns: string, key: string, leaseMs: number): Promise<boolean> {
    const shared = this.#shared?.driver
    if (shared?.increment === undefined || !this.capabilities.leases) return true
    return (await shared.increment(internalNamespace(ns, 'lease'), key, 1, leaseMs)) === 1
  }

  /** Gives the lease back so waiting processes stop waiting. */
  async releaseLease(ns: string, key: string): Promise<void> {
    const shared = this.#shared?.driver
    if (shared === undefined || !this.capabilities.leases) return
    await shared.delete(internalNamespace(ns, 'lease'), key)
  }

  // ---- lifecycle and metrics -----------------------------------------------------------

  /** Per-tier counters (hits, misses, promotions, demotions, rejections...), totals and per namespace. */
  metrics(): TieredMetrics {
    return metricsOf(this.strategy.name, this.#tiers, this.#coherence.counters())
  }

  stats(): DriverStats {
    return { tiers: this.metrics() }
  }

  /** Every tier that keeps expired entries purges them; resolves the total removed. */
  async purgeExpired(): Promise<number> {
    let removed = 0
    for (const t of this.#tiers) if (t.driver.purgeExpired) removed += await t.driver.purgeExpired()
    return removed
  }

  async ping(): Promise<void> {
    for (const t of this.#tiers) await t.driver.ping?.()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#coherence.stopListening()
    const errors: unknown[] = []
    for (const t of this.#tiers) {
      try {
        await t.driver.close()
      } catch (err) {
        errors.push(err)
      }
    }
    await this.#coherence.close()
    if (errors.length > 0) throw errors[0]
  }
}
