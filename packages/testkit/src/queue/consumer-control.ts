import { expect, it } from 'vitest'
import { eventually } from '../eventually.ts'
import { completed, deferred, needs, untilAborted, wait } from './support.ts'
import type { QueueCaseContext } from './subject.ts'

/** The consumer: drain and release on close, pause/resume/resize with stats, manual acknowledgement, progress, the start-rate limit. */
export function consumerControlCases(ctx: QueueCaseContext): void {
  it('drains on close: running handlers finish and are acknowledged', async () => {
    const q = ctx.subject()
    const started = deferred()
    const release = deferred()
    const id = await q.publish('drain', 'x')
    let finished = false
    const c = await q.consume('drain', async () => {
      started.resolve()
      await release.promise
      finished = true
    })
    await started.promise
    let closed = false
    const closing = c.close({ timeout: 5000 }).then(() => (closed = true))
    // A broker round trip after close() began: close is still waiting for the handler.
    await q.publish('drain-probe', 'x')
    expect(closed).toBe(false)
    release.resolve()
    await closing
    expect(finished).toBe(true)
    if ((await q.capabilities()).history === false) expect(c.stats().completed).toBe(1)
    else expect((await q.get('drain', id))?.state).toBe('completed')
  })

  const releaseCounted = ctx.options.cannot?.releaseUncounted
  ctx.itIf(releaseCounted === undefined, releaseCounted ?? '')(
    'releases what is still running when the drain time runs out, uncounted, for another worker',
    async () => {
      const q = ctx.subject()
      const other = await ctx.another()
      const started = deferred()
      const id = await q.publish('release', 'x', { attempts: 1 })
      const c = await q.consume(
        'release',
        async (_m, h) => {
          started.resolve()
          await untilAborted(h.signal)
        },
        { leaseTime: 60_000 },
      )
      await started.promise
      await c.close({ timeout: 50 })
      const attempts: number[] = []
      const c2 = await other.consume('release', (m) => void attempts.push(m.attempt))
      await eventually(() => expect(attempts).toEqual([1]), wait)
      await completed(other, 'release', id, c2, 1, wait)
      await c2.close()
    },
  )

  it('pauses, resumes and resizes a consumer, with stats', async () => {
    const q = ctx.subject()
    const seen: unknown[] = []
    const c = await q.consume('pause', (m) => void seen.push(m.payload), { concurrency: 2 })
    c.pause()
    expect(c.stats().paused).toBe(true)
    await q.publish('pause', 1)
    // Bounded by a delivery: a message published after it reaches a running consumer, this one stays idle.
    const probe = deferred()
    const running = await q.consume('pause-probe', () => probe.resolve())
    await q.publish('pause-probe', 'x')
    await probe.promise
    await running.close()
    expect(seen).toEqual([])
    c.resize(4)
    c.resume()
    await eventually(() => expect(seen).toEqual([1]), wait)
    expect(c.stats()).toMatchObject({ concurrency: 4, paused: false })
    await eventually(() => expect(c.stats().completed).toBe(1), wait)
    await c.close()
  })

  it('acknowledges and rejects explicitly in manual mode', async () => {
    const q = ctx.subject()
    const ok = await q.publish('manual', 'ok')
    const bad = await q.publish('manual', 'bad', { attempts: 3 })
    const c = await q.consume(
      'manual',
      async (m, h) => {
        if (m.payload === 'ok') setTimeout(() => void h.ack(), 50)
        else await h.nack({ requeue: false, error: new Error('rejected by handler') })
      },
      { ack: 'manual' },
    )
    await completed(q, 'manual', ok, c, 1, wait)
    await eventually(async () => expect((await q.get('manual', bad))?.state).toBe('dead'), wait)
    await c.close()
    expect((await q.get('manual', bad))?.lastError).toContain('rejected by handler')
  })

  it('records progress', async (t) => {
    const q = ctx.subject()
    await needs(t, q, 'history')
    const id = await q.publish('progress', 'x')
    const c = await q.consume('progress', async (_m, h) => {
      await h.progress({ pct: 50 })
    })
    await eventually(async () => expect((await q.get('progress', id))?.state).toBe('completed'), wait)
    await c.close()
    expect(JSON.parse((await q.get('progress', id))?.progress ?? 'null')).toEqual({ pct: 50 })
  })

  it('limits the start rate of a consumer', async () => {
    const q = ctx.subject()
    await q.publishBatch(
      'rate',
      Array.from({ length: 6 }, (_, i) => ({ payload: i })),
    )
    const starts: number[] = []
    const c = await q.consume('rate', () => void starts.push(Date.now()), {
      concurrency: 10,
      rateLimit: { max: 3, per: 400 },
    })
    await eventually(() => expect(starts).toHaveLength(6), wait)
    await c.close()
    expect((starts[5] as number) - (starts[0] as number)).toBeGreaterThanOrEqual(350)
  })
}
