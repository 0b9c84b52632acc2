// A slot moves between masters of a real Redis Cluster while the cache uses it: the client
// meets ASK mid-migration and MOVED after it, and every key stays readable with its value.
import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createCache, type Cache } from '@beaver-kit/cache'
import { keySlot } from '@beaver-kit/cache/redis'
import { startRedisCluster } from '@beaver-kit/testkit/redis-cluster'
import { redisServersAvailable, useRedisProcesses } from '@beaver-kit/testkit/redis-processes'

const withCluster = redisServersAvailable('cache tests')
const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')
const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

interface Master {
  client: Redis
  id: string
  address: string
}

async function masters(): Promise<Master[]> {
  return Promise.all(
    cluster().nodes.map(async (address) => {
      const client = new Redis(Number(address.split(':')[1]), '127.0.0.1')
      opened.push({ close: () => client.quit() })
      return { client, id: (await client.cluster('MYID')) as string, address }
    }),
  )
}

/** The master that serves `slot` now, asked of the cluster itself (CLUSTER SLOTS). */
async function ownerOf(all: Master[], slot: number): Promise<Master> {
  const ranges = (await all[0]?.client.cluster('SLOTS')) ?? []
  const range = ranges.find(([from, to]) => from <= slot && slot <= to)
  const owner = all.find((m) => m.id === range?.[2]?.[2])
  if (owner === undefined) throw new Error(`no master serves slot ${slot}`)
  return owner
}

/** Moves `count` keys of `slot` (all when undefined) from `source` to `target` with MIGRATE. */
async function migrateKeys(source: Master, target: Master, slot: number, count?: number): Promise<number> {
  const keys = (await source.client.cluster('GETKEYSINSLOT', slot, 1000)) as string[]
  const moving = keys.slice(0, count ?? keys.length)
  if (moving.length === 0) return 0
  const [host, port] = target.address.split(':')
  await source.client.migrate(host as string, Number(port), '', 0, 5000, 'KEYS', ...moving)
  return moving.length
}

/** How many ASKING commands `node` has served: the redirections clients followed to it. */
async function asked(node: Master): Promise<number> {
  const stats = await node.client.info('commandstats')
  return Number(/cmdstat_asking:calls=(\d+)/.exec(stats)?.[1] ?? 0)
}

function make(): Cache {
  const c = createCache({
    envPrefix: false,
    driver: 'redis',
    redis: { mode: 'cluster', clusterNodes: cluster().nodes },
    namespace: uniqueNamespace('reshard'),
  })
  opened.push(c)
  return c
}

describe.runIf(withCluster)('redis driver while a real Cluster moves a slot', () => {
  it('follows ASK during the migration and MOVED after it: every key keeps its value, writes land on the new owner', async () => {
    const c = make()
    const all = await masters()
    // `{moving}` is a hash tag: every `{moving}:i` key is in one slot, the one that moves.
    const moving = Array.from({ length: 20 }, (_, i) => `{moving}:${i}`)
    const others = Array.from({ length: 40 }, (_, i) => `spread:${i}`)
    const slot = keySlot(`${c.namespaceName}::{moving}:0`)
    await c.setMany([...moving, ...others].map((key, i) => ({ key, value: i })))
    const source = await ownerOf(all, slot)
    const target = all.find((m) => m !== source) as Master
    expect(Number(await source.client.cluster('COUNTKEYSINSLOT', slot))).toBe(20)

    // Mid-migration: half the slot's keys on the target, half still on the source.
    await target.client.cluster('SETSLOT', slot, 'IMPORTING', source.id)
    await source.client.cluster('SETSLOT', slot, 'MIGRATING', target.id)
    expect(await migrateKeys(source, target, slot, 10)).toBe(10)
    expect(Number(await target.client.cluster('COUNTKEYSINSLOT', slot))).toBe(10)
    const askedBefore = await asked(target)
    for (const [i, key] of moving.entries()) expect(await c.get(key), key).toBe(i)
    // One redirection per key already on the target, none for the keys still on the source.
    expect((await asked(target)) - askedBefore).toBe(10)
    expect(await c.getMany([...moving, ...others])).toEqual([...moving, ...others].map((_, i) => i))
    expect((await asked(target)) - askedBefore).toBe(20)
    await c.set('{moving}:new-during', 'during')
    expect(await c.get('{moving}:new-during')).toBe('during')

    // Finish: the rest of the keys, then the slot is the target's on every node.
    await migrateKeys(source, target, slot)
    for (const m of [target, source, ...all.filter((n) => n !== source && n !== target)]) {
      await m.client.cluster('SETSLOT', slot, 'NODE', target.id)
    }
    expect(Number(await source.client.cluster('COUNTKEYSINSLOT', slot))).toBe(0)
    expect(Number(await target.client.cluster('COUNTKEYSINSLOT', slot))).toBe(21)
    expect((await ownerOf(all, slot)).id).toBe(target.id)

    // After: the cache's slot map is stale until MOVED tells it where the slot went.
    expect(await c.getMany([...moving, ...others])).toEqual([...moving, ...others].map((_, i) => i))
    await c.setMany(moving.map((key, i) => ({ key, value: i * 10 })))
    expect(await c.getMany(moving)).toEqual(moving.map((_, i) => i * 10))
    expect(await c.increment('{moving}:counter', 2)).toBe(2)
    expect(Number(await target.client.cluster('COUNTKEYSINSLOT', slot))).toBe(22)
    expect(await c.deleteMany(moving)).toBe(20)
    expect(Number(await target.client.cluster('COUNTKEYSINSLOT', slot))).toBe(2)
    await c.clear()
  }, 60_000)
})
