import { createHash } from 'node:crypto'
import { importPeer } from '@beaver-kit/core'
import type { HttpClient } from '@beaver-kit/http'
import {
  defineCacheDriver,
  type CacheDriver,
  storeCapabilities,
  type DriverEntry,
  type StoredValue,
} from '../driver.ts'
import { CacheError } from '../errors.ts'
import { expiresAt, isLive, remaining, systemClock, type Clock } from '../expiry.ts'
import type { KvNamespaceBinding } from '../types.ts'
import { settingName } from './aws-settings.ts'

export type { KvNamespaceBinding } from '../types.ts'

/** KV's smallest expiration TTL, in seconds: shorter TTLs are enforced on read (see the driver). */
export const KV_MIN_TTL_SECONDS = 60
const MAX_KEY_BYTES = 512
const HEADER = 8

/** Options of the Cloudflare Workers KV driver: REST (account, namespace id, token) or a binding. */
export interface CloudflareKvOptions {
  /** A Workers binding (`env.MY_KV`); when given, the REST options are ignored. */
  binding?: KvNamespaceBinding | undefined
  accountId?: string | undefined
  namespaceId?: string | undefined
  /** API token with "Workers KV Storage: Edit". */
  apiToken?: string | undefined
  /** Default `https://api.cloudflare.com/client/v4`; tests point it at a local server. */
  apiBase?: string | undefined
  /** An `@beaver-kit/http` client to send through (its retries, breaker and timeouts apply); default a new one. */
  http?: HttpClient | undefined
  /** Parallel requests for getMany / deleteMany; default 8. */
  concurrency?: number | undefined
  /** The clock expiries are written and checked with; default the wall clock. */
  now?: Clock | undefined
}

interface Backend {
  get(key: string): Promise<Uint8Array | undefined>
  put(key: string, value: Uint8Array, ttlSeconds: number | undefined): Promise<void>
  bulkPut(items: Array<{ key: string; value: Uint8Array; ttlSeconds: number | undefined }>): Promise<void>
  delete(key: string): Promise<void>
  bulkDelete(keys: string[]): Promise<void>
  list(prefix: string): Promise<string[]>
  close(): Promise<void>
}

interface ApiEnvelope<T> {
  success: boolean
  errors?: Array<{ code: number; message: string }>
  result: T
  result_info?: { cursor?: string; count?: number }
}

class RestBackend implements Backend {
  readonly #http: HttpClient
  readonly #owns: boolean
  readonly #base: string
  readonly #headers: Record<string, string>

  constructor(http: HttpClient, owns: boolean, options: CloudflareKvOptions) {
    if (!options.accountId || !options.namespaceId || !options.apiToken) {
      throw new CacheError(
        'CACHE_OPTIONS_INVALID',
        'The cloudflare-kv driver needs accountId, namespaceId and apiToken (or a Workers binding).',
      )
    }
    this.#http = http
    this.#owns = owns
    const api = (options.apiBase ?? 'https://api.cloudflare.com/client/v4').replace(/\/$/, '')
    this.#base = `${api}/accounts/${encodeURIComponent(options.accountId)}/storage/kv/namespaces/${encodeURIComponent(options.namespaceId)}`
    this.#headers = { authorization: `Bearer ${options.apiToken}` }
  }

