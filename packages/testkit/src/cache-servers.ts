// Local stand-ins for cloud stores, started in-process on a free loopback port by the cache
// tests and stopped after: dynalite (DynamoDB) and s3rver (S3). Both are devDependencies of
// @beaver-kit/cache, imported here lazily so other packages never load them.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo, Server } from 'node:net'

/** Imports a module that ships no type declarations (the caller states its shape). */
function importUntyped(name: string): Promise<unknown> {
  return import(name) as Promise<unknown>
}

/** A running local server: where to point the SDK, and how to stop it. */
export interface LocalCloudServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string
  /** Test credentials the server accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string }
  region: string
  stop(): Promise<void>
}

/**
 * Starts dynalite (an in-memory DynamoDB implementation on LevelDB/memdown) on a free port.
 * @example const ddb = await startDynalite(); new DynamoDBClient({ endpoint: ddb.endpoint, region: ddb.region, credentials: ddb.credentials })
 */
export async function startDynalite(): Promise<LocalCloudServer> {
  const { default: dynalite } = (await importUntyped('dynalite')) as { default: (o: Record<string, unknown>) => Server }
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    region: 'us-east-1',
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

/** s3rver plus the bucket created for the test. */
export interface LocalS3 extends LocalCloudServer {
  bucket: string
}

/**
 * Starts s3rver (an S3 implementation on the file system) on a free port, in a temporary
 * directory removed on stop, with one bucket.
 */
export async function startS3rver(bucket = 'beaver-test'): Promise<LocalS3> {
  const { default: S3rver } = (await importUntyped('s3rver')) as {
    default: new (o: Record<string, unknown>) => { run(): Promise<AddressInfo>; close(): Promise<void> }
  }
  const directory = await mkdtemp(join(tmpdir(), 'beaver-s3rver-'))
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  })
  const address = await server.run()
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    region: 'us-east-1',
    bucket,
    async stop() {
      await server.close()
      await rm(directory, { recursive: true, force: true })
    },
  }
}

/** The local Workers KV REST server: where to point the driver, its store (for assertions), and stop. */
export interface KvEmulator {
  /** Use as the driver's `apiBase` (stands for `https://api.cloudflare.com/client/v4`); the default location. */
  apiBase: string
  /** The same API served from another edge location (see {@link KvEmulatorOptions.propagationMs}). */
  apiBaseAt(location: string): string
  accountId: string
  namespaceId: string
  apiToken: string
  /** The latest entry of every KV key, whatever each location sees yet (value bytes, expiry in ms since epoch or undefined). */
  entries: Map<string, KvEntry>
  /** Requests served, by route (`GET values`, `PUT bulk`...). */
  requests: Map<string, number>
  stop(): Promise<void>
}

export interface KvEntry {
  value: Buffer
  expiresAt: number | undefined
}

export interface KvEmulatorOptions {
  /**
   * How long a write (or delete) takes to be seen at the other edge locations, in ms of `now`.
   * The location that made it sees it at once. Default 0: one consistent store. Real KV
   * documents up to 60 s.
   */
  propagationMs?: number
  /** The emulator's clock, ms since epoch: propagation and expiry follow it. Default `Date.now`. */
  now?: () => number
}

/** One write of a key: the entry (undefined for a delete), when, and at which location. */
interface KvWrite {
  entry: KvEntry | undefined
  at: number
  location: string
}

/**
 * A local server implementing the documented Cloudflare Workers KV REST endpoints the cache
 * uses, with their status codes and JSON error envelopes (`{success:false, errors:[{code,message}]}`):
 * `GET|PUT|DELETE /accounts/:a/storage/kv/namespaces/:n/values/:key` (PUT takes
 * `expiration_ttl`, at least 60), `PUT .../bulk` (array of `{key, value, base64, expiration_ttl}`),
 * `POST .../bulk/delete` (array of keys), `GET .../keys?prefix&cursor&limit`. Bearer token
 * auth (401 with code 10000 otherwise); 404 with code 10009 for a missing key; expiry honoured.
 * Eventual consistency is modelled per edge location: requests under `apiBaseAt(location)` see
 * their own location's writes at once and the others' `propagationMs` later (the last write
 * each location can see wins), as KV documents; with the default 0 every location sees every
 * write at once, and `apiBase` is one more location.
 */
