import { backoffDelay } from '@beaver-kit/core'
import type { Delivery, QueueDriver } from './driver.ts'
import { describeError } from './errors.ts'
import type { BatchItem, Serializer } from './message.ts'

/** Where the relay publishes: any queue (another backend). */
export interface RelayTarget {
  publishBatch<T>(queue: string, items: readonly BatchItem<T>[]): Promise<string[]>
}

/** Options of `relay()`. */
export interface RelayOptions {
  /** The queues to move. */
  queues: readonly string[]
  /** Messages per round trip. Default 100. */
  batch?: number
  /** Lease while a batch is being published. Default 30 s. */
  leaseMs?: number
  /** Idle wait between looks where the source cannot push. Default 1 s. */
  pollIntervalMs?: number
}

/** A running outbox relay. */
export interface Relay extends AsyncDisposable {
  stats(): { relayed: number; failedBatches: number }
  close(): Promise<void>
}

interface RelaySource {
  driver: QueueDriver
  serializer: Serializer
  full(queue: string): string
  now(): number
}

/**
 * Moves committed messages from this (database) queue to another backend, batch by batch:
 * fetch under a lease, publish to the target with the same id, then acknowledge. A crash
 * between publish and acknowledge publishes the batch again with the same ids, which the
 * target dedupes where it keys by id (SQL, Redis, memory) and delivers twice on brokers
 * (at-least-once, as everywhere).
 */
export function startRelay(source: RelaySource, target: RelayTarget, options: RelayOptions): Relay {
  const batch = options.batch ?? 100
  const leaseMs = options.leaseMs ?? 30_000
  const pollMs = options.pollIntervalMs ?? 1000
  const stop = new AbortController()
  const stats = { relayed: 0, failedBatches: 0 }

  async function move(queue: string, deliveries: Delivery[]): Promise<void> {
    const full = source.full(queue)
    const items: BatchItem<unknown>[] = []
    const good: Delivery[] = []
    for (const d of deliveries) {
      let payload: unknown
      try {
        payload = source.serializer.deserialize(d.payload)
      } catch (error) {
        await source.driver.fail(full, d, {
          kind: 'dead',
          reason: 'payload could not be deserialized for relay',
          error: describeError(error),
        })
        continue
      }
      good.push(d)
      items.push({
        payload,
        id: d.id,
        headers: d.headers,
        priority: d.priority,
        group: d.group,
        attempts: d.maxAttempts,
        backoff: { base: d.backoffBaseMs, max: d.backoffMaxMs },
        ...(d.timeoutMs > 0 ? { timeout: d.timeoutMs } : {}),
      })
    }
    if (good.length === 0) return
    await target.publishBatch(queue, items)
    await source.driver.complete(full, good)
    stats.relayed += good.length
  }

  async function loop(queue: string): Promise<void> {
    const full = source.full(queue)
    let failures = 0
    while (!stop.signal.aborted) {
      let deliveries: Delivery[] = []
      try {
        deliveries = await source.driver.fetch(full, {
          max: batch,
          leaseMs,
          groupLimit: undefined,
          waitMs: pollMs,
          signal: stop.signal,
        })
        if (deliveries.length > 0) await move(queue, deliveries)
        failures = 0
      } catch {
        stats.failedBatches++
        failures++
        // The target (or the source) is away: give the batch back uncounted and try again later.
        if (deliveries.length > 0) await source.driver.release(full, deliveries).catch(() => undefined)
        await new Promise((r) => setTimeout(r, backoffDelay(failures, { baseMs: 100, maxMs: 5000, jitter: 'equal' })))
      }
    }
  }

  const loops = options.queues.map((q) => loop(q))
  let closing: Promise<void> | undefined
  const relay: Relay = {
    stats: () => ({ ...stats }),
    close() {
      closing ??= (async () => {
        stop.abort()
        await Promise.allSettled(loops)
      })()
      return closing
    },
    [Symbol.asyncDispose]: () => relay.close(),
  }
  return relay
}
