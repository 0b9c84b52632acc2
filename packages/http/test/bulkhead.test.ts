import { describe, expect, it } from 'vitest'
import type { HttpRequestError } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'
import { eventually } from '@beaver-kit/testkit'

const { held, client } = useHarness()

describe('bulkhead', () => {
  it('caps calls in flight per host, queues a bounded number, refuses the rest at once', async () => {
    const s = await held()
    const c = client({ bulkhead: { maxConcurrent: 2, maxQueue: 1 } })
    const running = [c.get(s.url), c.get(s.url), c.get(s.url)]
    const refused = (await rejection(c.get(s.url))) as HttpRequestError
    expect(refused.code).toBe('HTTP_BULKHEAD_FULL')
    await eventually(() => expect(s.requests).toHaveLength(2))
    s.release()
    for (const r of running) expect((await r).status).toBe(200)
    expect(s.requests).toHaveLength(3)
  })

  it('a queued call leaves the queue when its signal aborts or the deadline passes', async () => {
    const s = await held()
    const c = client({ bulkhead: { maxConcurrent: 1, maxQueue: 5 } })
    const first = c.get(s.url)
    const controller = new AbortController()
    const queued = c.get(s.url, { signal: controller.signal })
    const timedOut = c.get(s.url, { timeouts: { total: 50 } })
    controller.abort(new Error('gave up'))
    expect(((await rejection(queued)) as Error).message).toBe('gave up')
    const late = (await rejection(timedOut)) as HttpRequestError
    expect(late.code).toBe('HTTP_TIMEOUT')
    expect(late.details.phase).toBe('total')
    s.release()
    expect((await first).status).toBe(200)
    expect((await c.get(s.url)).status).toBe(200)
    expect(s.requests).toHaveLength(2)
  })
})
