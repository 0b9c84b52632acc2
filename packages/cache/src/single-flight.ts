import { raceAbort } from '@beaver-kit/core'
import { CacheError } from './errors.ts'

/** A flight's work: gets the signal that aborts when the cache closes or the loader times out. */
export type FlightWork<T> = (signal: AbortSignal) => Promise<T>

/** A slot claimed for a batch: settled by the caller (getOrSetMany loads many keys in one call). */
export interface ClaimedSlot {
  readonly promise: Promise<unknown>
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** The error the callers of a loader get once it ran past the loader timeout. */
export function loaderTimeout(namespace: string, timeoutMs: number): CacheError {
  return new CacheError(
    'CACHE_LOADER_TIMEOUT',
    `A getOrSet loader did not finish within ${timeoutMs} ms, so its callers stopped waiting and the key is free to load again; make the loader faster, raise BEAVER_CACHE_LOADER_TIMEOUT, or give entries a grace period to serve stale values meanwhile.`,
    { details: { namespace, loaderTimeoutMs: timeoutMs } },
  )
}

/**
 * In-process single flight: concurrent callers of one `(namespace, key)` share one loader call.
 * A flight ends when its work settles, when the cache closes, or when it runs past
 * `timeoutMs`: then its callers get CACHE_LOADER_TIMEOUT, the work's signal aborts (a loader
 * that listens stops; a late result is not written), and the slot is free at once, so a hung
 * loader never blocks its key.
 */
export class Flights {
  readonly #inflight = new Map<string, Promise<unknown>>()
  readonly #lifetime: AbortSignal

  constructor(lifetime: AbortSignal) {
    this.#lifetime = lifetime
  }

  /** The slot of a key: namespace and key cannot run into each other (namespaces have no NUL). */
  static slot(namespace: string, key: string): string {
    return `${namespace}\u0000${key}`
  }

  /** The running flight of a slot, if any. */
  join<T>(slot: string): Promise<T> | undefined {
    return this.#inflight.get(slot) as Promise<T> | undefined
  }

  /** Starts the flight of a slot (the caller checked `join` first). */
  start<T>(slot: string, namespace: string, timeoutMs: number, work: FlightWork<T>): Promise<T> {
    const timeout = new AbortController()
    // The loader's signal aborts at the timeout, and whenever the cache closes (also after
    // the flight, for work the loader left running).
    const signal = AbortSignal.any([this.#lifetime, timeout.signal])
    const flight = raceAbort(work(signal), {
      signal,
      timeoutMs,
      onTimeout: () => {
        const error = loaderTimeout(namespace, timeoutMs)
        timeout.abort(error)
        return error
      },
    }).finally(() => {
      if (this.#inflight.get(slot) === flight) this.#inflight.delete(slot)
    })
    this.#inflight.set(slot, flight)
    return flight
  }

  /** Claims a free slot for a caller that settles it itself; undefined when a flight runs. */
  claim(slot: string): ClaimedSlot | undefined {
    if (this.#inflight.has(slot)) return undefined
    let resolve!: (value: unknown) => void
    let reject!: (error: unknown) => void
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res
      reject = rej
    })
    // Waiters attach their own handlers; an unobserved failure is the claimer's to report.
    promise.catch(() => undefined)
    const release = (): void => {
      if (this.#inflight.get(slot) === promise) this.#inflight.delete(slot)
    }
    this.#inflight.set(slot, promise)
    return {
      promise,
      resolve: (value) => {
        release()
        resolve(value)
      },
      reject: (error) => {
        release()
        reject(error)
      },
    }
  }
}
