import { CacheError } from '../errors.ts'
import {
  defineCacheDriver,
  NEGATIVE,
  type CacheDriver,
  type CacheDriverCapabilities,
  type DriverContext,
  type DriverEntry,
} from '../driver.ts'
import { utf8 } from '../serializers.ts'
import { estimateSize } from './memory-size.ts'

/** Options of the memory driver (each also an env variable, `BEAVER_CACHE_MEMORY_*`). */
export interface MemoryCacheOptions {
  /** Most entries kept. Default 10,000. */
  maxItems?: number
  /** Most bytes kept; 0 means no byte bound. By-reference values are measured by `sizeOf`. */
  maxSize?: number
  /** `sieve` (default: a cheaper hit, and a better hit ratio on skewed workloads) or `lru`. */
  policy?: 'sieve' | 'lru'
  /** Period of the bounded background sweep of expired entries, in ms; 0 disables it. */
  sweepInterval?: number
  /** Most slots one sweep looks at. */
  sweepBatch?: number
  /** Size of a by-reference value in bytes, for `maxSize`. Default: a bounded estimate. */
  sizeOf?: (value: unknown) => number
  /** The clock (ms since epoch). Default: Date.now read once per turn of the event loop; pass `Date.now` for fake timers. */
  now?: () => number
}

const NONE = -1
const INITIAL_CAPACITY = 1024

// Date.now() costs ~50 ns here, as much as the rest of a hit. Expiry reads a clock cached
// until the event loop turns instead: the first read stores the time and an unref'd
// setImmediate forgets it after the next poll. Not a 1 ms timer (lru-cache's ttlResolution):
// a short timer re-armed every millisecond made each Redis round trip of the tiered cache
// cost 5-10 µs more CPU (process.cpuUsage() over 2,000 GETs, median of 21 interleaved rounds:
// the same writes, reads and context switches, more polls of the loop), where the immediate
// costs under 1 µs and a pending long timer (a sweep interval) nothing measurable. During one
// long synchronous run (or chain of microtasks) the clock stands still, so an entry can
// outlive its TTL by at most that run.
let cachedNow = 0
function forgetNow(): void {
  cachedNow = 0
}
/** Milliseconds since the epoch, read once per turn of the event loop. */
export function coarseNow(): number {
  if (cachedNow === 0) {
    cachedNow = Date.now()
    setImmediate(forgetNow).unref()
  }
  return cachedNow
}

/**
 * The in-process store. Layout: one `Map<key, slot>` per namespace, and per slot the key,
 * value, expiry (inline, ms since epoch, 0 = none), size, a visited bit and the links of an
 * intrusive doubly-linked list kept in typed arrays, so a hit allocates nothing and touches
 * a few array cells. Eviction is SIEVE by default (a hit sets one bit; the hand evicts the
 * first unvisited entry from the old end) or LRU (a hit moves the slot to the front).
 * Expiry is lazy on access plus a background sweep that looks at most `sweepBatch` slots per
 * tick, so there is no timer per key and never a long pause.
 */
export class MemoryStore implements CacheDriver {
  readonly name = 'memory'
  readonly capabilities: CacheDriverCapabilities

  #spaces = new Map<string, Map<string, number>>()
  #lastNs: string | undefined = undefined
  #lastMap: Map<string, number> | undefined = undefined

  #keys: Array<string | undefined> = []
  #vals: unknown[] = []
  /** The namespace name of each namespace map (read on eviction only, so no per-slot copy). */
  #names = new Map<Map<string, number>, string>()
  #mapOf: Array<Map<string, number> | undefined> = []
  #exp: Float64Array
  #size: Uint32Array
  #prev: Int32Array
  #next: Int32Array
  #visited: Uint8Array
  #capacity: number
  #top = 0
  #free: number[] = []
  #head = NONE
  #tail = NONE
  #hand = NONE
  #count = 0
  #bytes = 0
  #sweepCursor = 0
  #timer: NodeJS.Timeout | undefined

  readonly #maxItems: number
  readonly #maxSize: number
  readonly #lru: boolean
  readonly #bytesMode: boolean
  readonly #sizeOf: (value: unknown) => number
  readonly #sweepBatch: number
  readonly #clock: (() => number) | undefined
  readonly #onEvict: ((namespace: string, key: string) => void) | undefined

