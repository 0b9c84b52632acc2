import { backoffDelay, isBeaverError, raceAbort, sleep } from '@beaver-kit/core'
import { channels } from '../channels.ts'
import type {
  CacheDriver,
  CacheDriverCapabilities,
  DriverEntry,
  DriverStats,
  MaybePromise,
  StoredValue,
} from '../driver.ts'
import { CacheError } from '../errors.ts'
import { expiresAt, systemClock, type Clock } from '../expiry.ts'
import type { HybridStats } from './stats.ts'
import { WriteQueue, type QueuedWrite } from './queue.ts'

/** Options of {@link HybridDriver}. */
export interface HybridDriverOptions {
  /** The persistent store (a bytes driver: redis, database, dynamodb...). Closed with the hybrid driver when `ownsStore`. */
  store: CacheDriver
  ownsStore?: boolean | undefined
  /** The memory in front: a built driver that stores bytes (the memory driver, serialized). Closed with this one. */
  memory: CacheDriver
  /** `write-through` (default): acknowledged after the store; `write-behind`: after memory, flushed in batches. */
  mode?: 'write-through' | 'write-behind' | undefined
  /** Most writes waiting for the store; default 100,000. */
  queueMax?: number | undefined
  /** How long a writer waits for room in a full queue before `CACHE_BACKPRESSURE`; default 30 s. */
  queueWaitMs?: number | undefined
  /** Flush period of queued writes in ms; default 100. */
  flushIntervalMs?: number | undefined
  /** Most writes per flush round trip; default 500. */
  batch?: number | undefined
  /** While the store is down, probe period in ms; default 1000 (backoff with jitter up to it). */
  probeIntervalMs?: number | undefined
  /** TTL in ms of values copied into memory from the store when the store does not tell; default 60 s. */
  fillTtlMs?: number | undefined
  /** How long close() keeps trying to flush; default 10 s, then `CACHE_WRITE_BEHIND_PENDING`. */
  closeTimeoutMs?: number | undefined
  /** The clock queued expiries are computed on; default the wall clock. */
  now?: Clock | undefined
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function'
}

/** A store failure that means "down" (not a CacheError about the input, such as a too large value). */
function isOutage(err: unknown): boolean {
  if (isBeaverError(err)) return isBeaverError(err, 'CACHE_CONNECTION')
  return true
}

/**
 * Memory in front of a persistent store. Write-through acknowledges after the store;
 * write-behind after memory, with a bounded ordered queue flushed in batches on an interval
 * and on close, retried with backoff, never dropped silently (a full queue makes writers wait,
 * then refuses with `CACHE_BACKPRESSURE`). When the store is down, reads and writes continue
 * against memory, writes queue up, and recovery replays them in order; each degradation is an
 * event on `beaver:cache:hybrid` and a counter in the cache's `stats().hybrid`. Memory is
 * private to the process: use it for one process, or a tiered cache with the bus for many.
 */
