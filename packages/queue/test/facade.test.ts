import { describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { listChannels } from '@beaver-kit/core'
import { eventually } from '@beaver-kit/testkit'
import {
  channels,
  createQueue,
  defineJob,
  isQueueError,
  logging,
  mapErrors,
  queueDriverNames,
  registerQueueDriver,
  timing,
  UnrecoverableError,
  type QueueMiddleware,
} from '@beaver-kit/queue'
import { memoryDriver } from '@beaver-kit/queue/memory'

const mem = (extra: Parameters<typeof createQueue>[0] = {}) =>
  createQueue({ driver: 'memory', envPrefix: false, ...extra })

describe('the queue facade', () => {
  it('names the variable of a bad setting and the known drivers of a bad name', () => {
    expect(() => createQueue({ env: { BEAVER_QUEUE_CONCURRENCY: 'many' } })).toThrow(/BEAVER_QUEUE_CONCURRENCY/)
    try {
      createQueue({ env: { BEAVER_QUEUE_DRIVER: 'reddis' } })
    } catch (e) {
      expect(isQueueError(e, 'QUEUE_DRIVER_UNKNOWN')).toBe(true)
      expect((e as Error).message).toContain('did you mean "redis"')
    }
    try {
      createQueue({ env: { BEAVER_QUEUE_LEASE_TIME: 'soon' } })
    } catch (e) {
      expect(isConfigError(e)).toBe(true)
    }
  })

  it('validates publish options and queue names with messages naming the option', async () => {
    await using q = mem()
    const code = async (p: Promise<unknown>): Promise<string | undefined> =>
      p.then(
        () => undefined,
        (e: { code?: string }) => e.code,
      )
    expect(await code(q.publish('bad name!', 1))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.publish('ok', 1, { priority: 1.5 }))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.publish('ok', 1, { attempts: 0 }))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.publish('ok', 1, { runAt: Number.NaN }))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.publish('ok', 1, { headers: { a: 1 as unknown as string } }))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.publish('ok', 1, { tx: {} }))).toBe('QUEUE_UNSUPPORTED')
    expect(await code(q.publish('ok', undefined))).toBe('QUEUE_SERIALIZE_FAILED')
    expect(await code(q.publish('ok', 'x'.repeat(2 * 1024 * 1024)))).toBe('QUEUE_PAYLOAD_TOO_LARGE')
    expect(await code(q.consume('ok', () => undefined, { concurrency: 0 }))).toBe('QUEUE_OPTIONS_INVALID')
    expect(await code(q.consume('ok', () => undefined, { leaseTime: 1 }))).toBe('QUEUE_OPTIONS_INVALID')
  })

  it('refuses QUEUE_FULL past maxWaiting', async () => {
    await using q = mem({ maxWaiting: 2 })
    await q.publishBatch('full', [{ payload: 1 }, { payload: 2 }])
    await expect(q.publish('full', 3)).rejects.toSatisfy((e) => isQueueError(e, 'QUEUE_FULL'))
  })

  it('runs publish and handle middleware in order, and maps errors before the retry decision', async () => {
    await using q = mem()
    const order: string[] = []
    const mw = (name: string): QueueMiddleware => ({
      name,
      async publish(ctx, next) {
        order.push(`${name}:publish:${ctx.messages.length}`)
        for (const m of ctx.messages) m.headers[name] = '1'
        return next()
      },
      async handle(ctx, next) {
        order.push(`${name}:before`)
        await next()
        order.push(`${name}:after`)
      },
    })
    q.use(mw('outer')).use(mw('inner'))
    const timings: number[] = []
    q.use(timing((ms) => void timings.push(ms)))
    q.use(mapErrors((e) => (e instanceof RangeError ? new UnrecoverableError(e.message) : e)))
    const logged: string[] = []
    q.use(
      logging({
        logger: { info: (_f, m) => void logged.push(m), error: (_f, m) => void logged.push(m) },
        withContext: (_fields, fn) => fn(),
      }),
    )
    const headers: Record<string, string>[] = []
    const c = await q.consume('mw', (m) => {
      headers.push({ ...m.headers })
      if (m.payload === 'range') throw new RangeError('bad range')
    })
    await q.publish('mw', 'ok')
    const bad = await q.publish('mw', 'range', { attempts: 5 })
    await eventually(async () => expect((await q.get('mw', bad))?.state).toBe('dead'))
    await c.close()
    expect(order.slice(0, 2)).toEqual(['outer:publish:1', 'inner:publish:1'])
    expect(order).toContain('outer:before')
    expect(order.indexOf('inner:after')).toBeLessThan(order.lastIndexOf('outer:after'))
    expect(headers[0]).toMatchObject({ outer: '1', inner: '1' })
    expect(timings.length).toBe(2)
    expect(logged).toEqual(['message handled', 'message failed'])
    expect((await q.get('mw', bad))?.attempt).toBe(1)
  })

  it('types a job end to end and validates at publish', async () => {
    await using q = mem()
    const job = defineJob<{ n: number }>('typed', {
      parse: (v) => {
        if (typeof (v as { n?: unknown }).n !== 'number') throw new TypeError('n must be a number')
        return v as { n: number }
      },
      priority: 3,
    })
    await expect(q.publisher(job).publish({ n: 'x' } as unknown as { n: number })).rejects.toThrow(/n must be a number/)
    const id = await q.publisher(job).publish({ n: 2 })
    expect((await q.get('typed', id))?.priority).toBe(3)
    const [a] = await q.publisher(job).publishBatch([{ payload: { n: 3 } }])
    expect(typeof a).toBe('string')
  })

  it('publishes on its channels and describes itself without secrets', async () => {
    await using q = createQueue({ driver: 'memory', envPrefix: false, redis: { password: 'hunter2' } })
    const seen: string[] = []
    const onStart = (m: unknown): void => void seen.push((m as { queue: string }).queue)
    channels.publish.start.subscribe(onStart)
    try {
      await q.publish('chan', 1)
    } finally {
      channels.publish.start.unsubscribe(onStart)
    }
    expect(seen).toEqual(['chan'])
    const d = q.describe()
    expect(JSON.stringify(d)).not.toContain('hunter2')
    expect(d.state.driver).toBe('memory')
    expect(listChannels(channels).map((c) => c.name)).toContain('beaver:queue:handle')
    expect((await q.health()).ok).toBe(true)
    expect(await q.capabilities()).toMatchObject({ durable: false, transactional: false })
  })

  it('registers third-party drivers and refuses bad names', async () => {
    registerQueueDriver('custom-mem', memoryDriver)
    expect(queueDriverNames()).toContain('custom-mem')
    await using q = createQueue({ driver: 'custom-mem', envPrefix: false })
    await q.publish('x', 1)
    expect(() => registerQueueDriver('Bad Name', memoryDriver)).toThrow(/lowercase/)
  })

  it('refuses work once closed', async () => {
    const q = mem()
    await q.close()
    await q.close()
    await expect(q.publish('x', 1)).rejects.toSatisfy((e) => isQueueError(e, 'QUEUE_CLOSED'))
  })

  it('reports a driver that cannot be reached in health() without throwing', async () => {
    await using q = createQueue({ driver: 'redis', envPrefix: false, redis: { url: 'redis://127.0.0.1:1' } })
    const health = await q.health({ timeout: 2000 })
    expect(health.ok).toBe(false)
    expect(health.error).toBeTruthy()
  })
})
