import { afterEach, describe, expect, it, vi } from 'vitest'
import { Redis, Cluster } from 'ioredis'
import { eventually, requireService, startFaultProxy, uniqueNamespace } from '@beaver-kit/testkit'
import { createCache, isCacheError, type Cache } from '@beaver-kit/cache'
import { keySlot, redisDriver, RedisStore } from '@beaver-kit/cache/redis'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { startRedisCluster } from '@beaver-kit/testkit/redis-cluster'
import { redisServersAvailable, useRedisProcesses } from '@beaver-kit/testkit/redis-processes'
import { sentinelAnswerWithoutPassword, sentinelEnv, useSentinelSets } from '@beaver-kit/testkit/redis-sentinel'

const url = await requireService('redis')
const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

function make(options: Parameters<typeof createCache>[0] = {}): Cache {
  const c = createCache({
    envPrefix: false,
    driver: 'redis',
    redis: { url },
    namespace: uniqueNamespace('cache'),
    ...options,
  })
  opened.push(c)
  return c
}

describe.runIf(url)('redis standalone', () => {
  describeCacheDriver(
    'redis',
    (ns) => createCache({ envPrefix: false, driver: 'redis', redis: { url }, namespace: ns }),
    { shared: true, increment: true, query: false },
  )
})

describe.runIf(url)('redis driver', () => {
  it('stores a documented format another language can read: <namespace>::<key> holding JSON text, decimal counters, empty = negative', async () => {
    const raw = new Redis(url as string)
    opened.push({ close: () => raw.quit() })
    const c = make()
    const ns = c.namespaceName
    await c.set('user:1', { name: 'Ada', born: new Date('1815-12-10T00:00:00.000Z') }, { ttl: '10m' })
    expect(await raw.get(`${ns}::user:1`)).toBe(
      '{"$t":"beaver","v":{"name":"Ada","born":{"$t":"Date","v":"1815-12-10T00:00:00.000Z"}}}',
    )
    const pttl = await raw.pttl(`${ns}::user:1`)
    expect(pttl).toBeGreaterThan(590_000)
    expect(pttl).toBeLessThanOrEqual(600_000)
    await c.increment('hits', 41)
    await c.increment('hits')
    expect(await raw.get(`${ns}::hits`)).toBe('42')
    await c.getOrSet('missing', () => undefined, { negativeTtl: '1m' })
    expect(await raw.get(`${ns}::missing`)).toBe('')
    await raw.set(`${ns}::written-elsewhere`, '{"from":"python"}')
    expect(await c.get('written-elsewhere')).toEqual({ from: 'python' })
    // JSON another client wrote is plain data, even where it spells a tag of the kit's format.
    await raw.set(`${ns}::foreign-tags`, '{"n":{"$t":"BigInt","v":"12"},"s":{"$t":"Set","v":[1]}}')
    expect(await c.get('foreign-tags')).toEqual({ n: { $t: 'BigInt', v: '12' }, s: { $t: 'Set', v: [1] } })
    await c.namespace('users').set('7', 'x')
    expect(await raw.get(`${ns}:users::7`)).toBe('"x"')
    await c.clear()
    expect(await raw.exists(`${ns}::written-elsewhere`, `${ns}:users::7`, `${ns}::hits`, `${ns}::foreign-tags`)).toBe(0)
  })

  it('reads JSON another client wrote as a plain string through get and getMany (text reads), and keeps bytes for msgpack and raw', async () => {
    const raw = new Redis(url as string)
    opened.push({ close: () => raw.quit() })
    const textReads = vi.spyOn(RedisStore.prototype, 'getManyText')
    const textGets = vi.spyOn(RedisStore.prototype, 'getText')
    try {
      const c = make()
      const ns = c.namespaceName
      await raw.set(`${ns}::py`, '{"from":"python","n":[1,2.5],"ok":true}')
      await raw.set(`${ns}::text`, '"ünïcode ✓ 🦫"')
      await raw.set(
        `${ns}::tagged`,
        '{"$t":"beaver","v":{"at":{"$t":"Date","v":"2024-02-29T12:34:56.789Z"},"price":"$5"}}',
      )
      await raw.set(`${ns}::count`, '42')
      await raw.set(`${ns}::negative`, '')
      const py = { from: 'python', n: [1, 2.5], ok: true }
      expect(await c.get('py')).toEqual(py)
      expect(await c.get('text')).toBe('ünïcode ✓ 🦫')
      expect(textGets).toHaveBeenCalled()
      expect(await c.getMany(['py', 'text', 'missing', 'tagged', 'count', 'negative', 'py'])).toEqual([
        py,
        'ünïcode ✓ 🦫',
        undefined,
        { at: new Date('2024-02-29T12:34:56.789Z'), price: '$5' },
        42,
        undefined,
        py,
      ])
      expect(textReads).toHaveBeenCalledTimes(1)
      expect(c.stats()).toMatchObject({ hits: 6, misses: 2 })

      // msgpack and raw need the bytes: bytes that are not UTF-8 survive a batch read unchanged.
      const binary = Uint8Array.from([0xff, 0x00, 0xc3, 0x28, 0x80, 0xfe])
      const mp = make({ serializer: 'msgpack' })
      await mp.setMany<unknown>([
        { key: 'bin', value: binary },
        { key: 'obj', value: { b: binary, n: 1 } },
      ])
      const [bin, obj] = await mp.getMany<Uint8Array | { b: Uint8Array; n: number }>(['bin', 'obj'])
      expect(Buffer.from(bin as Uint8Array)).toEqual(Buffer.from(binary))
      expect(Buffer.from((obj as { b: Uint8Array }).b)).toEqual(Buffer.from(binary))
      expect((obj as { n: number }).n).toBe(1)
      const rawBytes = make({ serializer: 'raw' })
      await rawBytes.setMany([{ key: 'bin', value: Buffer.from(binary) }])
      await raw.set(`${rawBytes.namespaceName}::elsewhere`, Buffer.from([0xc0, 0xaf]))
      expect(await rawBytes.getMany(['bin', 'elsewhere', 'missing'])).toEqual([
        Buffer.from(binary),
        Buffer.from([0xc0, 0xaf]),
        undefined,
      ])
      expect(await raw.getBuffer(`${rawBytes.namespaceName}::bin`)).toEqual(Buffer.from(binary))
      // Only the json cache asked for text.
      expect(textReads).toHaveBeenCalledTimes(1)
      await Promise.all([c.clear(), mp.clear(), rawBytes.clear()])
    } finally {
      textReads.mockRestore()
      textGets.mockRestore()
    }
  })

  it('reuses a client passed in and never closes it', async () => {
    const client = new Redis(url as string)
    const c = createCache({
      envPrefix: false,
      driver: redisDriver,
      redis: { client },
      namespace: uniqueNamespace('cache'),
    })
    await c.set('k', 1)
    await c.close()
    await c.close()
    expect(await client.ping()).toBe('PONG')
    const again = createCache({ envPrefix: false, driver: 'redis', redis: { client }, namespace: c.namespaceName })
    expect(await again.get('k')).toBe(1)
    await again.clear()
    await again.close()
    expect(client.status).toBe('ready')
    await client.quit()
  })

  it('clear() unlinks only its namespace, page by page, and refuses to run without one', async () => {
    const raw = new Redis(url as string)
    opened.push({ close: () => raw.quit() })
    const c = make({ redis: { url, clearBatch: 7 } })
    const ns = c.namespaceName
    await c.setMany(Array.from({ length: 100 }, (_, i) => ({ key: `k${i}`, value: i })))
    await raw.set(`${ns}-sibling::k`, 'keep', 'PX', 60_000)
    await raw.set(`${ns}k0`, 'keep', 'PX', 60_000)
    expect(await raw.exists(`${ns}::k0`, `${ns}::k99`)).toBe(2)
    await c.clear()
    expect(await raw.exists(`${ns}::k0`, `${ns}::k99`)).toBe(0)
    expect(await raw.get(`${ns}-sibling::k`)).toBe('keep')
    expect(await raw.get(`${ns}k0`)).toBe('keep')
    await raw.del(`${ns}-sibling::k`, `${ns}k0`)
    const unscoped = make({ namespace: '' })
    await expect(unscoped.clear()).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CLEAR_UNSCOPED'))
  })

  it('a connection dropped mid-batch gives an error or a retried success, never a wrong or partial value', async () => {
    const target = new URL(url as string)
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) || 6379 } })
    opened.push(proxy)
    const c = make({ redis: { url: proxy.url(url as string), maxRetriesPerRequest: 2 } })
    const keys = Array.from({ length: 200 }, (_, i) => `big:${i}`)
    const values = keys.map((k, i) => ({ k, payload: `${i}:`.padEnd(4000, String.fromCharCode(97 + (i % 26))) }))
    await c.setMany(
      keys.map((key, i) => ({ key, value: values[i] })),
      { ttl: '5m' },
    )
    const outcomes: string[] = []
    for (const cut of [500, 90_000, 400_000, 700_000]) {
      proxy.closeAfter(cut)
      const connectionsBefore = proxy.connections
      let settled = false
      const pending = c.getMany(keys)
      pending.then(
        () => (settled = true),
        () => (settled = true),
      )
      // Let the cut happen (the client reconnects) or the call settle, then heal so a resent
      // command may succeed.
      await eventually(() => settled || proxy.connections > connectionsBefore, { timeoutMs: 10_000 })
      proxy.closeAfter(undefined)
      try {
        const got = await pending
        expect(got).toEqual(values)
        outcomes.push('retried success')
      } catch (err) {
        expect(isCacheError(err, 'CACHE_CONNECTION'), String(err)).toBe(true)
        outcomes.push('error')
      }
    }
    expect(proxy.connections).toBeGreaterThan(1)
    expect(outcomes).toHaveLength(4)
    expect(await c.getMany(keys)).toEqual(values)
    await c.clear()
  })

  it('creating a cache does no I/O: no connection until ready() or the first call', async () => {
    const target = new URL(url as string)
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) || 6379 } })
    opened.push(proxy)
    const c = make({ redis: { url: proxy.url(url as string) } })
    const scoped = c.namespace('child')
    await new Promise((resolve) => setImmediate(resolve))
    expect(proxy.connections).toBe(0)
    expect(proxy.bytesFromClients).toBe(0)
    await c.ready()
    expect(proxy.connections).toBe(1)
    await scoped.set('k', 1)
    expect(await scoped.get('k')).toBe(1)
    // Namespaces share the one connection.
    expect(proxy.connections).toBe(1)
    await c.clear()
  })

  it('an unreachable server fails with CACHE_CONNECTION, and ready() fails fast', async () => {
    const target = new URL(url as string)
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) || 6379 } })
    opened.push(proxy)
    await proxy.refuse()
    const c = make({ redis: { url: proxy.url(url as string), maxRetriesPerRequest: 0, connectTimeout: 500 } })
    await expect(c.get('x')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CONNECTION'))
    await expect(c.ready()).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_CONNECTION'))
    expect(c.stats().errors).toBeGreaterThanOrEqual(1)
    await proxy.accept()
    await eventually(
      async () => {
        await c.set('x', 'back')
        expect(await c.get('x')).toBe('back')
      },
      { timeoutMs: 10_000 },
    )
    await c.clear()
  })

  it('honours an abort signal while waiting', async () => {
    const target = new URL(url as string)
    const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) || 6379 } })
    opened.push(proxy)
    const c = make({ redis: { url: proxy.url(url as string) } })
    await c.ready()
    proxy.pause()
    const controller = new AbortController()
    const pending = c.get('slow', { signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(pending).rejects.toThrow('gave up')
    proxy.resume()
  })
})