  async #fail(op: string, status: number, text: string): Promise<never> {
    let detail = text.slice(0, 300)
    try {
      const body = JSON.parse(text) as ApiEnvelope<unknown>
      detail = (body.errors ?? []).map((e) => `${e.code}: ${e.message}`).join('; ') || detail
    } catch {
      // not JSON: keep the text
    }
    const code =
      status === 401 || status === 403
        ? 'CACHE_OPTIONS_INVALID'
        : status >= 500 || status === 429
          ? 'CACHE_CONNECTION'
          : 'CACHE_DRIVER'
    throw new CacheError(code, `Cloudflare KV ${op} failed with HTTP ${status}: ${detail}`, { details: { status, op } })
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.#http.get(`${this.#base}/values/${encodeURIComponent(key)}`, {
      headers: this.#headers,
      throwHttpErrors: false,
      route: 'kv/values/:key',
    })
    if (r.status === 404) {
      await r.bytes()
      return undefined
    }
    if (!r.ok) return this.#fail('read', r.status, await r.text())
    return new Uint8Array(await r.bytes())
  }

  async put(key: string, value: Uint8Array, ttlSeconds: number | undefined): Promise<void> {
    const r = await this.#http.put(`${this.#base}/values/${encodeURIComponent(key)}`, {
      headers: { ...this.#headers, 'content-type': 'application/octet-stream' },
      query: ttlSeconds === undefined ? undefined : { expiration_ttl: ttlSeconds },
      body: value,
      throwHttpErrors: false,
      route: 'kv/values/:key',
    })
    if (!r.ok) return this.#fail('write', r.status, await r.text())
    await r.bytes()
  }

  async bulkPut(items: Array<{ key: string; value: Uint8Array; ttlSeconds: number | undefined }>): Promise<void> {
    for (let i = 0; i < items.length; i += 10_000) {
      const json = items.slice(i, i + 10_000).map((x) => ({
        key: x.key,
        value: Buffer.from(x.value).toString('base64'),
        base64: true,
        ...(x.ttlSeconds === undefined ? {} : { expiration_ttl: x.ttlSeconds }),
      }))
      const r = await this.#http.put(`${this.#base}/bulk`, {
        headers: this.#headers,
        json,
        throwHttpErrors: false,
        route: 'kv/bulk',
      })
      if (!r.ok) return this.#fail('bulk write', r.status, await r.text())
      await r.bytes()
    }
  }

  async delete(key: string): Promise<void> {
    const r = await this.#http.delete(`${this.#base}/values/${encodeURIComponent(key)}`, {
      headers: this.#headers,
      throwHttpErrors: false,
      route: 'kv/values/:key',
    })
    if (!r.ok && r.status !== 404) return this.#fail('delete', r.status, await r.text())
    await r.bytes()
  }

  async bulkDelete(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 10_000) {
      const r = await this.#http.post(`${this.#base}/bulk/delete`, {
        headers: this.#headers,
        json: keys.slice(i, i + 10_000),
        throwHttpErrors: false,
        route: 'kv/bulk/delete',
      })
      if (!r.ok) return this.#fail('bulk delete', r.status, await r.text())
      await r.bytes()
    }
  }

  async list(prefix: string): Promise<string[]> {
    const names: string[] = []
    let cursor: string | undefined
    do {
      const r = await this.#http.get(`${this.#base}/keys`, {
        headers: this.#headers,
        query: { prefix, limit: 1000, ...(cursor ? { cursor } : {}) },
        throwHttpErrors: false,
        route: 'kv/keys',
      })
      const text = await r.text()
      if (!r.ok) return this.#fail('list', r.status, text)
      const body = JSON.parse(text) as ApiEnvelope<Array<{ name: string }>>
      for (const k of body.result) names.push(k.name)
      cursor = body.result_info?.cursor || undefined
    } while (cursor !== undefined)
    return names
  }

  async close(): Promise<void> {
    if (this.#owns) await this.#http.close()
  }
}

class BindingBackend implements Backend {
  readonly #kv: KvNamespaceBinding
  constructor(kv: KvNamespaceBinding) {
    this.#kv = kv
  }
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = await this.#kv.get(key, { type: 'arrayBuffer' })
    return v === null ? undefined : new Uint8Array(v)
  }
  async put(key: string, value: Uint8Array, ttlSeconds: number | undefined): Promise<void> {
    await this.#kv.put(key, value, ttlSeconds === undefined ? undefined : { expirationTtl: ttlSeconds })
  }
  async bulkPut(items: Array<{ key: string; value: Uint8Array; ttlSeconds: number | undefined }>): Promise<void> {
    for (const x of items) await this.put(x.key, x.value, x.ttlSeconds)
  }
  async delete(key: string): Promise<void> {
    await this.#kv.delete(key)
  }
  async bulkDelete(keys: string[]): Promise<void> {
    for (const k of keys) await this.#kv.delete(k)
  }
  async list(prefix: string): Promise<string[]> {
    const names: string[] = []
    let cursor: string | undefined
    for (;;) {
      const page = await this.#kv.list({ prefix, cursor, limit: 1000 })
      for (const k of page.keys) names.push(k.name)
      if (page.list_complete || !page.cursor) return names
      cursor = page.cursor
    }
  }
  async close(): Promise<void> {}
}

