// What the queue conformance cases share: how long they wait, and small waits and checks.
import { expect, type TestContext } from 'vitest'
import { eventually } from '../eventually.ts'
import type { Caps, ConformanceConsumer, ConformanceQueue } from './subject.ts'

/** How long a case waits for a delivery or a state. */
export const wait = { timeoutMs: 10_000 }

export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

export function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

export async function needs(t: TestContext, q: ConformanceQueue, cap: keyof Caps): Promise<void> {
  const caps = await q.capabilities()
  if (caps[cap] === false) t.skip(`the driver does not support ${cap} (capabilities().${cap} is false)`)
}

/**
 * Waits until a message completed: by `get()` where the driver keeps history, otherwise (a
 * broker drops an acknowledged message) by the consumer that ran it counting `completed`.
 */
export async function completed(
  q: ConformanceQueue,
  queue: string,
  id: string,
  consumer: ConformanceConsumer,
  count: number,
  wait: { timeoutMs: number },
): Promise<void> {
  if ((await q.capabilities()).history === false) {
    await eventually(() => expect(consumer.stats().completed).toBeGreaterThanOrEqual(count), wait)
  } else {
    await eventually(async () => expect((await q.get(queue, id))?.state).toBe('completed'), wait)
  }
}
