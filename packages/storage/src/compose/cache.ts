import { Readable } from 'node:stream'
import type { DriverPut, FileStat, StorageDriver, Visibility } from '../driver.ts'
import { DiskWrapper } from './wrapper.ts'

/** Bounds of the cache decorator. */
export interface DiskCacheOptions {
  /** Most files remembered (stat and, when small, bytes); least recently used go first. Default 1,000. */
  maxEntries?: number | undefined
  /** Largest file whose bytes are kept; bigger ones are streamed from the disk every time. Default 64 KiB. */
  maxFileBytes?: number | undefined
  /** Most bytes kept in all. Default 16 MiB. */
  maxBytes?: number | undefined
  /** How long an entry is trusted (writes by other processes show after this long). Default 60 s. */
  ttlMs?: number | undefined
  /** The clock (tests). */
  now?: () => number
}

type Stat = Omit<FileStat, 'path'>
/** A copy a caller may change without changing the cached entry. */
const copyStat = (stat: Stat): Stat => ({
  ...stat,
  metadata: { ...stat.metadata },
  ...(stat.tags ? { tags: { ...stat.tags } } : {}),
})
interface Entry {
  /** null: known to be missing. */
  stat: Stat | null
  bytes?: Buffer | undefined
  expires: number
}

/**
 * A bounded in-process LRU in front of a built disk: stat (and exists) answers, missing files
 * included, and the bytes of small files. Every write through this disk (put, delete, copy,
 * move, visibility, tags) drops the entries it touches before and after it runs, and a read that
 * raced a write never stores what it read. Writes by other processes show once ttlMs passed.
 */
class CachedDisk extends DiskWrapper {
  readonly #entries = new Map<string, Entry>()
  /**
   * The sequence number of each key's latest write (set when it starts and when it ends): a read
   * stores what it read only if no write of its key happened since the read began. Past a bound
   * the map is emptied and `#floor` refuses every read older than that moment instead.
   */
  readonly #writes = new Map<string, number>()
  #sequence = 0
  #floor = 0
  readonly #maxEntries: number
  readonly #maxFileBytes: number
  readonly #maxBytes: number
  readonly #ttl: number
  readonly #now: () => number
  #bytes = 0

  constructor(disk: StorageDriver, options: DiskCacheOptions) {
    super(disk, 'cached')
    this.#maxEntries = options.maxEntries ?? 1000
    this.#maxFileBytes = options.maxFileBytes ?? 64 * 1024
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024
    this.#ttl = options.ttlMs ?? 60_000
    this.#now = options.now ?? Date.now
  }

  #get(key: string): Entry | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    this.#entries.delete(key)
    if (entry.expires <= this.#now()) {
      this.#bytes -= entry.bytes?.length ?? 0
      return undefined
    }
    this.#entries.set(key, entry)
    return entry
  }

  #set(key: string, began: number, entry: Omit<Entry, 'expires'>): void {
    if (began < this.#floor || (this.#writes.get(key) ?? 0) > began) return
    this.#drop(key)
    this.#entries.set(key, { ...entry, expires: this.#now() + this.#ttl })
    this.#bytes += entry.bytes?.length ?? 0
    for (const [oldest] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) break
      this.#drop(oldest)
    }
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key)
    if (!entry) return
    this.#bytes -= entry.bytes?.length ?? 0
    this.#entries.delete(key)
  }

  #written(key: string): void {
    if (this.#writes.size >= this.#maxEntries * 4) {
      this.#writes.clear()
      this.#floor = this.#sequence + 1
    }
    this.#writes.set(key, ++this.#sequence)
    this.#drop(key)
  }

  async #writing<T>(key: string, write: () => Promise<T>): Promise<T> {
    this.#written(key)
    try {
      return await write()
    } finally {
      this.#written(key)
    }
  }

  override async stat(key: string): Promise<Stat | undefined> {
    const hit = this.#get(key)
    if (hit) return hit.stat ? copyStat(hit.stat) : undefined
    const began = this.#sequence
    const stat = await this.disk.stat(key)
    this.#set(key, began, { stat: stat ?? null })
    return stat && copyStat(stat)
  }

  override async getStream(
    key: string,
    options: { start?: number; end?: number; signal?: AbortSignal },
  ): Promise<Readable | undefined> {
    const slice = (bytes: Buffer): Readable =>
      Readable.from([bytes.subarray(options.start ?? 0, options.end === undefined ? undefined : options.end + 1)], {
        objectMode: false,
      })
    const hit = this.#get(key)
    if (hit?.bytes) return slice(hit.bytes)
    if (hit && !hit.stat) return undefined
    const began = this.#sequence
    const stat = hit?.stat ?? (await this.disk.stat(key))
    if (!stat) return undefined
    if (stat.size > this.#maxFileBytes) return this.disk.getStream(key, options)
    const stream = await this.disk.getStream(key, { ...(options.signal ? { signal: options.signal } : {}) })
    if (!stream) return undefined
    const chunks: Buffer[] = []
    for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk)
    const bytes = Buffer.concat(chunks)
    // The size the stat gave and the bytes read may come from different writes by someone else.
    if (bytes.length === stat.size) this.#set(key, began, { stat, bytes })
    return slice(bytes)
  }

  override put(key: string, input: DriverPut): ReturnType<StorageDriver['put']> {
    return this.#writing(key, () => this.disk.put(key, input))
  }

  override delete(key: string): Promise<boolean> {
    return this.#writing(key, () => this.disk.delete(key))
  }

  override copy(from: string, to: string): Promise<boolean> {
    return this.#writing(to, () => super.copy(from, to))
  }

  override setVisibility(key: string, visibility: Visibility): Promise<boolean> {
    return this.#writing(key, () => super.setVisibility(key, visibility))
  }

  override setTags(key: string, tags: Readonly<Record<string, string>>): Promise<boolean> {
    return this.#writing(key, () => super.setTags(key, tags))
  }

  override async close(): Promise<void> {
    this.#entries.clear()
    this.#bytes = 0
    await super.close()
  }
}

/**
 * Wraps a built disk with a bounded in-process cache of stat answers and small files,
 * dropped on every write through it.
 * @example createStorage({ driver: cached(s3, { maxEntries: 5000, ttlMs: 30_000 }) })
 */
export function cached(disk: StorageDriver, options: DiskCacheOptions = {}): StorageDriver {
  return new CachedDisk(disk, options)
}
