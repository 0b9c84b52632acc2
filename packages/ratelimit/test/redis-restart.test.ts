// Redis restarted mid-test: a private redis-server (never the shared one) with an fsync'd
// append-only file, killed with SIGKILL and started again on the same port and directory.
// While it is away each limiter follows its failure policy; once it is back, the counters
// written before the crash are all there.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { eventually, requireService } from '@beaver-kit/testkit'
import { channels, createLimiter, RedisStore } from '@beaver-kit/ratelimit'

const SERVER = process.env.BEAVER_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'
const redis = await requireService('redis') // redis-server comes with the service
const dir = mkdtempSync(join(tmpdir(), 'beaver-rl-restart-'))
let server: ChildProcess | undefined
afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL')
    await once(server, 'exit')
  }
  rmSync(dir, { recursive: true, force: true })
})

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

/** Starts redis-server on `port` with an append-only file fsync'd on every write; resolves once it answers. */
async function startRedis(port: number): Promise<void> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '']
  server = spawn(SERVER, [...args, '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: 'ignore' })
  const probe = new Redis({ port, lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null })
  probe.on('error', () => undefined)
  try {
    await eventually(
      async () => {
        if (probe.status !== 'ready') await probe.connect().catch(() => undefined)
        return ((await probe.ping().catch(() => undefined)) === 'PONG' && (await loaded(probe))) || false
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    )
  } finally {
    probe.disconnect()
  }
}

/** True once the server finished loading its append-only file (it answers LOADING before). */
async function loaded(probe: Redis): Promise<boolean> {
  const info = await probe.info('persistence').catch(() => '')
  return info.includes('loading:0')
}

async function killRedis(): Promise<void> {
  const s = server as ChildProcess
  s.kill('SIGKILL')
  await once(s, 'exit')
}

describe.runIf(redis)('Redis restarted mid-test (a private redis-server)', () => {
  it(
    'open limiters decide from insurance, closed ones refuse, and nothing is lost once Redis returns',
    { timeout: 90_000 },
    async () => {
      const port = await freePort()
      await startRedis(port)
      const url = `redis://127.0.0.1:${port}`
      const rule = { envPrefix: false, algorithm: 'token-bucket', limit: 10, window: '1d', timeout: '2s' } as const
      const openStore = new RedisStore({ url, timeoutMs: 2000 })
      const closedStore = new RedisStore({ url, timeoutMs: 2000 })
      await using open = createLimiter({ ...rule, namespace: 'restart', failPolicy: 'open', storeInstance: openStore })
      await using closed = createLimiter({
        ...rule,
        namespace: 'restart',
        failPolicy: 'closed',
        storeInstance: closedStore,
      })
      const errors: unknown[] = []
      const listen = (m: unknown): void => void errors.push(m)
      channels.storeError.subscribe(listen)
      try {
        for (let i = 0; i < 4; i++) expect((await open.limit('k')).source).toBe('store')
        expect(await closed.limit('k')).toMatchObject({ source: 'store', remaining: 5 })

        await killRedis()
        const during = await open.limit('k')
        expect(during).toMatchObject({ allowed: true, source: 'insurance' })
        expect(await closed.limit('k')).toMatchObject({ allowed: false, source: 'unavailable' })
        expect(errors.length).toBeGreaterThanOrEqual(2)
        expect(errors).toContainEqual(expect.objectContaining({ store: 'redis', policy: 'open' }))
        expect(errors).toContainEqual(expect.objectContaining({ store: 'redis', policy: 'closed' }))

        await startRedis(port)
        // Back on the store, the five units taken before the crash are still taken.
        const back = await eventually(
          async () => {
            const d = await closed.limit('k')
            return d.source === 'store' ? d : false
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        )
        expect(back).toMatchObject({ allowed: true, remaining: 4 })
        const reopened = await eventually(
          async () => {
            const d = await open.limit('k')
            return d.source === 'store' ? d : false
          },
          { timeoutMs: 30_000, intervalMs: 100 },
        )
        expect(reopened).toMatchObject({ allowed: true, remaining: 3 })
      } finally {
        channels.storeError.unsubscribe(listen)
        await openStore.close()
        await closedStore.close()
      }
    },
  )
})
