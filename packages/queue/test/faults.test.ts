import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { channels, createQueue, isQueueError } from '@beaver-kit/queue'
import { startOwnRedis } from './support/servers.ts'

const dir = mkdtempSync(join(tmpdir(), 'beaver-queue-faults-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const pg = await requireService('postgres')

describe('redis faults (own redis-server)', () => {
  it('refuses to start on an evicting maxmemory-policy, naming the fix', async () => {
    const server = await startOwnRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'])
    try {
      await using q = createQueue({ driver: 'redis', redis: { url: server.url }, envPrefix: false })
      const error = await q.ready().catch((e: unknown) => e)
      expect(isQueueError(error, 'QUEUE_EVICTION_POLICY')).toBe(true)
      expect((error as Error).message).toContain('noeviction')
    } finally {
      await server.stop()
    }
  })

  it('pauses while Redis restarts and resumes without losing a message', async () => {
    const server = await startOwnRedis()
    const aof = await (async () => {
      await server.stop()
      const { OwnRedis } = await import('./support/servers.ts')
      return new OwnRedis(server.port, [
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--dir',
        dir,
      ]).start()
    })()
    const events: string[] = []
    const onConnection = (m: unknown): void => void events.push((m as { state: string }).state)
    channels.connection.subscribe(onConnection)
    try {
      await using q = createQueue({
        driver: 'redis',
        redis: { url: aof.url },
        envPrefix: false,
        pollInterval: '200ms',
        namespace: uniqueNamespace('qf'),
      })
      const seen = new Set<unknown>()
      const c = await q.consume('restart', (m) => void seen.add(m.payload), { concurrency: 4 })
      await q.publishBatch(
        'restart',
        Array.from({ length: 50 }, (_, i) => ({ payload: i })),
      )
      await eventually(() => expect(seen.size).toBe(50), { timeoutMs: 10_000 })
      await aof.stop()
      await eventually(() => expect(events).toContain('lost'), { timeoutMs: 10_000 })
      await aof.start()
      await q.publishBatch(
        'restart',
        Array.from({ length: 50 }, (_, i) => ({ payload: 50 + i })),
      )
      await eventually(() => expect(seen.size).toBe(100), { timeoutMs: 20_000 })
      expect(events).toContain('restored')
      await c.close()
    } finally {
      channels.connection.unsubscribe(onConnection)
      await aof.stop()
    }
  })
})

describe.runIf(pg)('postgres behind the fault proxy', () => {
  it('resumes consumption after dropped and reset connections, losing nothing', async () => {
    const u = new URL(pg as string)
    const proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port) || 5432 } })
    try {
      await using q = createQueue({
        driver: 'postgres',
        db: { url: proxy.url(pg as string) },
        envPrefix: false,
        pollInterval: '100ms',
        namespace: uniqueNamespace('qf'),
      })
      const seen = new Set<unknown>()
      const c = await q.consume('proxy', (m) => void seen.add(m.payload), { concurrency: 4 })
      await q.publishBatch(
        'proxy',
        Array.from({ length: 40 }, (_, i) => ({ payload: i })),
      )
      await eventually(() => expect(seen.size).toBe(40), { timeoutMs: 10_000 })
      proxy.resetAll()
      await q
        .publishBatch(
          'proxy',
          Array.from({ length: 40 }, (_, i) => ({ payload: 40 + i })),
        )
        .catch(async () => {
          // The publish may have hit a reset connection: retried on a fresh one, with the same ids it stays once.
          await q.publishBatch(
            'proxy',
            Array.from({ length: 40 }, (_, i) => ({ payload: 40 + i, id: `p-${i}` })),
          )
        })
      await eventually(() => expect(seen.size).toBe(80), { timeoutMs: 20_000 })
      proxy.pause()
      await new Promise((r) => setTimeout(r, 300))
      proxy.resume()
      await q.publish('proxy', 'after-pause')
      await eventually(() => expect(seen.has('after-pause')).toBe(true), { timeoutMs: 20_000 })
      await c.close()
    } finally {
      await proxy.close()
    }
  })
})
