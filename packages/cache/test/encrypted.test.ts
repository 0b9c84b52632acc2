import { afterEach, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { describeCacheDriver } from '@beaver-kit/testkit/cache'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { isBeaverError } from '@beaver-kit/core'
import { createKeyRing, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createCache, type Cache, type CacheDriverDefinition } from '@beaver-kit/cache'
import { MemoryStore } from '../src/drivers/memory.ts'
import { EncryptedDriver } from '../src/encrypted/driver.ts'

const url = await requireService('redis')
const keyA = generateKeyRingEntry('a')
const keyB = generateKeyRingEntry('b')

function serializedMemory(): MemoryStore {
  return new MemoryStore({ maxItems: 10_000, sweepInterval: 0 }, { storage: 'serialized', onEvict: () => undefined })
}

function over(driver: EncryptedDriver, ns: string): Cache {
  return createCache({
    envPrefix: false,
    namespace: ns,
    driver: { name: driver.name, peers: [], create: () => driver } as CacheDriverDefinition<never>,
  })
}

describeCacheDriver(
  'encrypted(memory)',
  (ns) => over(new EncryptedDriver({ inner: serializedMemory(), ownsInner: true, ring: createKeyRing(keyA) }), ns),
  {
    shared: false,
    increment: false,
    query: false,
  },
)

describe.runIf(url)('encrypted over real Redis', () => {
  describeCacheDriver(
    'encrypted(redis)',
    (ns) =>
      createCache({
        envPrefix: false,
        namespace: ns,
        redis: { url },
        driver: 'encrypted',
        encryption: { inner: 'redis', keys: keyA },
      }),
    { shared: true, increment: false, query: false },
  )

  let redis: Redis | undefined
  let cache: Cache | undefined
  afterEach(async () => {
    await cache?.clear()
    await cache?.close()
    redis?.disconnect()
    cache = redis = undefined
  })

  it('stores neither plaintext keys nor plaintext values, and detects tampering and swapped values as CACHE_TAMPERED', async () => {
    const ns = uniqueNamespace('enc')
    redis = new Redis(url as string)
    cache = createCache({
      envPrefix: false,
      namespace: ns,
      redis: { url },
      driver: 'encrypted',
      encryption: { inner: 'redis', keys: keyA },
    })
    await cache.set('user:42:email', 'alice@example.com')
    await cache.set('user:43:email', 'bob@example.com')
    const keys = await redis.keys(`${ns}:*`)
    expect(keys).toHaveLength(2)
    for (const k of keys) {
      expect(k).not.toContain('user:')
      const raw = (await redis.getBuffer(k)) as Buffer
      expect(raw.toString('latin1')).not.toContain('example.com')
    }
    // Swap the two ciphertexts: each is bound to its own key.
    const [k1, k2] = keys as [string, string]
    const [v1, v2] = [(await redis.getBuffer(k1)) as Buffer, (await redis.getBuffer(k2)) as Buffer]
    await redis.set(k1, v2)
    await redis.set(k2, v1)
    const swapped = await cache.get('user:42:email').catch((err: unknown) => err)
    expect(isBeaverError(swapped, 'CACHE_TAMPERED')).toBe(true)
    // Flip one bit of a ciphertext.
    const flipped = Buffer.from(v1)
    flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 1
    await redis.set(k1, flipped)
    const tampered = await cache.get('user:42:email').catch((err: unknown) => err)
    expect(isBeaverError(tampered, 'CACHE_TAMPERED')).toBe(true)
  })
})

describe('key rotation', () => {
  it('old keys decrypt, the current key encrypts, and reads re-encrypt and re-key lazily', async () => {
    const inner = serializedMemory()
    const old = over(new EncryptedDriver({ inner, ring: createKeyRing(keyA) }), 'rot')
    await old.set('k', { secret: 1 }, { ttl: '1h' })
    const rotatedDriver = new EncryptedDriver({ inner, ring: createKeyRing([keyB, keyA]) })
    const rotated = over(rotatedDriver, 'rot')
    expect(await rotated.get('k')).toEqual({ secret: 1 })
    expect(rotatedDriver.reencrypted).toBe(1)
    // Now readable by a ring that only has the new key: it was re-encrypted under b and re-keyed.
    const onlyNew = over(new EncryptedDriver({ inner, ring: createKeyRing(keyB) }), 'rot')
    expect(await onlyNew.get('k')).toEqual({ secret: 1 })
    const ttl = await onlyNew.ttl('k')
    expect(ttl).toBeGreaterThan(3_000_000)
    // And the old entry is gone: the old-only ring finds nothing.
    expect(await old.get('k')).toBeUndefined()
  })

  it('a value written with a key that is not in the ring cannot be read', async () => {
    const inner = serializedMemory()
    await over(new EncryptedDriver({ inner, ring: createKeyRing([keyA]) }), 'x').set('k', 1)
    // Same HMAC key id "a" but different key material: the lookup misses (keys are HMAC-hashed).
    const other = over(new EncryptedDriver({ inner, ring: createKeyRing([generateKeyRingEntry('a')]) }), 'x')
    expect(await other.get('k')).toBeUndefined()
  })

  it('refuses to start without keys, naming the variable', async () => {
    const c = createCache({
      envPrefix: false,
      namespace: 'n',
      driver: 'encrypted',
      encryption: { inner: 'memory' },
    })
    const err = await c.get('k').catch((e: unknown) => e)
    expect(isBeaverError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect(String((err as Error).message)).toContain('BEAVER_CACHE_ENCRYPTION_KEYS')
  })
})