export class HybridDriver implements CacheDriver {
  readonly name = 'hybrid'
  readonly capabilities: CacheDriverCapabilities
  readonly mode: 'write-through' | 'write-behind'
  readonly #store: CacheDriver
  readonly #ownsStore: boolean
  readonly #memory: CacheDriver
  readonly #queue: WriteQueue
  readonly #batch: number
  readonly #flushMs: number
  readonly #probeMs: number
  readonly #fillTtlMs: number
  readonly #closeTimeoutMs: number
  readonly #stats: Omit<HybridStats, 'mode' | 'store' | 'queueDepth'> = {
    memoryHits: 0,
    storeReads: 0,
    storeWrites: 0,
    queued: 0,
    flushed: 0,
    failovers: 0,
    recoveries: 0,
    degraded: 0,
    flushFailures: 0,
  }
  readonly #now: Clock
  #down = false
  #attempt = 0
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> | undefined
  #closed = false

  constructor(options: HybridDriverOptions) {
    if (options.store.capabilities.values !== 'bytes')
      throw new TypeError('The hybrid driver needs a store that keeps bytes')
    this.#store = options.store
    this.#ownsStore = options.ownsStore ?? false
    this.#memory = options.memory
    this.#now = options.now ?? systemClock
    if (this.#memory.capabilities.values !== 'bytes')
      throw new TypeError('The hybrid driver needs a serialized memory (storage: serialized)')
    this.mode = options.mode ?? 'write-through'
    this.#queue = new WriteQueue(options.queueMax ?? 100_000, options.queueWaitMs)
    this.#batch = options.batch ?? 500
    this.#flushMs = options.flushIntervalMs ?? 100
    this.#probeMs = options.probeIntervalMs ?? 1000
    this.#fillTtlMs = options.fillTtlMs ?? 60_000
    this.#closeTimeoutMs = options.closeTimeoutMs ?? 10_000
    this.capabilities = Object.freeze({
      values: 'bytes',
      sync: false,
      batch: true,
      atomicIncrement: this.mode === 'write-through' && this.#store.capabilities.atomicIncrement,
      query: false,
    })
  }

  /** Counters: memory hits (store round trips avoided), queue depth, failovers, recoveries... */
  counters(): HybridStats {
    return { mode: this.mode, store: this.#down ? 'down' : 'up', queueDepth: this.#queue.size, ...this.#stats }
  }

  stats(): DriverStats {
    return { hybrid: this.counters() }
  }

  // ---- store health --------------------------------------------------------------------

  #markDown(op: string, err: unknown): void {
    if (!this.#down) {
      this.#down = true
      this.#stats.failovers++
      if (channels.hybrid.hasSubscribers) channels.hybrid.publish({ event: 'degraded', op, error: err })
      // A flush planned at the (long) flush interval gives way to the quicker probe.
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    this.#schedule()
  }

  #markUp(): void {
    if (!this.#down) return
    this.#down = false
    this.#attempt = 0
    this.#stats.recoveries++
    if (channels.hybrid.hasSubscribers) channels.hybrid.publish({ event: 'recovered', count: this.#queue.size })
  }

  /** Plans the next flush (or probe while down). */
  #schedule(): void {
    if (this.#closed || this.#timer !== undefined) return
    if (this.#queue.size === 0 && !this.#down) return
    const delay = this.#down
      ? Math.max(
          10,
          Math.min(this.#probeMs, backoffDelay(++this.#attempt, { baseMs: 50, maxMs: this.#probeMs, jitter: 'equal' })),
        )
      : this.#flushMs
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.flush().catch(() => undefined)
    }, delay)
    this.#timer.unref()
  }

  /**
   * Sends queued writes to the store in order (batched), until the queue is empty or the
   * store fails (then the store counts as down and a probe is scheduled). Concurrent calls share one run.
   */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => {
      this.#flushing = undefined
      this.#schedule()
    })
    return this.#flushing
  }

  async #flush(): Promise<void> {
    if (this.#down) {
      try {
        // A probe that hangs (a client waiting to reconnect) counts as a failed one.
        const timeoutMs = Math.max(250, this.#probeMs)
        await raceAbort(
          Promise.resolve(this.#store.ping ? this.#store.ping() : this.#store.get('\u0001probe', 'probe')),
          {
            timeoutMs,
            onTimeout: () =>
              new CacheError('CACHE_CONNECTION', `The store did not answer a probe within ${timeoutMs} ms.`),
          },
        )
      } catch (err) {
        this.#markDown('probe', err)
        throw err
      }
      this.#markUp()
    }
    while (this.#queue.size > 0) {
      const writes = this.#queue.peek(this.#batch)
      try {
        await this.#apply(writes)
      } catch (err) {
        this.#stats.flushFailures++
        if (channels.hybrid.hasSubscribers)
          channels.hybrid.publish({ event: 'flushFailed', count: writes.length, error: err })
        if (isOutage(err)) this.#markDown('flush', err)
        throw err
      }
      this.#queue.done(writes)
      this.#stats.flushed += writes.length
      this.#stats.storeWrites += writes.length
    }
  }

  /** Applies writes in order, grouping runs of sets (and of deletes) of one namespace into one round trip. */
  async #apply(writes: readonly QueuedWrite[]): Promise<void> {
    const now = this.#now()
    for (let i = 0; i < writes.length;) {
      const w = writes[i] as QueuedWrite
      if (w.kind === 'clear') {
        await this.#store.clear(w.namespace)
        i++
        continue
      }
      let j = i
      while (
        j < writes.length &&
        (writes[j] as QueuedWrite).kind === w.kind &&
        (writes[j] as QueuedWrite).namespace === w.namespace
      )
        j++
      const run = writes.slice(i, j)
      if (w.kind === 'set') {
        const entries: DriverEntry[] = []
        for (const x of run) {
          if (x.kind !== 'set') continue
          const ttl = x.expiresAt === undefined ? undefined : x.expiresAt - now
          if (ttl !== undefined && ttl <= 0) continue
          entries.push({ key: x.key, value: x.value, ttlMs: ttl })
        }
        if (entries.length === 0) {
          // nothing left alive
        } else if (this.#store.setMany) await this.#store.setMany(w.namespace, entries)
        else for (const e of entries) await this.#store.set(w.namespace, e.key, e.value, e.ttlMs)
      } else {
        const keys = run.map((x) => (x.kind === 'delete' ? x.key : ''))
        if (this.#store.deleteMany) await this.#store.deleteMany(w.namespace, keys)
        else for (const k of keys) await this.#store.delete(w.namespace, k)
      }
      i = j
    }
  }

  async #enqueue(w: QueuedWrite): Promise<void> {
    await this.#queue.push(w)
    this.#stats.queued++
    this.#schedule()
  }

  /** True when writes must go through the queue (write-behind, store down, or a replay still running). */
  #viaQueue(): boolean {
    return this.mode === 'write-behind' || this.#down || this.#queue.size > 0
  }

  // ---- reads ---------------------------------------------------------------------------

  async get(ns: string, key: string): Promise<StoredValue | undefined> {
    const m = this.#memory.get(ns, key)
    const hit = isPromise(m) ? await m : m
    if (hit !== undefined) {
      this.#stats.memoryHits++
      return hit
    }
    const p = this.#queue.pending(ns, key)
    if (p !== undefined) {
      if (p.kind !== 'set') return undefined
      return p.expiresAt === undefined || p.expiresAt > this.#now() ? p.value : undefined
    }
    if (this.#down) {
      this.#stats.degraded++
      return undefined
    }
    try {
      this.#stats.storeReads++
      const knowsTtl = this.#store.ttl !== undefined
      const [value, ttl] = await Promise.all([this.#store.get(ns, key), this.#store.ttl?.(ns, key)])
      // The two reads are separate commands: a key that expired between them has a value but
      // no TTL any more, and must not be kept in memory for fillTtlMs as if it had none.
      if (value !== undefined && (ttl !== undefined || !knowsTtl)) {
        const fill = ttl === undefined || ttl === Infinity ? this.#fillTtlMs : Math.min(ttl, this.#fillTtlMs)
        await this.#memory.set(ns, key, value, Math.max(1, Math.ceil(fill)))
      }
      return value
    } catch (err) {
      if (!isOutage(err)) throw err
      this.#markDown('get', err)
      this.#stats.degraded++
      return undefined
    }
  }

  async has(ns: string, key: string): Promise<boolean> {
    const v = await this.get(ns, key)
    return v !== undefined && (v as Uint8Array).byteLength > 0
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    return Promise.all(keys.map((k) => this.get(ns, k)))
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const p = this.#queue.pending(ns, key)
    if (p?.kind === 'set') {
      // Like get(): a queued write whose TTL ran out before it was flushed is gone.
      if (p.expiresAt === undefined) return Infinity
      const left = p.expiresAt - this.#now()
      return left > 0 ? left : undefined
    }
    if (p !== undefined) return undefined
    const own = (): MaybePromise<number | undefined> => this.#memory.ttl?.(ns, key)
    if (this.#down || !this.#store.ttl) return own()
    try {
      return await this.#store.ttl(ns, key)
    } catch (err) {
      if (!isOutage(err)) throw err
      this.#markDown('ttl', err)
      return own()
    }
  }

  // ---- writes --------------------------------------------------------------------------

  async set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    const bytes = value as Uint8Array
    if (!this.#viaQueue()) {
      try {
        await this.#store.set(ns, key, bytes, ttlMs)
        this.#stats.storeWrites++
        await this.#memory.set(ns, key, bytes, ttlMs)
        return
      } catch (err) {
        if (!isOutage(err)) throw err
        this.#markDown('set', err)
        this.#stats.degraded++
      }
    }
    await this.#memory.set(ns, key, bytes, ttlMs)
    await this.#enqueue({
      kind: 'set',
      namespace: ns,
      key,
      value: bytes,
      expiresAt: expiresAt(ttlMs, this.#now()),
    })
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    if (!this.#viaQueue() && this.#store.setMany) {
      try {
        await this.#store.setMany(ns, entries)
        this.#stats.storeWrites += entries.length
        for (const e of entries) await this.#memory.set(ns, e.key, e.value, e.ttlMs)
        return
      } catch (err) {
        if (!isOutage(err)) throw err
        this.#markDown('setMany', err)
        this.#stats.degraded++
      }
    }
    for (const e of entries) {
      await this.#memory.set(ns, e.key, e.value, e.ttlMs)
      await this.#enqueue({
        kind: 'set',
        namespace: ns,
        key: e.key,
        value: e.value as Uint8Array,
        expiresAt: expiresAt(e.ttlMs, this.#now()),
      })
    }
  }

  async delete(ns: string, key: string): Promise<boolean> {
    const inMemory = await this.#memory.delete(ns, key)
    if (!this.#viaQueue()) {
      try {
        const existed = await this.#store.delete(ns, key)
        this.#stats.storeWrites++
        return existed || inMemory
      } catch (err) {
        if (!isOutage(err)) throw err
        this.#markDown('delete', err)
        this.#stats.degraded++
      }
    }
    const p = this.#queue.pending(ns, key)
    let existed = inMemory || p?.kind === 'set'
    if (!existed && p === undefined && !this.#down) {
      try {
        existed = (await this.#store.get(ns, key)) !== undefined
      } catch (err) {
        if (!isOutage(err)) throw err
        this.#markDown('delete', err)
      }
    }
    await this.#enqueue({ kind: 'delete', namespace: ns, key })
    return existed
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    let n = 0
    for (const k of keys) if (await this.delete(ns, k)) n++
    return n
  }

  async clear(ns: string): Promise<void> {
    await this.#memory.clear(ns)
    if (!this.#down) {
      try {
        await this.#queue.push({ kind: 'clear', namespace: ns })
        await this.flush()
        return
      } catch (err) {
        if (!isOutage(err)) throw err
        this.#stats.degraded++
        return
      }
    }
    await this.#enqueue({ kind: 'clear', namespace: ns })
  }

  async increment(ns: string, key: string, by: number, ttlMs: number | undefined): Promise<number> {
    if (this.mode !== 'write-through' || !this.#store.increment) {
      throw new CacheError(
        'CACHE_UNSUPPORTED',
        'increment() is atomic only through the store: use the hybrid driver in write-through mode over a store with atomic increments.',
      )
    }
    if (this.#viaQueue()) await this.flush()
    await this.#memory.delete(ns, key)
    return this.#store.increment(ns, key, by, ttlMs)
  }

  async ping(): Promise<void> {
    await this.#store.ping?.()
  }

  /** Purges the memory tier and the store (where each keeps expired entries). */
  async purgeExpired(): Promise<number> {
    return ((await this.#memory.purgeExpired?.()) ?? 0) + ((await this.#store.purgeExpired?.()) ?? 0)
  }

  /**
   * Flushes every queued write (retrying with backoff while the store is down, up to
   * `closeTimeoutMs`), then closes memory and, when owned, the store. Writes still unflushed
   * at the deadline make it reject with `CACHE_WRITE_BEHIND_PENDING` naming how many.
   */
  async close(): Promise<void> {
    if (this.#closed) return
    const deadline = Date.now() + this.#closeTimeoutMs
    for (let attempt = 1; this.#queue.size > 0 && Date.now() < deadline; attempt++) {
      try {
        await this.flush()
      } catch {
        await sleep(Math.min(Math.max(0, deadline - Date.now()), backoffDelay(attempt, { baseMs: 50, maxMs: 1000 })))
      }
    }
    this.#closed = true
    clearTimeout(this.#timer)
    const left = this.#queue.size
    await this.#memory.close()
    if (this.#ownsStore) await this.#store.close()
    if (left > 0) {
      if (channels.hybrid.hasSubscribers) channels.hybrid.publish({ event: 'lost', count: left })
      throw new CacheError(
        'CACHE_WRITE_BEHIND_PENDING',
        `The hybrid cache closed with ${left} writes the store never acknowledged (it stayed down for ${this.#closeTimeoutMs} ms); they are lost. Raise closeTimeoutMs or bring the store back before shutdown.`,
        {
          details: { pending: left },
        },
      )
    }
  }
}
