import { raceAbort } from '@beaver-kit/core'
import { CacheError } from '../errors.ts'

/** One write waiting for the store. */
export type QueuedWrite =
  | {
      readonly kind: 'set'
      readonly namespace: string
      readonly key: string
      readonly value: Uint8Array
      readonly expiresAt: number | undefined
    }
  | { readonly kind: 'delete'; readonly namespace: string; readonly key: string }
  | { readonly kind: 'clear'; readonly namespace: string }

function slotOf(w: QueuedWrite): string {
  return w.kind === 'clear' ? `\u0001clear\u0000${w.namespace}` : `${w.namespace}\u0000${w.key}`
}

/**
 * The bounded, ordered queue of writes a hybrid driver owes its store. One pending write per
 * key (a newer write of the key replaces the older and moves to the end, so replay order is
 * the order of the last writes); a clear drops the namespace's pending writes and queues
 * itself. When full, `push` waits for room (back-pressure) up to `waitMs`, then rejects with
 * `CACHE_BACKPRESSURE`: a write is never dropped silently.
 */
export class WriteQueue {
  readonly max: number
  readonly #waitMs: number
  readonly #items = new Map<string, QueuedWrite>()
  readonly #waiters: Array<() => void> = []

  constructor(max: number, waitMs = 30_000) {
    this.max = max
    this.#waitMs = waitMs
  }

  get size(): number {
    return this.#items.size
  }

  /** The pending write of a key (a set or a delete), or a pending clear of its namespace. */
  pending(namespace: string, key: string): QueuedWrite | undefined {
    const own = this.#items.get(`${namespace}\u0000${key}`)
    if (own !== undefined) return own
    if (this.#items.size === 0) return undefined
    for (let ns = namespace; ;) {
      const clear = this.#items.get(`\u0001clear\u0000${ns}`)
      if (clear !== undefined) return clear
      const i = ns.lastIndexOf(':')
      if (i < 0) return undefined
      ns = ns.slice(0, i)
    }
  }

  async push(w: QueuedWrite): Promise<void> {
    const slot = slotOf(w)
    while (!this.#items.has(slot) && this.#items.size >= this.max) {
      let onRoom: (() => void) | undefined
      const room = new Promise<void>((resolve) => {
        onRoom = resolve
        this.#waiters.push(resolve)
      })
      try {
        // The writer awaits this, so the wait holds the process like any awaited work.
        await raceAbort(room, {
          timeoutMs: this.#waitMs,
          onTimeout: () =>
            new CacheError(
              'CACHE_BACKPRESSURE',
              `The write-behind queue stayed full (${this.max} writes waiting for the store) for ${this.#waitMs} ms, so this write was refused, not queued; the store is down or too slow. Raise BEAVER_CACHE_HYBRID_QUEUE_MAX or fix the store.`,
              { details: { queueMax: this.max, namespace: w.namespace } },
            ),
        })
      } catch (err) {
        const i = this.#waiters.indexOf(onRoom as () => void)
        if (i >= 0) this.#waiters.splice(i, 1)
        throw err
      }
    }
    if (w.kind === 'clear') {
      for (const [s, item] of this.#items)
        if (item.namespace === w.namespace || item.namespace.startsWith(`${w.namespace}:`)) this.#items.delete(s)
    }
    this.#items.delete(slot)
    this.#items.set(slot, w)
  }

  /** The oldest `n` writes, in order (left in the queue until `done`). */
  peek(n: number): QueuedWrite[] {
    const out: QueuedWrite[] = []
    for (const w of this.#items.values()) {
      if (out.length >= n) break
      out.push(w)
    }
    return out
  }

  /** Removes writes the store acknowledged, unless a newer write of the key replaced them meanwhile. */
  done(writes: readonly QueuedWrite[]): void {
    for (const w of writes) {
      const slot = slotOf(w)
      if (this.#items.get(slot) === w) this.#items.delete(slot)
    }
    while (this.#waiters.length > 0 && this.#items.size < this.max) this.#waiters.shift()?.()
  }
}