const withCluster = redisServersAvailable('cache tests')
const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')

describe.runIf(withCluster)('redis cluster (three real nodes)', () => {
  describeCacheDriver(
    'redis cluster',
    (ns) =>
      createCache({
        envPrefix: false,
        driver: 'redis',
        redis: { mode: 'cluster', clusterNodes: cluster().nodes },
        namespace: ns,
      }),
    { shared: true, increment: true, query: false },
  )
})

describe.runIf(withCluster)('redis driver on a real three-node Cluster', () => {
  it('batches spanning slots and nodes: getMany/setMany/deleteMany and clear() on every master', async () => {
    const nodes = cluster().nodes
    const c = createCache({
      envPrefix: false,
      driver: 'redis',
      redis: { mode: 'cluster', clusterNodes: nodes },
      namespace: uniqueNamespace('cache'),
    })
    opened.push(c)
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
    const slots = new Set(keys.map((k) => keySlot(`${c.namespaceName}::${k}`)))
    expect(slots.size).toBeGreaterThan(100)
    await c.setMany(keys.map((key, i) => ({ key, value: i })))
    expect(await c.getMany([...keys, 'missing', 'k0'])).toEqual([...keys.map((_, i) => i), undefined, 0])
    const raw = new Cluster(nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })))
    opened.push({ close: () => raw.quit() })
    await raw.ping()
    await eventually(() => raw.nodes('master').length === 3)
    const perNode = await Promise.all(raw.nodes('master').map((n) => n.dbsize()))
    expect(perNode.filter((n) => n > 0)).toHaveLength(3)
    expect(await c.deleteMany(keys.slice(0, 150))).toBe(150)
    await c.clear()
    expect(await c.getMany(keys)).toEqual(keys.map(() => undefined))
    expect((await Promise.all(raw.nodes('master').map((n) => n.dbsize()))).reduce((a, b) => a + b, 0)).toBe(0)
  })

  it('computes hash slots like Redis (CLUSTER KEYSLOT), hash tags included', async () => {
    const [first] = cluster().nodes
    const raw = new Redis(Number((first as string).split(':')[1]), '127.0.0.1')
    opened.push({ close: () => raw.quit() })
    for (const key of ['a', 'user:1', '{user}:1', 'x{}y', 'ключ🦫', 'foo{bar}{zap}']) {
      expect(keySlot(key), key).toBe(await raw.cluster('KEYSLOT', key))
    }
  })
})

