import { eventChannel } from '@beaver-kit/core'
import {
  storeCapabilities,
  type CacheDriver,
  type DriverEntry,
  type MaybePromise,
  type StoredValue,
} from '../driver.ts'
import type { InvalidationBus, InvalidationMessage } from '../bus/bus.ts'
import { decodeEnvelope, encodeEnvelope, preciseNow, type Envelope } from './envelope.ts'
import { BasicStrategy, Residency, type ResidencyMark, type TierStrategy } from './strategy.ts'
import { sketchHash } from './sketch.ts'
import { coarseNow } from '../drivers/memory.ts'

/** One tier of a {@link TieredDriver}, top (fastest) first. */
export interface TierDefinition {
  /** The driver (already created); the tiered driver closes it on close. */
  driver: CacheDriver
  /** Name in metrics and events; default the driver's name. */
  name?: string | undefined
  /** Most entries this tier holds, managed by the strategy (admission, victims, demotion); unset = the driver's own limits. */
  capacity?: number | undefined
  /** Private to this process (memory): the bus evicts from it. Default: the driver is `memory`. */
  local?: boolean | undefined
}

/** Options of {@link TieredDriver}. */
export interface TieredDriverOptions {
  tiers: readonly TierDefinition[]
  /** How entries move between tiers; default {@link BasicStrategy}. */
  strategy?: TierStrategy | undefined
  /** `all` (default): writes go to every tier (bounded ones through admission); `top`: only to the top tier, lower tiers get entries by demotion. */
  writes?: 'all' | 'top' | undefined
  /** How long an expired entry is kept to be served stale (grace), in ms; default 0. */
  graceMs?: number | undefined
  /** Carries invalidations to other processes; closed with the driver when `ownsBus`. */
  bus?: InvalidationBus | undefined
  ownsBus?: boolean | undefined
  /** How long tag invalidation times read from the shared tier are trusted locally; default 60 s with a bus, 1 s without. */
  tagsCacheMs?: number | undefined
}

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
  /** Total read time in ms (divide by hits + misses for the mean). */
  readMs: number
}

/** `metrics()`: one row per tier, with per-namespace rows. */
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
  /** Invalidation messages sent and received on the bus. */
  bus: { sent: number; received: number; reconnects: number }
}

/** An entry read through the tiers, with what grace and tags make of it. */
export interface TieredRead {
  envelope: Envelope
  /** fresh: serve; stale: past its TTL (or soft-invalidated) but within grace. */
  state: 'fresh' | 'stale'
  tier: number
}