/** 8-byte big-endian float64 expiry (ms since epoch, 0 = none) in front of the value. */
function wrap(value: Uint8Array, at: number | undefined): Uint8Array {
  const out = new Uint8Array(HEADER + value.byteLength)
  new DataView(out.buffer).setFloat64(0, at ?? 0)
  out.set(value, HEADER)
  return out
}

/** The expiry in a stored value's header (undefined = never), or null when it is no value of this driver. */
function expiryOf(stored: Uint8Array | undefined): number | undefined | null {
  if (stored === undefined || stored.byteLength < HEADER) return null
  const at = new DataView(stored.buffer, stored.byteOffset, stored.byteLength).getFloat64(0)
  return at === 0 ? undefined : at
}

/**
 * Cloudflare Workers KV, over the REST API (through `@beaver-kit/http`) or a Workers binding.
 * KV is eventually consistent: a write is visible at once where it was made but may take up
 * to 60 s to reach other edge locations, so use it for data that tolerates that. KV's minimum
 * TTL is 60 s: shorter TTLs are stored with `expiration_ttl=60` and enforced exactly on read
 * from an 8-byte expiry header in front of the value. Keys are `<URI-encoded namespace>/<key>`;
 * keys beyond KV's 512 bytes are stored under `<namespace>#<SHA-256>` (the encoded namespace
 * holds neither "/" nor "#", so no two pairs share a KV key). Batches: bulk write and bulk delete
 * endpoints; reads are single GETs in parallel (bulk get returns text, not bytes).
 */
export class CloudflareKvStore implements CacheDriver {
  readonly name = 'cloudflare-kv'
  readonly capabilities = storeCapabilities()
  readonly #backend: Backend
  readonly #concurrency: number
  readonly #now: Clock

  /** @internal use the `cloudflareKvDriver` definition */
  constructor(backend: Backend, concurrency: number, now: Clock = systemClock) {
    this.#backend = backend
    this.#concurrency = concurrency
    this.#now = now
  }

