// What the conformance suite cannot ask JetStream: a worker cut off mid-handling (its
// connection gone, so its in-progress acks stop); a connection dropped under a running
// consumer and publisher; a server restarted for real; JetStream's own max_deliver bridged to
// the DLQ; a stream deleted behind the driver's back; bad credentials; idempotent publish.
import { connect } from '@nats-io/transport-node'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'
import { expectRedeliveryAfterCut, hang, trackQueues, watchConnection } from './support/broker-faults.ts'
import { deleteNatsStreams, natsTestPrefix } from './support/nats-streams.ts'
import { startOwnNats } from './support/nats-server.ts'

const url = await requireService('nats')
const prefix = natsTestPrefix()
const wait = { timeoutMs: 15_000 }

afterAll(async () => {
  if (url) await deleteNatsStreams(url, prefix)
})

function natsQueue(servers: string, namespace: string, nats: Record<string, unknown> = {}): Queue {
  return createQueue({ driver: 'nats', nats: { servers: [servers], prefix, ...nats }, namespace, envPrefix: false })
}

describe.runIf(url)('nats faults', () => {
  const { open, closeAll } = trackQueues(natsQueue)

  it('redelivers the message of a worker cut off from the server, with the attempt counted', async () => {
    await expectRedeliveryAfterCut({
      url: url as string,
      open: (u, ns) => open(u, ns),
      // No reconnect either: the worker is gone as far as the server can tell.
      cut: async (proxy) => {
        const refusing = proxy.refuse()
        proxy.closeAll()
        await refusing
      },
      leaseTime: 1000,
    })
  })

  it('gives back, uncounted, the message pulled ahead for a consumer too busy to start it', async () => {
    const ns = uniqueNamespace('nats')
    const busy = open(url as string, ns)
    const other = open(url as string, ns)
    await busy.publishBatch('ahead', [{ payload: 1 }, { payload: 2 }])
    const started = Promise.withResolvers<void>()
    // A backlog: while 1 runs, 2 is pulled ahead for this consumer, which never gets to it.
    await busy.consume(
      'ahead',
      async (m, h) => {
        if (m.payload !== 1) throw new Error('the busy consumer started the message it pulled ahead')
        started.resolve()
        await hang(h.signal)
      },
      { concurrency: 1, leaseTime: 1000 },
    )
    await started.promise
    const seen: unknown[] = []
    await other.consume('ahead', (m) => void seen.push([m.payload, m.attempt]))
    // Held past half of ack_wait it goes back as a copy, before JetStream would count a redelivery.
    await eventually(() => expect(seen).toEqual([[2, 1]]), wait)
  })

  it('loses nothing when the connection drops under a consumer and a publisher, and says so on beaver:queue:connection', async () => {
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: Number(new URL(url as string).port) } })
    const { states, stop } = watchConnection()
    try {
      const q = open(proxy.url(url as string), uniqueNamespace('nats'))
      const seen = new Set<unknown>()
      // Messages from 10 on wait for the drop: the connection goes with four of them in flight.
      const dropped = Promise.withResolvers<void>()
      let held = 0
      await q.consume(
        'reconnect',
        async (m) => {
          if (typeof m.payload === 'number' && m.payload >= 10 && m.payload < 40) {
            held++
            await dropped.promise
          }
          seen.add(m.payload)
        },
        { concurrency: 4 },
      )
      await q.publishBatch(
        'reconnect',
        Array.from({ length: 40 }, (_, i) => ({ payload: i })),
      )
      await eventually(() => held === 4, wait)
      proxy.closeAll()
      await eventually(() => expect(states).toContain('lost'), wait)
      dropped.resolve()
      // Publishes right after the drop either are confirmed (after the reconnect) or fail loudly.
      const confirmed: number[] = []
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => q.publish('reconnect', 100 + i).then(() => confirmed.push(100 + i))),
      )
      for (const r of results) {
        if (r.status === 'rejected') expect(isQueueError(r.reason, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      }
      await eventually(() => expect(states).toContain('restored'), wait)
      await eventually(() => {
        for (let i = 0; i < 40; i++) expect(seen.has(i)).toBe(true)
        for (const n of confirmed) expect(seen.has(n)).toBe(true)
      }, wait)
    } finally {
      stop()
      await proxy.close()
    }
  })

  it('keeps messages across a real server restart and resumes consuming', async () => {
    const server = await startOwnNats({ jetstream: true })
    try {
      const q = open(server.url, uniqueNamespace('nats'))
      await q.publishBatch(
        'restart',
        Array.from({ length: 10 }, (_, i) => ({ payload: i })),
      )
      await q.publish('restart', 'later', { delay: 1500 })
      await server.stop()
      await server.start()
      const seen = new Set<unknown>()
      await q.consume('restart', (m) => void seen.add(m.payload), { concurrency: 4 })
      await eventually(() => expect(seen.size).toBe(11), wait)
      await server.stop()
      await server.start()
      const id = await eventually(async () => q.publish('restart', 'after'), wait)
      expect(typeof id).toBe('string')
      await eventually(() => expect(seen.has('after')).toBe(true), wait)
    } finally {
      await closeAll()
      await server.destroy()
    }
  })

  it('moves a message JetStream stopped delivering (max_deliver) to the DLQ with the reason', async () => {
    const ns = uniqueNamespace('nats')
    const a = open(url as string, ns, { maxDeliver: 2 })
    const b = open(url as string, ns, { maxDeliver: 2 })
    const c = open(url as string, ns, { maxDeliver: 2 })
    const id = await a.publish('maxdeliver', 'x', { attempts: 10 })
    const starts: number[] = []
    // Two workers that never finish and never renew: each delivery's lease runs out.
    const handler = async (m: { attempt: number }, h: { signal: AbortSignal }): Promise<void> => {
      starts.push(m.attempt)
      await hang(h.signal)
    }
    const c1 = await a.consume('maxdeliver', handler, { concurrency: 1, leaseTime: 300, renewLease: false })
    const c2 = await b.consume('maxdeliver', handler, { concurrency: 1, leaseTime: 300, renewLease: false })
    // JetStream notices max_deliver when it would deliver again: someone must be asking.
    const c3 = await c.consume('maxdeliver', handler, { concurrency: 1, leaseTime: 300, renewLease: false })
    await eventually(async () => expect((await a.dlq('maxdeliver').list()).map((m) => m.id)).toEqual([id]), wait)
    const [dead] = await a.dlq('maxdeliver').list()
    expect(dead?.deadReason).toMatch(/max_deliver \(2\)/)
    expect(starts).toEqual([1, 2])
    expect((await a.counts('maxdeliver')).waiting).toBe(0)
    await c1.close({ timeout: 50 })
    await c2.close({ timeout: 50 })
    await c3.close({ timeout: 50 })
  })

  it('creates a stream deleted behind its back again, for publish and consume', async () => {
    const ns = uniqueNamespace('nats')
    const q = open(url as string, ns)
    const seen: unknown[] = []
    await q.consume('gone', (m) => void seen.push(m.payload))
    await q.publish('gone', 1)
    await eventually(() => expect(seen).toEqual([1]), wait)
    const nc = await connect({ servers: url as string })
    try {
      const jsm = await jetstreamManager(nc)
      const names: string[] = []
      const mark = ns.split('_').pop() as string
      for await (const name of jsm.streams.names(`${prefix}.>`)) if (name.includes(mark)) names.push(name)
      expect(names.length).toBe(2)
      for (const name of names) await jsm.streams.delete(name)
    } finally {
      await nc.close()
    }
    await q.publish('gone', 2)
    await eventually(() => expect(seen).toEqual([1, 2]), wait)
  })

  it('stores a message published twice with the same id once (Nats-Msg-Id)', async () => {
    const q = open(url as string, uniqueNamespace('nats'))
    expect(await q.publish('idem', 'a', { id: 'order-42' })).toBe('order-42')
    expect(await q.publish('idem', 'b', { id: 'order-42' })).toBe('order-42')
    expect(await q.publishBatch('idem', [{ payload: 'c', id: 'order-42' }, { payload: 'd' }])).toHaveLength(2)
    expect((await q.counts('idem')).waiting).toBe(2)
    const seen: unknown[] = []
    const c = await q.consume('idem', (m) => void seen.push(m.payload))
    await eventually(() => expect(seen.sort()).toEqual(['a', 'd']), wait)
    await c.close()
    await expect(q.publish('idem', 'e', { dedupeKey: 'k' })).rejects.toSatisfy((e: unknown) =>
      isQueueError(e, 'QUEUE_UNSUPPORTED'),
    )
  })

  it('refuses bad credentials naming the settings, never the secret; describe() masks them', async () => {
    const server = await startOwnNats({ args: ['--user', 'beaver', '--pass', 'right-secret'] })
    try {
      const q = open(server.url, uniqueNamespace('nats'), { user: 'beaver', password: 'wrong-secret-123' })
      const error = await q.publish('auth', 'x').catch((e: unknown) => e)
      expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
      const text = `${(error as Error).message} ${JSON.stringify((error as { details?: unknown }).details)}`
      expect(text).toMatch(/BEAVER_QUEUE_NATS_USER and BEAVER_QUEUE_NATS_PASSWORD/)
      expect(text).not.toContain('wrong-secret-123')
      expect((await q.health()).ok).toBe(false)
      const withToken = open(server.url, uniqueNamespace('nats'), { token: 'token-secret-456' })
      const tokenError = await withToken.ready().catch((e: unknown) => e)
      expect((tokenError as Error).message).toMatch(/BEAVER_QUEUE_NATS_TOKEN/)
      expect((tokenError as Error).message).not.toContain('token-secret-456')
      expect(JSON.stringify(q.describe())).not.toContain('wrong-secret-123')
      expect(JSON.stringify(withToken.describe())).not.toContain('token-secret-456')
      const missing = open(server.url, uniqueNamespace('nats'), { credentials: '/nonexistent/beaver.creds' })
      const credsError = await missing.ready().catch((e: unknown) => e)
      expect((credsError as Error).message).toMatch(/BEAVER_QUEUE_NATS_CREDENTIALS/)
    } finally {
      await server.destroy()
    }
  })

  it('refuses a stream that exists with other settings, naming them', async () => {
    const ns = uniqueNamespace('nats')
    await open(url as string, ns).publish('settings', 1)
    const other = open(url as string, ns, { storage: 'memory' })
    const error = await other.publish('settings', 2).catch((e: unknown) => e)
    expect(isQueueError(error, 'QUEUE_DRIVER_UNAVAILABLE')).toBe(true)
    expect((error as Error).message).toMatch(/BEAVER_QUEUE_NATS_STORAGE/)
  })

  it('says so when the server has no JetStream', async () => {
    const server = await startOwnNats()
    try {
      const q = open(server.url, uniqueNamespace('nats'))
      const error = await q.ready().catch((e: unknown) => e)
      expect((error as Error).message).toMatch(/no JetStream.*-js/)
    } finally {
      await server.destroy()
    }
  })

  it('lists, replays and purges what another program put in the DLQ stream', async () => {
    const ns = uniqueNamespace('nats')
    const q = open(url as string, ns)
    await q.publish('foreign', 'own', { attempts: 1 })
    const failing = await q.consume('foreign', () => {
      throw new Error('no')
    })
    await eventually(async () => expect(await q.dlq('foreign').list()).toHaveLength(1), wait)
    await failing.close()
    const nc = await connect({ servers: url as string })
    try {
      const { jetstream } = await import('@nats-io/jetstream')
      const subject = `${prefix}.${ns.replaceAll('_', '_5F')}_2Fforeign.dead`
      await jetstream(nc).publish(subject, JSON.stringify('theirs'))
    } finally {
      await nc.close()
    }
    const listed = await q.dlq('foreign').list()
    expect(listed).toHaveLength(2)
    expect(listed[0]?.deadReason).toMatch(/another program/)
    expect((await q.dlq('foreign').list({ limit: 1 })).map((m) => m.id)).toEqual([listed[0]?.id])
    expect(await q.get('foreign', listed[1]?.id as string)).toMatchObject({ state: 'dead' })
    expect(await q.dlq('foreign').purge(listed[0]?.id)).toBe(1)
    expect(await q.dlq('foreign').replayAll()).toBe(1)
    const seen: unknown[] = []
    const c = await q.consume('foreign', (m) => void seen.push(m.payload))
    await eventually(() => expect(seen).toEqual(['own']), wait)
    await c.close()
    expect(await q.dlq('foreign').purge()).toBe(0)
    expect(await q.queues()).toContain('foreign')
  })
})