interface Tier {
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

interface TagTimes {
  soft: number
  hard: number
  fetchedAt: number
}

const tierChannel = eventChannel('cache', 'tier')
const NO_TAGS: readonly string[] = Object.freeze([])
const TAG_NS = ':__bk_tags'
const LEASE_NS = ':__bk_lease'

function newCounters(): TierCounters {
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

function refOf(ns: string, key: string): string {
  return `${ns}\u0000${key}`
}

function splitRef(ref: string): [string, string] {
  const i = ref.indexOf('\u0000')
  return [ref.slice(0, i), ref.slice(i + 1)]
}

function isEnvelope(v: unknown): v is Envelope {
  return (
    typeof v === 'object' &&
    v !== null &&
    (v as Envelope).payload instanceof Uint8Array &&
    typeof (v as Envelope).freshUntil === 'number'
  )
}

/**
 * What a synchronous by-reference top tier (memory) holds: the envelope plus what its hit path
 * needs, worked out once per write instead of on every hit, so an L1 hit builds no string and
 * hashes nothing.
 */
export class HotEnvelope implements Envelope {
  readonly payload: Uint8Array
  readonly freshUntil: number
  readonly staleUntil: number
  readonly createdAt: number
  readonly tags: readonly string[]
  /** `namespace + '\0' + key`, built once: lookups with it reuse the string's cached hash. */
  readonly ref: string
  /** `sketchHash(ref)`, for the strategy's frequency sketch; worked out by the first hit. */
  hash: number | undefined
  /** The payload as UTF-8 text, kept by the first reader that decodes text (the json serializer). */
  text: string | undefined
  /** The top tier's residency mark of this entry, kept by the first hit. */
  mark: ResidencyMark | undefined = undefined

  constructor(e: Envelope, ref: string) {
    this.payload = e.payload
    this.freshUntil = e.freshUntil
    this.staleUntil = e.staleUntil
    this.createdAt = e.createdAt
    this.tags = e.tags
    this.ref = ref
    this.hash = e instanceof HotEnvelope && e.ref === ref ? e.hash : undefined
    this.text = e instanceof HotEnvelope ? e.text : undefined
  }
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function'
}

/**
 * A cache driver over any number of tiers (memory over Redis over a database over S3...):
 * reads fall through and back-fill upper tiers, writes go to every tier (or per policy), a
 * {@link TierStrategy} decides admission, promotion and demotion of bounded tiers, entries
 * carry grace and tags, and an {@link InvalidationBus} keeps other processes' local tiers
 * coherent. Use it through `createTieredCache` (which adds grace-aware getOrSet and tags),
 * or as a plain driver under `createCache({ driver: tieredDriver(...) })`.
 */
export class TieredDriver implements CacheDriver {
  readonly name = 'tiered'
  readonly capabilities = storeCapabilities()
  readonly strategy: TierStrategy
  readonly graceMs: number
  readonly #tiers: Tier[]
  readonly #writes: 'all' | 'top'
  readonly #bus: InvalidationBus | undefined
  readonly #ownsBus: boolean
  readonly #tagsCacheMs: number
  readonly #tagTimes = new Map<string, TagTimes>()
  readonly #namespaces = new Set<string>()
  readonly #busCounters = { sent: 0, received: 0, reconnects: 0 }
  readonly #unsubscribe: Array<() => void> = []
  /** The lowest tier shared between processes (leases and tag times live there), if any. */
  readonly #shared: Tier | undefined
  /** The top tier answers synchronously and by reference: it holds {@link HotEnvelope}s. */
  readonly #hotTop: boolean
  #closed = false

  constructor(options: TieredDriverOptions) {
    if (options.tiers.length === 0) throw new TypeError('A tiered cache needs at least one tier')
    this.strategy = options.strategy ?? new BasicStrategy()
    this.graceMs = options.graceMs ?? 0
    this.#writes = options.writes ?? 'all'
    this.#bus = options.bus
    this.#ownsBus = options.ownsBus ?? false
    this.#tagsCacheMs = options.tagsCacheMs ?? (options.bus ? 60_000 : 1_000)
    this.#tiers = options.tiers.map((t) => ({
      driver: t.driver,
      name: t.name ?? t.driver.name,
      byReference: t.driver.capabilities.values === 'any',
      local: t.local ?? t.driver.name === 'memory',
      residency: t.capacity === undefined ? undefined : new Residency(t.capacity),
      counters: new Map(),
      lastNs: undefined,
      lastCounters: undefined,
    }))
    this.#shared = [...this.#tiers].reverse().find((t) => !t.local)
    const top = this.#tiers[0] as Tier
    this.#hotTop = top.driver.capabilities.sync && top.byReference
    if (this.#bus) {
      this.#unsubscribe.push(this.#bus.subscribe((m) => this.#onMessage(m)))
      this.#unsubscribe.push(
        this.#bus.onReconnect(() => {
          this.#busCounters.reconnects++
          void this.#dropLocal().catch(() => undefined)
        }),
      )
    }
  }

  /** Tier names, top first. */
  get tierNames(): string[] {
    return this.#tiers.map((t) => t.name)
  }

  /** True when a tier is shared between processes (leases and cross-process tags work). */
  get hasSharedTier(): boolean {
    return this.#shared !== undefined
  }

  /** Called by a tier's driver (through its context) when it evicts an entry for room. */
  onTierEvict(index: number, ns: string, key: string): void {
    const tier = this.#tiers[index]
    if (!tier) return
    tier.residency?.remove(refOf(ns, key))
    this.#count(tier, ns).evictions++
  }

  #count(tier: Tier, ns: string): TierCounters {
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

  // ---- reading -------------------------------------------------------------------------

  #decodeRaw(tier: Tier, raw: StoredValue | undefined): Envelope | undefined {
    if (raw === undefined) return undefined
    if (tier.byReference) return isEnvelope(raw) ? raw : undefined
    return decodeEnvelope(raw as Uint8Array)
  }

  /** fresh / stale / dead for an envelope, given the tag times (undefined when they must be fetched first). */
  #state(e: Envelope, ns: string, now: number): 'fresh' | 'stale' | 'dead' | undefined {
    if (now >= e.staleUntil) return 'dead'
    let state: 'fresh' | 'stale' = now >= e.freshUntil ? 'stale' : 'fresh'
    for (const tag of e.tags) {
      const times = this.#tagTimes.get(refOf(ns, tag))
      if (times === undefined || now - times.fetchedAt > this.#tagsCacheMs) return undefined
      if (times.hard >= e.createdAt) return 'dead'
      if (times.soft >= e.createdAt) state = 'stale'
    }
    return state
  }

  async #stateAsync(e: Envelope, ns: string): Promise<'fresh' | 'stale' | 'dead'> {
    const now = Date.now()
    const known = this.#state(e, ns, now)
    if (known !== undefined) return known
    await this.#loadTagTimes(ns, e.tags)
    return this.#state(e, ns, now) ?? 'fresh'
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
      const started = tierChannel.hasSubscribers ? performance.now() : 0
      const raw = tier.driver.get(ns, key)
      const e = this.#decodeRaw(tier, isPromise(raw) ? await raw : raw)
      const c = this.#count(tier, ns)
      if (tierChannel.hasSubscribers) {
        const ms = performance.now() - started
        c.readMs += ms
        tierChannel.publish({ op: 'get', tier: tier.name, namespace: ns, hit: e !== undefined, durationMs: ms })
      }
      if (e === undefined) {
        c.misses++
        continue
      }
      const state =
        e.tags.length === 0
          ? (this.#state(e, ns, Date.now()) as 'fresh' | 'stale' | 'dead')
          : await this.#stateAsync(e, ns)
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
      if (i > 0 && options?.promote !== false) {
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
      const placed = this.#placeSync(u, ref, ns, key, e)
      if (placed === undefined) return this.#promoteAsync(ref, ns, key, e, found, u)
      if (placed) this.#count(tier, ns).promotions++
    }
    return undefined
  }

  async #promoteAsync(ref: string, ns: string, key: string, e: Envelope, found: number, from: number): Promise<void> {
    for (let u = from; u >= 0; u--) {
      const tier = this.#tiers[u] as Tier
      if (!this.strategy.shouldPromote(ref, u, found)) continue
      if (await this.#place(u, ref, ns, key, e)) this.#count(tier, ns).promotions++
    }
  }

  /**
   * `#place` without a promise for a synchronous by-reference tier when no demotion write is
   * needed (writes = all); undefined when the asynchronous path must run.
   */
  #placeSync(index: number, ref: string, ns: string, key: string, e: Envelope): boolean | undefined {
    const tier = this.#tiers[index] as Tier
    if (!tier.driver.capabilities.sync || !tier.byReference || this.#writes !== 'all') return undefined
    const res = tier.residency
    if (res !== undefined && !res.has(ref)) {
      while (res.full) {
        const victim = res.victimMark()
        if (victim === undefined) break
        if (!this.strategy.admit(ref, victim.ref, index)) {
          this.#count(tier, ns).rejections++
          return false
        }
        const [vns, vkey] = victim.ns !== undefined ? [victim.ns, victim.key as string] : splitRef(victim.ref)
        res.remove(victim.ref)
        // A synchronous tier: nothing to await.
        void tier.driver.delete(vns, vkey)
        this.#count(tier, vns).evictions++
      }
      res.enter(ref, ns, key)
    }
    let ttl: number | undefined
    if (e.staleUntil !== Infinity) {
      ttl = Math.ceil(e.staleUntil - Date.now())
      if (ttl <= 0) return false
    }
    void tier.driver.set(ns, key, index === 0 ? this.#hot(e, ref) : e, ttl)
    this.#count(tier, ns).writes++
    return true
  }

  /** The form the hot top tier keeps (the same object when it already is one for this entry). */
  #hot(e: Envelope, ref: string): HotEnvelope {
    return e instanceof HotEnvelope && e.ref === ref ? e : new HotEnvelope(e, ref)
  }

  /**
   * A fresh entry of a synchronous by-reference top tier, without a promise: the L1 hit fast
   * path. Counts the hit and records the access like `read` does. Undefined means "ask
   * `read`" (missing, stale, tags not known yet, or tier events observed), not "missing".
   */
  peekTop(ns: string, key: string): HotEnvelope | undefined {
    if (!this.#hotTop || tierChannel.hasSubscribers) return undefined
    const top = this.#tiers[0] as Tier
    const e = top.driver.get(ns, key)
    if (!(e instanceof HotEnvelope)) return undefined
    const now = coarseNow()
    if (now >= e.freshUntil || (e.tags.length !== 0 && this.#state(e, ns, now) !== 'fresh')) return undefined
    this.strategy.recordAccess(e.ref, e.hash ?? (e.hash = sketchHash(e.ref)))
    const res = top.residency
    if (res !== undefined) {
      const mark = e.mark
      if (mark !== undefined && mark.resident) mark.used = true
      else e.mark = res.touchMark(e.ref)
    }
    this.#count(top, ns).hits++
    return e
  }

  get(ns: string, key: string): MaybePromise<StoredValue | undefined> {
    const hit = this.peekTop(ns, key)
    if (hit !== undefined) return hit.payload
    return this.read(ns, key).then((r) => (r?.state === 'fresh' ? r.envelope.payload : undefined))
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
      const c = this.#count(tier, ns)
      for (let j = 0; j < pending.length; j++) {
        const index = pending[j] as number
        const e = this.#decodeRaw(tier, raws[j])
        if (e === undefined || (await this.#stateAsync(e, ns)) !== 'fresh') {
          c.misses++
          next.push(index)
          continue
        }
        c.hits++
        out[index] = e.payload
        if (t > 0) found.push({ index, tier: t, e })
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

  /** Remaining fresh time in ms, Infinity when it never expires, undefined when missing or stale. */
  async ttl(ns: string, key: string): Promise<number | undefined> {
    const r = await this.read(ns, key, { promote: false })
    if (r?.state !== 'fresh') return undefined
    return r.envelope.freshUntil === Infinity ? Infinity : Math.max(1, r.envelope.freshUntil - Date.now())
  }

  // ---- writing -------------------------------------------------------------------------

  /** Builds the envelope of a write. */
  envelope(
    payload: Uint8Array,
    ttlMs: number | undefined,
    options: { graceMs?: number | undefined; tags?: readonly string[] | undefined; createdAt?: number } = {},
  ): Envelope {
    const now = Date.now()
    const grace = options.graceMs ?? this.graceMs
    const freshUntil = ttlMs === undefined ? Infinity : now + ttlMs
    return {
      payload,
      freshUntil,
      staleUntil: freshUntil === Infinity ? Infinity : freshUntil + grace,
      createdAt: options.createdAt ?? preciseNow(),
      tags: options.tags && options.tags.length > 0 ? [...new Set(options.tags)] : NO_TAGS,
    }
  }

  /** Writes `e` into tier `index` as it is, with the physical TTL grace needs. False when already past grace. */
  async #write(index: number, ns: string, key: string, e: Envelope, bytes?: Uint8Array): Promise<boolean> {
    const tier = this.#tiers[index] as Tier
    let ttl: number | undefined
    if (e.staleUntil !== Infinity) {
      ttl = Math.ceil(e.staleUntil - Date.now())
      if (ttl <= 0) return false
    }
    const value = this.#storedForm(index, ns, key, e, bytes)
    const r = tier.driver.set(ns, key, value, ttl)
    if (isPromise(r)) await r
    this.#count(tier, ns).writes++
    return true
  }

  /** What tier `index` stores for `e`: the hot form on a hot top tier, the envelope by reference, or its bytes. */
  #storedForm(index: number, ns: string, key: string, e: Envelope, bytes?: Uint8Array): StoredValue {
    const tier = this.#tiers[index] as Tier
    if (!tier.byReference) return bytes ?? encodeEnvelope(e)
    return index === 0 && this.#hotTop ? this.#hot(e, refOf(ns, key)) : e
  }

  /** Writes into tier `index`, through admission when it is bounded; false when left out. */
  async #place(index: number, ref: string, ns: string, key: string, e: Envelope, bytes?: Uint8Array): Promise<boolean> {
    const tier = this.#tiers[index] as Tier
    const res = tier.residency
    if (res !== undefined && !res.has(ref)) {
      while (res.full) {
        const victim = res.victimMark()
        if (victim === undefined) break
        if (!this.strategy.admit(ref, victim.ref, index)) {
          this.#count(tier, ns).rejections++
          return false
        }
        await this.#evict(index, victim.ref, victim.ns, victim.key)
      }
      res.enter(ref, ns, key)
    }
    return this.#write(index, ns, key, e, bytes)
  }

  /** Removes `ref` from bounded tier `index`, demoting it to the tier below when the strategy says so. */
  async #evict(index: number, ref: string, knownNs?: string, knownKey?: string): Promise<void> {
    const tier = this.#tiers[index] as Tier
    const [ns, key] = knownNs !== undefined ? [knownNs, knownKey as string] : splitRef(ref)
    tier.residency?.remove(ref)
    const below = index + 1 < this.#tiers.length ? index + 1 : undefined
    if (below !== undefined && this.#writes === 'top' && this.strategy.shouldDemote(ref, index)) {
      const raw = tier.driver.get(ns, key)
      const e = this.#decodeRaw(tier, isPromise(raw) ? await raw : raw)
      if (e !== undefined && (await this.#place(below, ref, ns, key, e))) this.#count(tier, ns).demotions++
    }
    const r = tier.driver.delete(ns, key)
    if (isPromise(r)) await r
    this.#count(tier, ns).evictions++
  }

  /** Writes an envelope to the tiers (bottom first, so a shared tier has it before any local one) and tells other processes. */
  async writeEnvelope(ns: string, key: string, e: Envelope): Promise<void> {
    this.#namespaces.add(ns)
    const ref = refOf(ns, key)
    const bytes = this.#tiers.some((t) => !t.byReference) ? encodeEnvelope(e) : undefined
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      if (this.#writes === 'top' && i > 0) continue
      const tier = this.#tiers[i] as Tier
      if (!(await this.#place(i, ref, ns, key, e, bytes)) && tier.residency?.has(ref) === false) {
        // Left out of a bounded tier: make sure no older copy stays there.
        const r = tier.driver.delete(ns, key)
        if (isPromise(r)) await r
      }
    }
    await this.#publish({ kind: 'delete', namespace: ns, keys: [key] })
  }

  set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    return this.writeEnvelope(ns, key, this.envelope(value as Uint8Array, ttlMs))
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    this.#namespaces.add(ns)
    const envs = entries.map((x) => ({ key: x.key, e: this.envelope(x.value as Uint8Array, x.ttlMs) }))
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      if (this.#writes === 'top' && i > 0) continue
      const tier = this.#tiers[i] as Tier
      if (tier.residency === undefined && tier.driver.setMany) {
        const now = Date.now()
        const list: DriverEntry[] = []
        for (const { key, e } of envs) {
          const ttl = e.staleUntil === Infinity ? undefined : Math.ceil(e.staleUntil - now)
          if (ttl !== undefined && ttl <= 0) continue
          list.push({ key, value: this.#storedForm(i, ns, key, e), ttlMs: ttl })
        }
        const r = tier.driver.setMany(ns, list)
        if (isPromise(r)) await r
        this.#count(tier, ns).writes += list.length
      } else {
        for (const { key, e } of envs) {
          const ref = refOf(ns, key)
          if (!(await this.#place(i, ref, ns, key, e)) && tier.residency?.has(ref) === false)
            await tier.driver.delete(ns, key)
        }
      }
    }
    await this.#publish({ kind: 'delete', namespace: ns, keys: entries.map((x) => x.key) })
  }

  async delete(ns: string, key: string): Promise<boolean> {
    let existed = false
    for (let i = this.#tiers.length - 1; i >= 0; i--) {
      const tier = this.#tiers[i] as Tier
      if (await tier.driver.delete(ns, key)) existed = true
      tier.residency?.remove(refOf(ns, key))
    }
    await this.#publish({ kind: 'delete', namespace: ns, keys: [key] })
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
    await this.#publish({ kind: 'delete', namespace: ns, keys })
    return most
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    const r = await this.read(ns, key, { promote: false })
    if (r?.state !== 'fresh') return false
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
    await this.#publish({ kind: 'clear', namespace: ns })
  }

  async #clearTier(tier: Tier, ns: string): Promise<void> {
    const r = tier.driver.clear(ns)
    if (isPromise(r)) await r
    tier.residency?.removePrefix(`${ns}\u0000`)
    tier.residency?.removePrefix(`${ns}:`)
    for (const k of this.#tagTimes.keys())
      if (k.startsWith(`${ns}\u0000`) || k.startsWith(`${ns}:`)) this.#tagTimes.delete(k)
  }

  // ---- tags ----------------------------------------------------------------------------

  async #loadTagTimes(ns: string, tags: readonly string[]): Promise<void> {
    const now = Date.now()
    const shared = this.#shared
    if (shared === undefined) {
      for (const tag of tags) {
        const ref = refOf(ns, tag)
        const cur = this.#tagTimes.get(ref)
        this.#tagTimes.set(ref, { soft: cur?.soft ?? 0, hard: cur?.hard ?? 0, fetchedAt: Number.MAX_SAFE_INTEGER })
      }
      return
    }
    const keys = tags.flatMap((t) => [`${t}\u0000s`, `${t}\u0000h`])
    const tagNs = ns + TAG_NS
    const raws = shared.driver.getMany
      ? await shared.driver.getMany(tagNs, keys)
      : await Promise.all(keys.map((k) => shared.driver.get(tagNs, k)))
    tags.forEach((tag, i) => {
      const ref = refOf(ns, tag)
      const cur = this.#tagTimes.get(ref)
      this.#tagTimes.set(ref, {
        soft: Math.max(cur?.soft ?? 0, readTime(shared, raws[2 * i])),
        hard: Math.max(cur?.hard ?? 0, readTime(shared, raws[2 * i + 1])),
        fetchedAt: now,
      })
    })
  }

  /**
   * Invalidates every entry of `ns` carrying one of `tags`, in every tier and (through the
   * shared tier and the bus) every process: `hard` makes them misses, `soft` makes them stale
   * so grace may still serve them while a refresh runs.
   */
  async invalidateTags(ns: string, tags: readonly string[], mode: 'soft' | 'hard'): Promise<void> {
    if (tags.length === 0) return
    const at = preciseNow()
    const shared = this.#shared
    if (shared !== undefined) {
      const suffix = mode === 'hard' ? '\u0000h' : '\u0000s'
      const text = String(at)
      const value = shared.byReference ? text : new TextEncoder().encode(text)
      const entries = tags.map((t) => ({ key: t + suffix, value, ttlMs: undefined }))
      if (shared.driver.setMany) await shared.driver.setMany(ns + TAG_NS, entries)
      else for (const x of entries) await shared.driver.set(ns + TAG_NS, x.key, x.value, undefined)
    }
    this.#applyTags(ns, tags, at, mode)
    await this.#publish({ kind: 'tags', namespace: ns, tags, at, mode })
  }

  #applyTags(ns: string, tags: readonly string[], at: number, mode: 'soft' | 'hard'): void {
    const fetchedAt = this.#shared === undefined ? Number.MAX_SAFE_INTEGER : Date.now()
    for (const tag of tags) {
      const ref = refOf(ns, tag)
      const cur = this.#tagTimes.get(ref)
      if (cur === undefined) {
        // Unknown before: the other time must still be read from the shared tier.
        if (this.#shared !== undefined) continue
        this.#tagTimes.set(ref, { soft: mode === 'soft' ? at : 0, hard: mode === 'hard' ? at : 0, fetchedAt })
        continue
      }
      if (mode === 'soft') cur.soft = Math.max(cur.soft, at)
      else cur.hard = Math.max(cur.hard, at)
    }
  }

  // ---- distributed single-flight -------------------------------------------------------

  /** Takes the cluster-wide lease to load `key` (an atomic increment in the shared tier); true when this process got it. */
  async acquireLease(ns: string, key: string, leaseMs: number): Promise<boolean> {
    const shared = this.#shared
    if (shared === undefined || !shared.driver.increment || !shared.driver.capabilities.atomicIncrement) return true
    return (await shared.driver.increment(ns + LEASE_NS, key, 1, leaseMs)) === 1
  }

  /** Gives the lease back so waiting processes stop waiting. */
  async releaseLease(ns: string, key: string): Promise<void> {
    const shared = this.#shared
    if (shared === undefined || !shared.driver.increment) return
    await shared.driver.delete(ns + LEASE_NS, key)
  }

  /** Whether some process holds the lease of `key`. */
  async leaseHeld(ns: string, key: string): Promise<boolean> {
    const shared = this.#shared
    if (shared === undefined || !shared.driver.increment) return false
    return (await shared.driver.get(ns + LEASE_NS, key)) !== undefined
  }

  // ---- bus -----------------------------------------------------------------------------

  async #publish(m: InvalidationMessage): Promise<void> {
    if (this.#bus === undefined) return
    this.#busCounters.sent++
    await this.#bus.publish(m)
  }

  #onMessage(m: InvalidationMessage): void {
    this.#busCounters.received++
    void this.#handle(m).catch(() => undefined)
  }

  async #handle(m: InvalidationMessage): Promise<void> {
    if (m.kind === 'tags') {
      this.#applyTags(m.namespace, m.tags, m.at, m.mode)
      return
    }
    for (const tier of this.#tiers) {
      if (!tier.local) continue
      if (m.kind === 'clear') await this.#clearTier(tier, m.namespace)
      else
        for (const key of m.keys) {
          const r = tier.driver.delete(m.namespace, key)
          if (isPromise(r)) await r
          tier.residency?.remove(refOf(m.namespace, key))
        }
    }
  }

  /** After missed messages: drop everything local (it may be outdated) and every cached tag time. */
  async #dropLocal(): Promise<void> {
    this.#tagTimes.clear()
    for (const tier of this.#tiers) if (tier.local) for (const ns of this.#namespaces) await this.#clearTier(tier, ns)
  }

  // ---- lifecycle and metrics -----------------------------------------------------------

  metrics(): TieredMetrics {
    return {
      strategy: this.strategy.name,
      tiers: this.#tiers.map((t) => {
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
      bus: { ...this.#busCounters },
    }
  }

  async ping(): Promise<void> {
    for (const t of this.#tiers) await t.driver.ping?.()
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const u of this.#unsubscribe) u()
    const errors: unknown[] = []
    for (const t of this.#tiers) {
      try {
        await t.driver.close()
      } catch (err) {
        errors.push(err)
      }
    }
    if (this.#ownsBus) await this.#bus?.close()
    if (errors.length > 0) throw errors[0]
  }
}

function readTime(tier: Tier, raw: StoredValue | undefined): number {
  if (raw === undefined) return 0
  const text = tier.byReference ? String(raw) : new TextDecoder().decode(raw as Uint8Array)
  const n = Number(text)
  return Number.isFinite(n) ? n : 0
}