const sentinelPassword = 'sentinel-pw-of-the-cache-tests'
const { open: sentinel, guarded } = useSentinelSets(withCluster, sentinelPassword)

describe.runIf(withCluster)('redis driver through Sentinel (a real master and sentinel)', () => {
  it('finds the master through the sentinel from env-style options alone', async () => {
    const handle = sentinel()
    const c = createCache({
      envPrefix: false,
      driver: 'redis',
      redis: { mode: 'sentinel', sentinels: [handle.sentinel], sentinelName: handle.name },
      namespace: uniqueNamespace('cache'),
    })
    opened.push(c)
    await c.ready()
    await c.setMany<unknown>([
      { key: 'a', value: { via: 'sentinel' } },
      { key: 'b', value: 2 },
    ])
    expect(await c.getMany(['a', 'b', 'c'])).toEqual([{ via: 'sentinel' }, 2, undefined])
    expect(await c.increment('n', 3)).toBe(3)
    await c.clear()
    expect(await c.get('a')).toBeUndefined()
  })

  it("takes the sentinels' own password from BEAVER_CACHE_REDIS_SENTINEL_PASSWORD, and never shows it", async () => {
    const handle = guarded()
    expect(await sentinelAnswerWithoutPassword(handle)).toMatch(/^NOAUTH/)
    const c = createCache({
      env: { BEAVER_CACHE_DRIVER: 'redis', ...sentinelEnv('BEAVER_CACHE_', handle, sentinelPassword) },
      namespace: uniqueNamespace('cache'),
    })
    opened.push(c)
    expect(JSON.stringify(c.describe())).not.toContain(sentinelPassword)
    await c.ready()
    await c.set('a', { via: 'a guarded sentinel' })
    expect(await c.get('a')).toEqual({ via: 'a guarded sentinel' })
    await c.clear()
  })

  it('refuses mode sentinel without sentinels', async () => {
    const c = createCache({ envPrefix: false, driver: 'redis', redis: { mode: 'sentinel' } })
    opened.push(c)
    await expect(c.get('x')).rejects.toSatisfy((e: unknown) => isCacheError(e, 'CACHE_OPTIONS_INVALID'))
  })
})