  constructor(options: MemoryCacheOptions = {}, context?: Pick<DriverContext, 'storage' | 'onEvict'>) {
    const {
      maxItems = 10_000,
      maxSize = 0,
      policy = 'sieve',
      sweepInterval = 10_000,
      sweepBatch = 1000,
      sizeOf = estimateSize,
      now,
    } = options
    this.#clock = now
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new CacheError('CACHE_OPTIONS_INVALID', `memory.maxItems must be an integer >= 1, got ${String(maxItems)}`)
    }
    this.#maxItems = maxItems
    this.#maxSize = maxSize
    this.#lru = policy === 'lru'
    this.#bytesMode = context?.storage === 'serialized'
    this.#sizeOf = sizeOf
    this.#sweepBatch = sweepBatch
    this.#onEvict = context?.onEvict
    this.capabilities = Object.freeze({
      values: this.#bytesMode ? 'bytes' : 'any',
      sync: true,
      batch: true,
      atomicIncrement: true,
      query: false,
    })
    this.#capacity = Math.min(maxItems, INITIAL_CAPACITY)
    this.#exp = new Float64Array(this.#capacity)
    this.#size = new Uint32Array(this.#capacity)
    this.#prev = new Int32Array(this.#capacity)
    this.#next = new Int32Array(this.#capacity)
    this.#visited = new Uint8Array(this.#capacity)
    if (sweepInterval > 0) {
      this.#timer = setInterval(() => this.sweep(), sweepInterval)
      this.#timer.unref()
    }
  }

  /** Entries currently held (expired ones not yet swept included). */
  get size(): number {
    return this.#count
  }

  /** Bytes currently accounted. */
  get bytes(): number {
    return this.#bytes
  }

  #space(ns: string): Map<string, number> | undefined {
    if (ns === this.#lastNs) return this.#lastMap
    const map = this.#spaces.get(ns)
    if (map !== undefined) {
      this.#lastNs = ns
      this.#lastMap = map
    }
    return map
  }

  #spaceForWrite(ns: string): Map<string, number> {
    let map = this.#space(ns)
    if (map === undefined) {
      map = new Map()
      this.#spaces.set(ns, map)
      this.#names.set(map, ns)
      this.#lastNs = ns
      this.#lastMap = map
    }
    return map
  }

  /** The live slot of a key, or NONE (an expired slot is removed on the way). */
  #find(ns: string, key: string): number {
    const i = this.#space(ns)?.get(key)
    if (i === undefined) return NONE
    const e = this.#exp[i] as number
    if (e !== 0 && e <= this.#now()) {
      this.#remove(i)
      return NONE
    }
    return i
  }

  get(ns: string, key: string): unknown {
    // The hot path, written out: no helper calls on a hit.
    const map = ns === this.#lastNs ? this.#lastMap : this.#space(ns)
    if (map === undefined) return undefined
    const i = map.get(key)
    if (i === undefined) return undefined
    const e = this.#exp[i] as number
    if (e !== 0 && e <= (this.#clock !== undefined ? this.#clock() : cachedNow === 0 ? coarseNow() : cachedNow)) {
      this.#remove(i)
      return undefined
    }
    // `=== true`: one comparison where a bare boolean field is tested against every falsy kind.
    if (this.#lru === true) this.#toFront(i)
    else this.#visited[i] = 1
    return this.#vals[i]
  }

  has(ns: string, key: string): boolean {
    const i = this.#find(ns, key)
    if (i === NONE) return false
    const v = this.#vals[i]
    return v !== NEGATIVE && !(this.#bytesMode && (v as Uint8Array).byteLength === 0)
  }

  set(ns: string, key: string, value: unknown, ttlMs: number | undefined): void {
    const size = this.#bytesMode
      ? (value as Uint8Array).byteLength + key.length
      : this.#maxSize > 0
        ? this.#sizeOf(value) + key.length
        : 0
    if (this.#maxSize > 0 && size > this.#maxSize) {
      throw new CacheError(
        'CACHE_VALUE_TOO_LARGE',
        `An entry takes ${size} bytes, more than the whole memory bound (memory.maxSize = ${this.#maxSize}).`,
        { details: { size, maxSize: this.#maxSize } },
      )
    }
    const expires = ttlMs === undefined ? 0 : this.#now() + ttlMs
    const map = this.#spaceForWrite(ns)
    let i = map.get(key)
    if (i !== undefined) {
      this.#vals[i] = value
      this.#exp[i] = expires
      this.#bytes += size - (this.#size[i] as number)
      this.#size[i] = size
      if (this.#lru) this.#toFront(i)
    } else {
      while (this.#count >= this.#maxItems) this.#evictOne()
      i = this.#alloc()
      this.#keys[i] = key
      this.#vals[i] = value
      this.#mapOf[i] = map
      this.#exp[i] = expires
      this.#size[i] = size
      this.#visited[i] = 0
      this.#bytes += size
      this.#count++
      this.#linkFront(i)
      map.set(key, i)
    }
    if (this.#maxSize > 0) {
      const keep = i
      while (this.#bytes > this.#maxSize && this.#count > 1) this.#evictOne(keep)
    }
  }

  delete(ns: string, key: string): boolean {
    const i = this.#find(ns, key)
    if (i === NONE) return false
    this.#remove(i)
    return true
  }

  getMany(ns: string, keys: readonly string[]): unknown[] {
    const out = new Array<unknown>(keys.length)
    for (let k = 0; k < keys.length; k++) out[k] = this.get(ns, keys[k] as string)
    return out
  }

  setMany(ns: string, entries: readonly DriverEntry[]): void {
    for (const e of entries) this.set(ns, e.key, e.value, e.ttlMs)
  }

  deleteMany(ns: string, keys: readonly string[]): number {
    let n = 0
    for (const key of keys) if (this.delete(ns, key)) n++
    return n
  }

  pull(ns: string, key: string): unknown {
    const i = this.#find(ns, key)
    if (i === NONE) return undefined
    const v = this.#vals[i]
    this.#remove(i)
    return v
  }

  increment(ns: string, key: string, by: number, ttlMs: number | undefined): number {
    const i = this.#find(ns, key)
    if (i === NONE) {
      this.set(ns, key, this.#bytesMode ? Buffer.from(String(by)) : by, ttlMs)
      return by
    }
    const current = this.#vals[i]
    const n = this.#bytesMode ? parseCounter(current as Uint8Array) : current
    if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
      throw new CacheError(
        'CACHE_NOT_A_NUMBER',
        'The value is not an integer, so it cannot be incremented; delete it or use set().',
      )
    }
    const next = n + by
    this.#vals[i] = this.#bytesMode ? Buffer.from(String(next)) : next
    return next
  }

  ttl(ns: string, key: string): number | undefined {
    const i = this.#find(ns, key)
    if (i === NONE) return undefined
    const e = this.#exp[i] as number
    return e === 0 ? Infinity : Math.max(0, e - this.#now())
  }

  touch(ns: string, key: string, ttlMs: number | undefined): boolean {
    const i = this.#find(ns, key)
    if (i === NONE) return false
    this.#exp[i] = ttlMs === undefined ? 0 : this.#now() + ttlMs
    return true
  }

  clear(ns: string): void {
    const nested = `${ns}:`
    for (const [name, map] of this.#spaces) {
      if (ns !== '' && name !== ns && !name.startsWith(nested)) continue
      for (const i of map.values()) this.#remove(i)
      this.#spaces.delete(name)
      this.#names.delete(map)
    }
    this.#lastNs = undefined
    this.#lastMap = undefined
  }

  /** Removes expired entries among the next `sweepBatch` slots (called by the background timer). */
  sweep(now: number = this.#clock !== undefined ? this.#clock() : Date.now()): number {
    let removed = 0
    const end = Math.min(this.#top, this.#sweepCursor + this.#sweepBatch)
    for (let i = this.#sweepCursor; i < end; i++) {
      const e = this.#exp[i] as number
      if (e !== 0 && e <= now && this.#keys[i] !== undefined) {
        this.#remove(i)
        removed++
      }
    }
    this.#sweepCursor = end >= this.#top ? 0 : end
    return removed
  }

  /** Removes every expired entry now (the background sweep looks at `sweepBatch` slots a time). */
  purgeExpired(): number {
    const now = this.#clock !== undefined ? this.#clock() : Date.now()
    let removed = 0
    for (let i = 0; i < this.#top; i++) {
      const e = this.#exp[i] as number
      if (e !== 0 && e <= now && this.#keys[i] !== undefined) {
        this.#remove(i)
        removed++
      }
    }
    return removed
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer)
    this.#timer = undefined
  }

  #now(): number {
    return this.#clock !== undefined ? this.#clock() : coarseNow()
  }

  #alloc(): number {
    const reused = this.#free.pop()
    if (reused !== undefined) return reused
    if (this.#top === this.#capacity) this.#grow()
    return this.#top++
  }

  #grow(): void {
    const next = Math.min(this.#maxItems, this.#capacity * 2)
    const grow = <A extends Float64Array | Int32Array | Uint32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      const b = make(next)
      b.set(a)
      return b
    }
    this.#exp = grow(this.#exp, (n) => new Float64Array(n))
    this.#size = grow(this.#size, (n) => new Uint32Array(n))
    this.#prev = grow(this.#prev, (n) => new Int32Array(n))
    this.#next = grow(this.#next, (n) => new Int32Array(n))
    this.#visited = grow(this.#visited, (n) => new Uint8Array(n))
    this.#capacity = next
  }

  #linkFront(i: number): void {
    this.#prev[i] = NONE
    this.#next[i] = this.#head
    if (this.#head !== NONE) this.#prev[this.#head] = i
    this.#head = i
    if (this.#tail === NONE) this.#tail = i
  }

  #unlink(i: number): void {
    const p = this.#prev[i] as number
    const n = this.#next[i] as number
    if (p !== NONE) this.#next[p] = n
    else this.#head = n
    if (n !== NONE) this.#prev[n] = p
    else this.#tail = p
  }

  #toFront(i: number): void {
    if (this.#head === i) return
    this.#unlink(i)
    this.#linkFront(i)
  }

  #remove(i: number): void {
    if (this.#hand === i) this.#hand = this.#prev[i] as number
    this.#unlink(i)
    ;(this.#mapOf[i] as Map<string, number>).delete(this.#keys[i] as string)
    this.#keys[i] = undefined
    this.#vals[i] = undefined
    this.#mapOf[i] = undefined
    this.#exp[i] = 0
    this.#bytes -= this.#size[i] as number
    this.#size[i] = 0
    this.#count--
    this.#free.push(i)
  }

  /** Evicts one entry for room: an expired one if the hand meets it, else by policy. */
  #evictOne(keep: number = NONE): void {
    let victim: number
    if (this.#lru) {
      victim = this.#tail
      if (victim === keep) victim = this.#prev[victim] as number
    } else {
      let hand = this.#hand === NONE ? this.#tail : this.#hand
      const now = this.#now()
      for (;;) {
        const e = this.#exp[hand] as number
        if (hand !== keep && (this.#visited[hand] === 0 || (e !== 0 && e <= now))) break
        this.#visited[hand] = 0
        hand = this.#prev[hand] as number
        if (hand === NONE) hand = this.#tail
      }
      victim = hand
      this.#hand = this.#prev[hand] as number
    }
    if (victim === NONE) return
    const ns = this.#names.get(this.#mapOf[victim] as Map<string, number>) as string
    const key = this.#keys[victim] as string
    const expired = this.#exp[victim] !== 0 && (this.#exp[victim] as number) <= this.#now()
    this.#remove(victim)
    if (!expired) this.#onEvict?.(ns, key)
  }
}

function parseCounter(bytes: Uint8Array): number | undefined {
  const text = utf8(bytes)
  return /^-?\d{1,16}$/.test(text) ? Number(text) : undefined
}

/**
 * The memory driver definition (registered as `memory`).
 * @example
 * import { memoryDriver } from '@beaver-kit/cache/memory'
 * const cache = createCache({ driver: memoryDriver, memory: { maxItems: 50_000, policy: 'lru' } })
 */
export const memoryDriver = defineCacheDriver<MemoryCacheOptions>({
  name: 'memory',
  peers: [],
  section: 'memory',
  create(options, context) {
    return new MemoryStore(options, context)
  },
})
