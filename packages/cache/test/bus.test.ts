import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import dc from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createCache, type Cache } from '@beaver-kit/cache'
import { redisKey } from '../src/drivers/redis.ts'
import { internalNamespace } from '../src/tiered/tags.ts'
import { createRedisBus } from '../src/bus/redis.ts'
import type { InvalidationMessage } from '../src/bus/bus.ts'

const url = await requireService('redis')
const childScript = fileURLToPath(new URL('./fixtures/child.ts', import.meta.url))

/** Memory over the shared Redis, with the bus on `channel`. */
function overRedis(namespace: string, channel: string): Cache {
  return createCache({
    envPrefix: false,
    namespace,
    driver: 'tiered',
    tiered: { tiers: ['memory', 'redis'], bus: 'redis', busChannel: channel },
    redis: { url },
  })
}

interface Child {
  call(op: string, args?: Record<string, unknown>): Promise<unknown>
  /** Sends without waiting for the answer. */
  start(op: string, args?: Record<string, unknown>): Promise<unknown>
  stop(): Promise<void>
}

function spawnChild(): Child {
  const proc: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    ['--conditions=@beaver-kit/source', childScript],
    { stdio: 'pipe' },
  )
  let stderr = ''
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let next = 1
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const msg = JSON.parse(line) as { id: number; result: unknown; error?: string }
    const w = waiting.get(msg.id)
    waiting.delete(msg.id)
    if (msg.error) w?.reject(new Error(`child: ${msg.error}`))
    else w?.resolve(msg.result)
  })
  proc.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`child exited with ${code}: ${stderr}`))
    waiting.clear()
  })
  const start = (op: string, args: Record<string, unknown> = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = next++
      waiting.set(id, { resolve, reject })
      proc.stdin.write(`${JSON.stringify({ id, op, ...args })}\n`)
    })
  return {
    call: start,
    start,
    async stop() {
      if (proc.exitCode !== null) return
      const exited = new Promise((r) => proc.once('exit', r))
      await start('close').catch(() => undefined)
      await exited
    },
  }
}

describe.runIf(url)('two processes sharing memory+redis tiers over the Redis bus', () => {
  let child: Child
  let cache: Cache
  let ns: string
  let channel: string
  let redis: Redis

  beforeEach(async () => {
    ns = uniqueNamespace('bus')
    channel = `beaver:test:${ns}`
    redis = new Redis(url as string)
    cache = overRedis(ns, channel)
    await cache.ready()
    child = spawnChild()
    expect(await child.call('init', { url, ns, channel })).toBe('ok')
  })

  afterEach(async () => {
    await child.stop()
    await cache.clear()
    await cache.close()
    redis.disconnect()
  })

  it('a set or delete in one process evicts the key from the other process memory tier', async () => {
    await cache.set('k', 1)
    expect(await child.call('get', { key: 'k' })).toBe(1)
    // Now the child answers from its memory tier.
    expect(await child.call('top', { key: 'k' })).toEqual({ value: 1, fromTop: true })
    await cache.set('k', 2)
    // Without the bus the child's memory tier would keep answering 1 for an hour.
    await eventually(async () => expect(((await child.call('top', { key: 'k' })) as { value: unknown }).value).toBe(2))
    await cache.delete('k')
    await eventually(async () => expect(await child.call('get', { key: 'k' })).toBeNull())
  })

  it('clear() in one process empties the namespace (and nested ones) in the other, and nothing else', async () => {
    await child.call('set', { key: 'x', value: 'from child' })
    const nested = cache.namespace('nested')
    await nested.set('y', 'nested value')
    const sibling = overRedis(`${ns}-sibling`, channel)
    await sibling.set('x', 'sibling value')
    expect(await cache.get('x')).toBe('from child')
    const topHits = (): number | undefined => cache.stats().tiers?.tiers[0]?.totals.hits
    const before = topHits() as number
    expect(await cache.get('x')).toBe('from child')
    // That second read came from our memory tier.
    expect(topHits()).toBe(before + 1)
    expect(await child.call('clear')).toBe('ok')
    // Without the bus our memory tier would keep serving x.
    await eventually(async () => expect(await cache.get('x')).toBeUndefined())
    expect(await nested.get('y')).toBeUndefined()
    expect(await sibling.get('x')).toBe('sibling value')
    await sibling.clear()
    await sibling.close()
  })

  it('tags invalidated in one process are honoured by the other (hard and soft)', async () => {
    await cache.set('a', 'A', { tags: ['team:1'], grace: '1h' })
    await cache.set('b', 'B', { tags: ['team:2'], grace: '1h' })
    expect(await child.call('get', { key: 'a' })).toBe('A')
    expect(await child.call('get', { key: 'b' })).toBe('B')
    await cache.invalidateTags(['team:1'])
    await eventually(async () => expect(await child.call('get', { key: 'a' })).toBeNull())
    expect(await child.call('get', { key: 'b' })).toBe('B')
    await child.call('invalidateTags', { tags: ['team:2'], mode: 'soft' })
    await eventually(async () => expect(await cache.get('b')).toBeUndefined())
    // Soft: still served within grace when the loader fails.
    expect(await cache.getOrSet('b', () => Promise.reject(new Error('down')), { staleWhileRevalidate: false })).toBe(
      'B',
    )
  })

  it('distributed single-flight: two processes, one loader call for a cold key', async () => {
    const counter = `${ns}:calls`
    const release = `${ns}:release`
    const loader = async (): Promise<string> => {
      await redis.incr(counter)
      await eventually(async () => (await redis.get(release)) === '1', { timeoutMs: 20_000 })
      return `loaded by ${process.pid}`
    }
    const inParent = cache.getOrSet('cold', loader, { ttl: '1m' })
    const inChild = child.start('getOrSet', { key: 'cold', counter, release })
    // The lease counter reaches 2 once the second process tried to take the lease and waits.
    const leaseKey = redisKey(internalNamespace(ns, 'lease'), 'cold')
    await eventually(async () => expect(Number(await redis.get(leaseKey))).toBeGreaterThanOrEqual(2), {
      timeoutMs: 10_000,
    })
    await redis.set(release, '1', 'PX', 60_000)
    const [a, b] = await Promise.all([inParent, inChild])
    expect(a).toBe(b)
    expect(await redis.get(counter)).toBe('1')
    await redis.del(counter, release)
  })
})

