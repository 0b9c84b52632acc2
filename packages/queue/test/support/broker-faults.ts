// What the broker fault tests (RabbitMQ, NATS) share: the queues a test opened, closed after
// it; the states published on beaver:queue:connection; a handler that hangs until aborted; and
// the crashed-worker case, where a worker's connection goes mid-handling and another worker
// must get the message with the attempt counted.
import { afterEach, expect } from 'vitest'
import { eventually, startFaultProxy, uniqueNamespace, type FaultProxy } from '@beaver-kit/testkit'
import { channels, type Queue } from '@beaver-kit/queue'

const wait = { timeoutMs: 15_000 }
const DEFAULT_PORTS: Record<string, number> = { 'amqp:': 5672, 'nats:': 4222 }

/**
 * Wraps a queue factory so that every queue it makes is closed after each test. Call it in a
 * `describe` body; `closeAll()` closes them earlier (before a server the test owns goes).
 */
export function trackQueues<Args extends unknown[]>(
  make: (...args: Args) => Queue,
): { open: (...args: Args) => Queue; closeAll: () => Promise<void> } {
  const opened: Queue[] = []
  const closeAll = async (): Promise<void> => {
    for (const q of opened.splice(0)) await q.close()
  }
  afterEach(closeAll)
  return {
    open: (...args) => {
      const q = make(...args)
      opened.push(q)
      return q
    },
    closeAll,
  }
}

/** Records the states published on `beaver:queue:connection` until `stop()`. */
export function watchConnection(): { states: string[]; stop: () => void } {
  const states: string[] = []
  const onConnection = (m: unknown): void => void states.push((m as { state: string }).state)
  channels.connection.subscribe(onConnection)
  return { states, stop: () => channels.connection.unsubscribe(onConnection) }
}

/** A handler's work that never ends: rejects with the reason once its signal aborts. */
export const hang = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))

/**
 * A worker reaches the broker through the fault proxy, starts a message and hangs; `cut`
 * takes its connection away (the broker must see it gone); a second worker on the direct URL
 * must then get that message, with the first delivery counted as an attempt.
 */
export async function expectRedeliveryAfterCut(options: {
  url: string
  /** A queue on `url` in namespace `ns`. */
  open: (url: string, ns: string) => Queue
  cut: (proxy: FaultProxy) => Promise<void>
  leaseTime?: number
}): Promise<void> {
  const direct = new URL(options.url)
  const proxy = await startFaultProxy({
    target: { host: direct.hostname, port: Number(direct.port) || (DEFAULT_PORTS[direct.protocol] ?? 0) },
  })
  try {
    const ns = uniqueNamespace('cut')
    const crashed = options.open(proxy.url(options.url), ns)
    const other = options.open(options.url, ns)
    const running = Promise.withResolvers<void>()
    const id = await crashed.publish('crash', 'x', { attempts: 5 })
    await crashed.consume(
      'crash',
      async (_m, h) => {
        running.resolve()
        await hang(h.signal)
      },
      { concurrency: 1, ...(options.leaseTime === undefined ? {} : { leaseTime: options.leaseTime }) },
    )
    await running.promise
    await options.cut(proxy)
    const attempts: Array<{ id: string; attempt: number }> = []
    const c2 = await other.consume('crash', (m) => void attempts.push({ id: m.id, attempt: m.attempt }))
    await eventually(() => expect(attempts).toEqual([{ id, attempt: 2 }]), wait)
    await c2.close()
  } finally {
    await proxy.close()
  }
}