export async function startKvEmulator(options: KvEmulatorOptions = {}): Promise<KvEmulator> {
  const { propagationMs = 0, now = Date.now } = options
  const { createServer } = await import('node:http')
  const accountId = 'acc0123456789'
  const namespaceId = 'ns0123456789'
  const apiToken = 'test-token'
  const entries = new Map<string, KvEntry>()
  const writes = new Map<string, KvWrite[]>()
  const requests = new Map<string, number>()
  const base = `/client/v4/accounts/${accountId}/storage/kv/namespaces/${namespaceId}`
  const write = (location: string, key: string, entry: KvEntry | undefined): void => {
    const at = now()
    if (entry === undefined) entries.delete(key)
    else entries.set(key, entry)
    // Keep the latest write every location sees and those after it.
    const before = writes.get(key) ?? []
    const history = before.slice(
      Math.max(
        0,
        before.findLastIndex((w) => w.at + propagationMs <= at),
      ),
    )
    history.push({ entry, at, location })
    writes.set(key, history)
  }
  /** The entry `location` sees for `key`: the last write made there or already propagated. */
  const live = (location: string, key: string): KvEntry | undefined => {
    const history = writes.get(key) ?? []
    const t = now()
    const seen = history.findLast((w) => w.location === location || w.at + propagationMs <= t)?.entry
    return seen?.expiresAt !== undefined && seen.expiresAt <= t ? undefined : seen
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const url = new URL(req.url ?? '/', 'http://localhost')
      const json = (status: number, payload: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(payload))
      }
      const fail = (status: number, code: number, message: string): void =>
        json(status, { success: false, errors: [{ code, message }], messages: [], result: null })
      const ok = (result: unknown, extra: Record<string, unknown> = {}): void =>
        json(200, { success: true, errors: [], messages: [], result, ...extra })
      if (req.headers.authorization !== `Bearer ${apiToken}`) return fail(401, 10000, 'Authentication error')
      // `/edge/<location>/client/v4/...` is the API as served at that location.
      const edge = /^\/edge\/([^/]+)(\/.*)$/.exec(url.pathname)
      const location = edge ? decodeURIComponent(edge[1] as string) : ''
      const path = edge ? (edge[2] as string) : url.pathname
      if (!path.startsWith(base))
        return fail(404, 7003, 'Could not route to ' + path + ', perhaps your object identifier is invalid?')
      const rest = path.slice(base.length)
      const route = `${req.method} ${rest.startsWith('/values/') ? 'values' : rest.slice(1)}`
      requests.set(route, (requests.get(route) ?? 0) + 1)
      const ttlOf = (raw: unknown): number | undefined | 'bad' => {
        if (raw === undefined || raw === null || raw === '') return undefined
        const n = Number(raw)
        return Number.isInteger(n) && n >= 60 ? n : 'bad'
      }
      if (rest.startsWith('/values/')) {
        const key = decodeURIComponent(rest.slice('/values/'.length))
        if (Buffer.byteLength(key) > 512) return fail(414, 10033, 'Key name too long')
        if (req.method === 'GET') {
          const e = live(location, key)
          if (!e) return fail(404, 10009, "get: 'key not found'")
          res.writeHead(200, { 'content-type': 'application/octet-stream' })
          return res.end(e.value)
        }
        if (req.method === 'PUT') {
          const ttl = ttlOf(url.searchParams.get('expiration_ttl'))
          if (ttl === 'bad')
            return fail(
              400,
              10014,
              `Invalid expiration_ttl of ${url.searchParams.get('expiration_ttl')}. Expiration TTL must be at least 60.`,
            )
          write(location, key, { value: body, expiresAt: ttl === undefined ? undefined : now() + ttl * 1000 })
          return ok(null)
        }
        if (req.method === 'DELETE') {
          write(location, key, undefined)
          return ok(null)
        }
      }
      if (rest === '/bulk' && req.method === 'PUT') {
        const items = JSON.parse(body.toString()) as Array<{
          key: string
          value: string
          base64?: boolean
          expiration_ttl?: number
        }>
        for (const it of items)
          if (ttlOf(it.expiration_ttl) === 'bad')
            return fail(
              400,
              10014,
              `Invalid expiration_ttl of ${it.expiration_ttl}. Expiration TTL must be at least 60.`,
            )
        for (const it of items) {
          const ttl = ttlOf(it.expiration_ttl) as number | undefined
          write(location, it.key, {
            value: it.base64 ? Buffer.from(it.value, 'base64') : Buffer.from(it.value),
            expiresAt: ttl === undefined ? undefined : now() + ttl * 1000,
          })
        }
        return ok({ successful_key_count: items.length, unsuccessful_keys: [] })
      }
      if (rest === '/bulk/delete' && req.method === 'POST') {
        const keys = JSON.parse(body.toString()) as string[]
        for (const k of keys) write(location, k, undefined)
        return ok({ successful_key_count: keys.length, unsuccessful_keys: [] })
      }
      if (rest === '/keys' && req.method === 'GET') {
        const prefix = url.searchParams.get('prefix') ?? ''
        const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 1000))
        const start = Number(url.searchParams.get('cursor') || 0)
        const names = [...writes.keys()].filter((k) => k.startsWith(prefix) && live(location, k)).sort()
        const page = names.slice(start, start + limit)
        const cursor = start + limit < names.length ? String(start + limit) : ''
        return ok(
          page.map((name) => ({ name })),
          { result_info: { count: page.length, cursor } },
        )
      }
      return fail(405, 10000, 'Method not allowed')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const port = (server.address() as AddressInfo).port
  return {
    apiBase: `http://127.0.0.1:${port}/client/v4`,
    apiBaseAt: (location) => `http://127.0.0.1:${port}/edge/${encodeURIComponent(location)}/client/v4`,
    accountId,
    namespaceId,
    apiToken,
    entries,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
