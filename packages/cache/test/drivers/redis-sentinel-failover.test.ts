// A real Sentinel failover under the cache: a master, one replica and three sentinels; the
// master is handed over (SENTINEL FAILOVER) or lost (shut down); the cache follows the sentinels
// to the promoted replica, and the writes the replica had acknowledged (WAIT) are still there.
import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { eventually, uniqueNamespace } from '@beaver-kit/testkit'
import { createCache, isCacheError, type Cache } from '@beaver-kit/cache'
import { CLI, redisServersAvailable, run } from '@beaver-kit/testkit/redis-processes'
import { masterAddress, startRedisSentinel, type RedisSentinelHandle } from '@beaver-kit/testkit/redis-sentinel'

const withRedisServer = redisServersAvailable('cache tests')
const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

async function topology(): Promise<RedisSentinelHandle> {
  const handle = await startRedisSentinel({ replicas: 1, sentinels: 3, downAfterMs: 1000 })
  opened.push({ close: () => handle.stop() })
  return handle
}

function raw(port: number): Redis {
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  opened.push({ close: () => client.disconnect() })
  return client
}

function cacheOn(handle: RedisSentinelHandle, namespace: string): Cache {
  const c = createCache({
    envPrefix: false,
    driver: 'redis',
    redis: { mode: 'sentinel', sentinels: handle.sentinels, sentinelName: handle.name },
    namespace,
  })
  opened.push(c)
  return c
}

/**
 * Writes and reads through the cache until a round trip succeeds on the new master; the
 * failures on the way must be connection failures (a lost or read-only master), nothing else.
 */
async function untilServed(c: Cache, key: string): Promise<unknown[]> {
  const failures: unknown[] = []
  await eventually(
    async () => {
      try {
        await c.set(key, 'after')
        return (await c.get(key)) === 'after'
      } catch (err) {
        failures.push(err)
        throw err
      }
    },
    { timeoutMs: 45_000, intervalMs: 100 },
  )
  return failures
}

/** `master` or `slave`, from a fresh redis-cli connection (a demoted master closes its clients). */
async function role(port: number): Promise<string | undefined> {
  return (await run(CLI, ['-p', String(port), 'role'])).stdout.split('\n')[0]
}

const port = (address: string): number => Number(address.split(':')[1])

describe.runIf(withRedisServer)('redis driver through a real Sentinel failover (master, replica, 3 sentinels)', () => {
  it.each([
    ['handed over with SENTINEL FAILOVER', 'failover'],
    ['shut down without saving', 'shutdown'],
  ] as const)(
    'follows the promoted replica when the master is %s; replicated writes survive',
    async (_, how) => {
      const handle = await topology()
      const [masterPort, replicaPort] = handle.dataPorts as [number, number]
      const c = cacheOn(handle, uniqueNamespace('failover'))
      const entries = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: { i } }))
      await c.setMany(entries)
      expect(await c.increment('counter', 5)).toBe(5)
      // Acknowledged by the replica before the master goes: these must survive the failover.
      // WAIT counts a client's own writes, so this client writes a marker after the cache's
      // (replication is in order) and waits for the replica to have it.
      const master = raw(masterPort)
      await master.set(`${c.namespaceName}::marker`, '1')
      expect(await master.call('WAIT', 1, 5000)).toBe(1)
      master.disconnect()

      const sentinelPort = port(handle.sentinel)
      if (how === 'failover') await run(CLI, ['-p', String(sentinelPort), 'sentinel', 'failover', handle.name])
      else await run(CLI, ['-p', String(masterPort), 'shutdown', 'nosave'])
      await eventually(async () => (await masterAddress(sentinelPort, handle.name)) === `127.0.0.1:${replicaPort}`, {
        timeoutMs: 30_000,
        intervalMs: 100,
      })
      if (how === 'failover') {
        // Until Sentinel turns the old master into a replica (and kills its clients) it still takes
        // writes, which the resync then drops: Redis replication is asynchronous, and only what a
        // replica acknowledged (WAIT above) is promised to survive. Wait for the demotion.
        await eventually(async () => (await role(masterPort)) === 'slave', {
          timeoutMs: 30_000,
          intervalMs: 100,
        })
      }

      const failures = await untilServed(c, 'written-after')
      for (const err of failures)
        expect(isCacheError(err, 'CACHE_CONNECTION') || isCacheError(err, 'CACHE_DRIVER'), String(err)).toBe(true)
      expect(await c.getMany(entries.map((e) => e.key))).toEqual(entries.map((e) => e.value))
      expect(await c.increment('counter', 1)).toBe(6)
      // The promoted replica is the one serving: it is a master now and holds what was written after.
      expect(await role(replicaPort)).toBe('master')
      const promoted = raw(replicaPort)
      expect(await promoted.exists(`${c.namespaceName}::written-after`)).toBe(1)
      await c.clear()
    },
    90_000,
  )
})