  #key(ns: string, key: string): string {
    const space = encodeURIComponent(ns)
    const full = `${space}/${key}`
    return Buffer.byteLength(full) <= MAX_KEY_BYTES
      ? full
      : `${space}#${createHash('sha256').update(key).digest('hex')}`
  }

  #unwrap(stored: Uint8Array | undefined): Uint8Array | undefined {
    const at = expiryOf(stored)
    return at === null || !isLive(at, this.#now()) ? undefined : (stored as Uint8Array).subarray(HEADER)
  }

  static #ttlSeconds(ttlMs: number | undefined): number | undefined {
    return ttlMs === undefined ? undefined : Math.max(KV_MIN_TTL_SECONDS, Math.ceil(ttlMs / 1000))
  }

  async #parallel<T, R>(items: readonly T[], fn: (x: T) => Promise<R>): Promise<R[]> {
    const out: R[] = Array.from({ length: items.length })
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < items.length) {
        const i = next++
        out[i] = await fn(items[i] as T)
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, items.length) }, worker))
    return out
  }

  async #raw(ns: string, key: string): Promise<Uint8Array | undefined> {
    return this.#backend.get(this.#key(ns, key))
  }

  async get(ns: string, key: string): Promise<StoredValue | undefined> {
    return this.#unwrap(await this.#raw(ns, key))
  }

  async set(ns: string, key: string, value: StoredValue, ttlMs: number | undefined): Promise<void> {
    await this.#backend.put(
      this.#key(ns, key),
      wrap(value as Uint8Array, expiresAt(ttlMs, this.#now())),
      CloudflareKvStore.#ttlSeconds(ttlMs),
    )
  }

  async setMany(ns: string, entries: readonly DriverEntry[]): Promise<void> {
    const now = this.#now()
    await this.#backend.bulkPut(
      entries.map((e) => ({
        key: this.#key(ns, e.key),
        value: wrap(e.value as Uint8Array, expiresAt(e.ttlMs, now)),
        ttlSeconds: CloudflareKvStore.#ttlSeconds(e.ttlMs),
      })),
    )
  }

  async getMany(ns: string, keys: readonly string[]): Promise<Array<StoredValue | undefined>> {
    return this.#parallel(keys, (k) => this.get(ns, k))
  }

  /** KV does not say whether a deleted key existed: one read first answers it. */
  async delete(ns: string, key: string): Promise<boolean> {
    const existed = this.#unwrap(await this.#raw(ns, key)) !== undefined
    await this.#backend.delete(this.#key(ns, key))
    return existed
  }

  async deleteMany(ns: string, keys: readonly string[]): Promise<number> {
    const existing = (await this.getMany(ns, keys)).filter((v) => v !== undefined).length
    await this.#backend.bulkDelete(keys.map((k) => this.#key(ns, k)))
    return existing
  }

  async ttl(ns: string, key: string): Promise<number | undefined> {
    const stored = await this.#raw(ns, key)
    if (this.#unwrap(stored) === undefined) return undefined
    return remaining(expiryOf(stored) ?? undefined, this.#now())
  }

  /** Lists `<ns>/`, `<ns>#` (hashed keys) and `<ns>%3A` (nested namespaces) and deletes them in bulk. */
  async clear(ns: string): Promise<void> {
    const space = encodeURIComponent(ns)
    const names: string[] = []
    for (const prefix of [`${space}/`, `${space}#`, `${space}${encodeURIComponent(':')}`])
      names.push(...(await this.#backend.list(prefix)))
    if (names.length > 0) await this.#backend.bulkDelete(names)
  }

  async close(): Promise<void> {
    await this.#backend.close()
  }
}

/**
 * The Cloudflare Workers KV driver (REST through `@beaver-kit/http`, an optional peer, or a
 * binding), registered as `cloudflare-kv`: `BEAVER_CACHE_CLOUDFLARE_KV_*` gives the REST API.
 * @example createCache({ driver: 'cloudflare-kv', cloudflareKv: { accountId, namespaceId, apiToken } })
 */
export const cloudflareKvDriver = defineCacheDriver<CloudflareKvOptions>({
  name: 'cloudflare-kv',
  peers: ['@beaver-kit/http'],
  section: 'cloudflareKv',
  async create(options, context) {
    const concurrency = options.concurrency ?? 8
    if (options.binding) return new CloudflareKvStore(new BindingBackend(options.binding), concurrency, options.now)
    // A Workers binding is a runtime object: only the REST API can come from the environment.
    const missing = (
      [
        ['accountId', 'CLOUDFLARE_KV_ACCOUNT_ID'],
        ['namespaceId', 'CLOUDFLARE_KV_NAMESPACE_ID'],
        ['apiToken', 'CLOUDFLARE_KV_API_TOKEN'],
      ] as const
    )
      .filter(([key]) => options[key] === undefined)
      .map(([, suffix]) => settingName(context, suffix))
    if (missing.length > 0) {
      throw new CacheError(
        'CACHE_OPTIONS_INVALID',
        `The cloudflare-kv cache driver needs an account, a namespace and an API token for the KV REST API: set ${missing.join(', ')} (or pass them, or a Workers binding, as cloudflareKv options).`,
        { details: { missing } },
      )
    }
    let http = options.http
    const owns = http === undefined
    if (http === undefined) {
      const { createHttpClient } = await importPeer(
        '@beaver-kit/http',
        () => import('@beaver-kit/http'),
        'the cloudflare-kv cache driver',
      )
      http = createHttpClient({ envPrefix: false })
    }
    return new CloudflareKvStore(new RestBackend(http, owns, options), concurrency, options.now)
  },
})
