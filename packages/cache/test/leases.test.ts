import { describe, expect, it } from 'vitest'
import { createCache, defineCacheDriver, type Cache, type CacheDriver, type EntryRead } from '@beaver-kit/cache'

/**
 * A driver with grace entries and a lease, over a store two cache instances share (standing in
 * for two processes over one Redis), with a hook after each `getEntry`'s read so a test can make the other
 * "process" act at an exact point of the waiting one.
 */
function sharedStore(): {
  define: (onGetEntry?: (call: number) => Promise<void>) => ReturnType<typeof defineCacheDriver>
  lease: { held: boolean }
} {
  const entries = new Map<string, EntryRead>()
  const lease = { held: false }
  const define = (onGetEntry?: (call: number) => Promise<void>): ReturnType<typeof defineCacheDriver> => {
    let getEntryCalls = 0
    return defineCacheDriver({
      name: 'shared-fake',
      peers: [],
      create(): CacheDriver {
        return {
          name: 'shared-fake',
          capabilities: {
            values: 'bytes',
            sync: false,
            batch: false,
            atomicIncrement: false,
            query: false,
            grace: true,
            leases: true,
          },
          get: async (ns, key) => entries.get(`${ns}|${key}`)?.value,
          set: async (ns, key, value) =>
            void entries.set(`${ns}|${key}`, { value: value as Uint8Array, stale: false, createdAt: Date.now() }),
          delete: async (ns, key) => entries.delete(`${ns}|${key}`),
          clear: async () => entries.clear(),
          close: () => undefined,
          getEntry: async (ns, key) => {
            const entry = entries.get(`${ns}|${key}`)
            // The hook acts after the read: what it does is not in this answer.
            await onGetEntry?.(++getEntryCalls)
            return entry
          },
          setEntry: async (ns, key, value) =>
            void entries.set(`${ns}|${key}`, { value, stale: false, createdAt: Date.now() }),
          acquireLease: async () => {
            if (lease.held) return false
            lease.held = true
            return true
          },
          releaseLease: async () => {
            lease.held = false
          },
        }
      },
    })
  }
  return { define, lease }
}

describe('the cross-process lease of a cold key', () => {
  it('a waiter that takes the lease just after the holder wrote and let it go answers the written value, not a second load', async () => {
    const store = sharedStore()
    const holder: Cache = createCache({ envPrefix: false, namespace: 'n', driver: store.define() })
    // The holder's load is in flight: it took the lease.
    store.lease.held = true
    let loads = 0
    // Right after the waiter's second look for an entry (its first read, then its first look
    // while it waits on the lease), the holder writes and releases, so the waiter's next try
    // takes the free lease.
    const waiter: Cache = createCache({
      envPrefix: false,
      namespace: 'n',
      driver: store.define(async (call) => {
        if (call !== 2) return
        await holder.set('cold', 'loaded by the holder', { ttl: '1m' })
        store.lease.held = false
      }),
    })
    const got = await waiter.getOrSet('cold', () => {
      loads++
      return 'loaded by the waiter'
    })
    expect(got).toBe('loaded by the holder')
    expect(loads).toBe(0)
    // The lease it took only to find the value is given back.
    expect(store.lease.held).toBe(false)
    await Promise.all([holder.close(), waiter.close()])
  })

  it('a waiter that takes the lease after it lapsed with nothing written loads the key itself, once', async () => {
    const store = sharedStore()
    store.lease.held = true
    let loads = 0
    const waiter = createCache({
      envPrefix: false,
      namespace: 'n',
      driver: store.define(async (call) => {
        // The holder died without writing: its lease lapses while the waiter waits.
        if (call === 2) store.lease.held = false
      }),
    })
    expect(await waiter.getOrSet('cold', () => ++loads)).toBe(1)
    expect(loads).toBe(1)
    expect(await waiter.get('cold')).toBe(1)
    expect(store.lease.held).toBe(false)
    await waiter.close()
  })
})
