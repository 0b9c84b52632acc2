import { importPeer, isBeaverError } from '@beaver-kit/core'
import type { KeyRing } from '@beaver-kit/krypto'
import {
  defineCacheDriver,
  storeCapabilities,
  type CacheDriver,
  type CacheDriverCapabilities,
  type DriverEntry,
  type DriverStats,
  type StoredValue,
} from '../driver.ts'
import type { CacheConfig } from '../config.ts'
import { CacheError } from '../errors.ts'
import type { CacheSectionOptions } from '../types.ts'

/** Options of {@link EncryptedDriver}. */
export interface EncryptedDriverOptions {
  /** The driver that stores the ciphertext (any bytes driver). Closed with this one when `ownsInner`. */
  inner: CacheDriver
  ownsInner?: boolean | undefined
  /** A `@beaver-kit/krypto` key ring: its current key encrypts, every key decrypts. */
  ring: KeyRing
  /** Re-encrypt entries written under an older key when they are read; default true. */
  reencryptOnRead?: boolean | undefined
}

const PURPOSE = 'beaver-cache-key'

/**
 * Encrypts every value with AES-256-GCM envelopes of a krypto key ring (the key id travels in
 * the envelope, so old keys decrypt and the current key encrypts), binds each ciphertext to
 * its namespace and key (associated data, so swapping two stored values is detected), and
 * stores entries under HMAC-SHA256 of the key: plaintext keys never reach the store.
 * Entries written before a key rotation are found through the HMAC of every ring key and
 * lazily re-encrypted and re-keyed on read. Tampering is a `CACHE_TAMPERED` CacheError.
 * Namespaces stay readable (they scope `clear()`); put no secrets in them.
 */
export class EncryptedDriver implements CacheDriver {
  readonly name: string
  readonly capabilities: CacheDriverCapabilities
  readonly #inner: CacheDriver
  readonly #ring: KeyRing
  readonly #owns: boolean
  readonly #reencrypt: boolean
  /** Entries re-encrypted under the current key on read. */
  reencrypted = 0

  constructor(options: EncryptedDriverOptions) {
    if (options.inner.capabilities.values !== 'bytes')
      throw new TypeError('The encrypted wrapper needs a driver that stores bytes (memory: storage serialized)')
    this.#inner = options.inner
    this.#ring = options.ring
    this.#owns = options.ownsInner ?? false
    this.#reencrypt = options.reencryptOnRead ?? true
    this.name = `encrypted(${options.inner.name})`
    this.capabilities = storeCapabilities()
  }