describe.runIf(url)('a bus with a key only takes signed messages', () => {
  it('delivers messages signed with the shared key and drops unsigned, forged and other-key ones, counted', async () => {
    const channel = `beaver:test:${uniqueNamespace('signed')}`
    const buses = {
      sender: createRedisBus({ url, channel, key: 'shared secret' }),
      receiver: createRedisBus({ url, channel, key: 'shared secret' }),
      unkeyed: createRedisBus({ url, channel }),
      otherKey: createRedisBus({ url, channel, key: 'another secret' }),
    }
    const raw = new Redis(url as string)
    const received: InvalidationMessage[] = []
    const dropped: unknown[] = []
    const onBus = (m: unknown): void => void dropped.push((m as { event: string }).event)
    dc.subscribe('beaver:cache:bus', onBus)
    try {
      await Promise.all(Object.values(buses).map((b) => b.ready()))
      buses.receiver.subscribe((m) => received.push(m))
      await buses.unkeyed.publish({ kind: 'clear', namespace: 'unsigned' })
      await buses.otherKey.publish({ kind: 'clear', namespace: 'other-key' })
      const forged = JSON.stringify({ o: 'x', m: { kind: 'clear', namespace: 'forged' }, s: 'A'.repeat(43) })
      await raw.publish(channel, forged)
      await raw.publish(channel, JSON.stringify({ o: 'x', m: { kind: 'clear', namespace: 'no-signature' } }))
      await buses.sender.publish({ kind: 'delete', namespace: 'signed', keys: ['k'] })
      await eventually(() => received.length === 1 && buses.receiver.rejected === 4)
      expect(received).toEqual([{ kind: 'delete', namespace: 'signed', keys: ['k'] }])
      expect(dropped.filter((e) => e === 'rejected').length).toBeGreaterThanOrEqual(4)
      // Without a key a bus takes any well-formed message (the default, for trusted networks).
      expect(buses.unkeyed.rejected).toBe(0)
    } finally {
      dc.unsubscribe('beaver:cache:bus', onBus)
      for (const b of Object.values(buses)) await b.close()
      raw.disconnect()
    }
  })
})