  #macs(ns: string, key: string): Array<{ kid: string; mac: string }> {
    return this.#ring.hmacAll(`${ns}\u0000${key}`, { purpose: PURPOSE })
  }

  #mac(ns: string, key: string): string {
    return this.#ring.hmac(`${ns}\u0000${key}`, { purpose: PURPOSE })
  }

  #encrypt(ns: string, key: string, value: Uint8Array): Uint8Array {
    return this.#ring.encryptBytes(value, { associatedData: `${ns}\u0000${key}` })
  }

  #decrypt(ns: string, key: string, stored: Uint8Array): Uint8Array {
    try {
      return this.#ring.decryptBytes(stored, { associatedData: `${ns}\u0000${key}` })
    } catch (err) {
      if (isBeaverError(err) && err.code.startsWith('KRYPTO_')) {
        throw new CacheError(
          'CACHE_TAMPERED',
          `An encrypted entry failed authentication (${err.code}): it was altered, moved from another key, or written with a key that is not in the ring.`,
          { cause: err, details: { namespace: ns } },
        )
      }
      throw err
    }
  }

  /** The stored ciphertext of a key under any ring key's HMAC (current first). */
  async #find(ns: string, key: string): Promise<{ mac: string; current: boolean; stored: Uint8Array } | undefined> {
    const macs = this.#macs(ns, key)
    for (let i = 0; i < macs.length; i++) {
      const mac = (macs[i] as { mac: string }).mac
      const stored = await this.#inner.get(ns, mac)
      if (stored !== undefined) return { mac, current: i === 0, stored: stored as Uint8Array }
    }
    return undefined
  }

  async get(ns: string, key: string): Promise<StoredValue | undefined> {
    const found = await this.#find(ns, key)
    if (found === undefined) return undefined
    const plain = this.#decrypt(ns, key, found.stored)
    if (this.#reencrypt && (!found.current || this.#ring.needsReencrypt(found.stored))) {
      const ttl = this.#inner.ttl ? await this.#inner.ttl(ns, found.mac) : undefined
      if (ttl !== undefined) {
        await this.#inner.set(
          ns,
          this.#mac(ns, key),
          this.#encrypt(ns, key, plain),
          ttl === Infinity ? undefined : Math.max(1, Math.ceil(ttl)),
        )
        if (!found.current) await this.#inner.delete(ns, found.mac)
        this.reencrypted++
      }
    }
    return plain
  }

  async has(ns: string, key: string): Promise<boolean> {
    const v = await this.get(ns, key)
    return v !== undefined && (v as Uint8Array).byteLength > 0
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    const current = keys.map((k) => this.#mac(ns, k))
    const stored = this.#inner.getMany
      ? await this.#inner.getMany(ns, current)
      : await Promise.all(current.map((m) => Promise.resolve(this.#inner.get(ns, m))))
    return Promise.all(
      keys.map(async (k, i) =>
        stored[i] === undefined ? this.get(ns, k) : this.#decrypt(ns, k, stored[i] as Uint8Array),
      ),
    )
  }

  async set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    await this.#inner.set(ns, this.#mac(ns, key), this.#encrypt(ns, key, value as Uint8Array), ttlMs)
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    const mapped = entries.map((e) => ({
      key: this.#mac(ns, e.key),
      value: this.#encrypt(ns, e.key, e.value as Uint8Array),
      ttlMs: e.ttlMs,
    }))
    if (this.#inner.setMany) await this.#inner.setMany(ns, mapped)
    else for (const e of mapped) await this.#inner.set(ns, e.key, e.value, e.ttlMs)
  }

  async delete(ns: string, key: string): Promise<boolean> {
    let existed = false
    for (const { mac } of this.#macs(ns, key)) if (await this.#inner.delete(ns, mac)) existed = true
    return existed
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    let n = 0
    for (const k of keys) if (await this.delete(ns, k)) n++
    return n
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const found = await this.#find(ns, key)
    if (found === undefined || !this.#inner.ttl) return undefined
    return this.#inner.ttl(ns, found.mac)
  }

  async touch(ns: string, key: string, ttlMs: number | undefined): Promise<boolean> {
    const found = await this.#find(ns, key)
    if (found === undefined) return false
    if (found.current && this.#inner.touch) return this.#inner.touch(ns, found.mac, ttlMs)
    await this.set(ns, key, this.#decrypt(ns, key, found.stored), ttlMs)
    if (!found.current) await this.#inner.delete(ns, found.mac)
    return true
  }

  async clear(ns: string): Promise<void> {
    await this.#inner.clear(ns)
  }

  async ping(): Promise<void> {
    await this.#inner.ping?.()
  }

  async purgeExpired(): Promise<number> {
    return (await this.#inner.purgeExpired?.()) ?? 0
  }

  stats(): DriverStats {
    return { encryption: { reencrypted: this.reencrypted } }
  }

  async close(): Promise<void> {
    if (this.#owns) await this.#inner.close()
  }
}

/** Options of the encrypted driver: its settings (`BEAVER_CACHE_ENCRYPTION_*`) and what cannot come from the environment. */
export type EncryptedCacheOptions = NonNullable<CacheSectionOptions['encryption']>

/** What the encrypted definition's create() gets: its resolved section, keys and inner driver as given. */
type EncryptedCreateOptions = Omit<EncryptedCacheOptions, 'keys' | 'inner'> & {
  keys?: string | KeyRing | undefined
  inner?: CacheConfig['encryption']['inner'] | CacheDriver | undefined
}

/**
 * The encrypted driver (`BEAVER_CACHE_DRIVER=encrypted`, loads the optional peer
 * `@beaver-kit/krypto`): the ring from `BEAVER_CACHE_ENCRYPTION_KEYS`, the ciphertext in the
 * driver `BEAVER_CACHE_ENCRYPTION_INNER` names (redis by default), built by the cache from its
 * own section.
 * @example const cache = createCache({ driver: 'encrypted', encryption: { inner: 'redis' } }) // keys from BEAVER_CACHE_ENCRYPTION_KEYS
 */
export const encryptedDriver = defineCacheDriver<EncryptedCreateOptions>({
  name: 'encrypted',
  peers: ['@beaver-kit/krypto'],
  section: 'encryption',
  async create(options, context) {
    let ring: KeyRing
    if (typeof options.keys === 'object') ring = options.keys
    else {
      const text = options.keys
      if (text === undefined || text === '') {
        throw new CacheError(
          'CACHE_OPTIONS_INVALID',
          `The encrypted cache needs a key ring: set ${context.variable('ENCRYPTION_KEYS')}=kid:base64key (32 random bytes; generate one with generateKeyRingEntry() from @beaver-kit/krypto), or pass encryption.keys.`,
          { details: { setting: context.variable('ENCRYPTION_KEYS') } },
        )
      }
      const { createKeyRing } = await importPeer(
        '@beaver-kit/krypto',
        () => import('@beaver-kit/krypto'),
        'the encrypted cache driver',
      )
      ring = createKeyRing(text)
    }
    const input = options.inner ?? 'redis'
    let inner: CacheDriver
    if (typeof input === 'string') {
      if (input === 'encrypted') {
        throw new CacheError(
          'CACHE_OPTIONS_INVALID',
          `${context.variable('ENCRYPTION_INNER')} is "encrypted": the encrypted cache cannot wrap itself; set it to the driver that stores the ciphertext, such as redis.`,
          { details: { inner: input } },
        )
      }
      inner = await context.loadDriver(input, { setting: 'ENCRYPTION_INNER', storage: 'serialized' })
    } else inner = input
    return new EncryptedDriver({
      inner,
      ownsInner: typeof input === 'string',
      ring,
      reencryptOnRead: options.reencryptOnRead,
    })
  },
})
