// Configuration by name: every driver built from BEAVER_CACHE_* alone (through the env option
// of createCache, never process.env), and the unknown-variable check of the one CACHE schema.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb'
import { isConfigError, listFields, type ConfigError } from '@beaver-kit/config'
import { eventually, requireService, uniqueNamespace } from '@beaver-kit/testkit'
import {
  startDynalite,
  startKvEmulator,
  startS3rver,
  type KvEmulator,
  type LocalCloudServer,
  type LocalS3,
} from '@beaver-kit/testkit/cache-servers'
import { cacheDriverNames, cacheSchema, createCache, isCacheError, type Cache } from '@beaver-kit/cache'
import { createDynamoDbCacheTable } from '@beaver-kit/cache/dynamodb'

const redisUrl = await requireService('redis')
const opened: Array<{ close(): unknown }> = []
afterEach(async () => {
  for (const c of opened.splice(0).reverse()) await c.close()
})

function fromEnv(env: Record<string, string>): Cache {
  const c = createCache({ env })
  opened.push(c)
  return c
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p
  } catch (err) {
    return err as { code?: string; message: string }
  }
  throw new Error('expected a failure')
}

function configIssues(fn: () => unknown): ConfigError['issues'] {
  try {
    fn()
  } catch (err) {
    if (isConfigError(err)) return err.issues
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('BEAVER_CACHE_DRIVER names every built-in driver', () => {
  it('lists tiered, hybrid, encrypted, s3, dynamodb and cloudflare-kv with memory, redis and database', () => {
    expect(cacheDriverNames()).toEqual(
      expect.arrayContaining([
        'memory',
        'redis',
        'database',
        'tiered',
        'hybrid',
        'encrypted',
        's3',
        'dynamodb',
        'cloudflare-kv',
      ]),
    )
  })
})

describe.runIf(redisUrl)('drivers built from the environment alone, over the real Redis', () => {
  let raw: Redis
  beforeAll(() => {
    raw = new Redis(redisUrl as string)
  })
  afterAll(async () => {
    await raw.quit()
  })

  it('tiered: BEAVER_CACHE_TIERED_TIERS=memory,redis stores envelopes in Redis and answers from memory', async () => {
    const ns = uniqueNamespace('env-tiered')
    const c = fromEnv({
      BEAVER_CACHE_DRIVER: 'tiered',
      BEAVER_CACHE_TIERED_TIERS: 'memory,redis',
      BEAVER_CACHE_TIERED_STRATEGY: 'basic',
      BEAVER_CACHE_REDIS_URL: redisUrl as string,
      BEAVER_CACHE_NAMESPACE: ns,
    })
    expect(c.driverName).toBe('tiered')
    await c.set('user:1', { name: 'Ada' }, { ttl: '1m' })
    expect(await c.get('user:1')).toEqual({ name: 'Ada' })
    // The Redis tier holds the tiered envelope (0xB7 0x01 header) under <namespace>:<key>.
    const stored = await raw.getBuffer(`${ns}::user:1`)
    expect([stored?.[0], stored?.[1]]).toEqual([0xb7, 0x01])
    expect(stored?.subarray(-14).toString()).toBe('{"name":"Ada"}')
    // Gone from Redis behind the cache's back, still answered by the memory tier.
    await raw.del(`${ns}::user:1`)
    expect(await c.get('user:1')).toEqual({ name: 'Ada' })
    await c.clear()
  })

  it('tiered: a tier name that is no driver fails naming BEAVER_CACHE_TIERED_TIERS', async () => {
    const c = fromEnv({ BEAVER_CACHE_DRIVER: 'tiered', BEAVER_CACHE_TIERED_TIERS: 'memory,redsi' })
    const err = await failure(c.ready())
    expect(isCacheError(err, 'CACHE_DRIVER_UNKNOWN')).toBe(true)
    expect(err.message).toContain('BEAVER_CACHE_TIERED_TIERS is "redsi"; expected one of memory, redis,')
    expect(err.message).toContain('(did you mean "redis"?)')
  })

  it('hybrid: BEAVER_CACHE_HYBRID_STORE=redis in write-behind mode flushes to Redis', async () => {
    const ns = uniqueNamespace('env-hybrid')
    const c = fromEnv({
      BEAVER_CACHE_DRIVER: 'hybrid',
      BEAVER_CACHE_HYBRID_STORE: 'redis',
      BEAVER_CACHE_HYBRID_MODE: 'write-behind',
      BEAVER_CACHE_HYBRID_FLUSH_INTERVAL: '10ms',
      BEAVER_CACHE_REDIS_URL: redisUrl as string,
      BEAVER_CACHE_NAMESPACE: ns,
    })
    expect(c.driverName).toBe('hybrid')
    await c.set('k', [1, 2, 3], { ttl: '1m' })
    expect(await c.get('k')).toEqual([1, 2, 3])
    await eventually(async () => expect(await raw.get(`${ns}::k`)).toBe('[1,2,3]'))
    await c.clear()
  })

  it('hybrid: a store that is memory (or hybrid) is refused, naming BEAVER_CACHE_HYBRID_STORE', async () => {
    const c = fromEnv({ BEAVER_CACHE_DRIVER: 'hybrid', BEAVER_CACHE_HYBRID_STORE: 'memory' })
    const err = await failure(c.ready())
    expect(isCacheError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect(err.message).toContain('BEAVER_CACHE_HYBRID_STORE is "memory"')
  })

  it('encrypted: BEAVER_CACHE_ENCRYPTION_INNER=redis with BEAVER_CACHE_ENCRYPTION_KEYS keeps only ciphertext in Redis', async () => {
    const ns = uniqueNamespace('env-enc')
    const env = {
      BEAVER_CACHE_DRIVER: 'encrypted',
      BEAVER_CACHE_ENCRYPTION_INNER: 'redis',
      BEAVER_CACHE_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      BEAVER_CACHE_REDIS_URL: redisUrl as string,
      BEAVER_CACHE_NAMESPACE: ns,
    }
    const c = fromEnv(env)
    expect(c.driverName).toBe('encrypted')
    await c.set('card', { number: '4111111111111111' }, { ttl: '1m' })
    expect(await c.get('card')).toEqual({ number: '4111111111111111' })
    const keys = await raw.keys(`${ns}:*`)
    expect(keys).toHaveLength(1)
    expect(keys[0]).not.toContain('card')
    expect((await raw.getBuffer(keys[0] as string))?.toString('latin1')).not.toContain('4111')
    await c.clear()

    const { BEAVER_CACHE_ENCRYPTION_KEYS: _keys, ...withoutKeys } = env
    const err = await failure(fromEnv(withoutKeys).ready())
    expect(isCacheError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect(err.message).toContain('set BEAVER_CACHE_ENCRYPTION_KEYS=')
  })
})

describe('cloud drivers built from the environment alone, against their local servers', () => {
  let s3: LocalS3
  let dynamo: LocalCloudServer
  let kv: KvEmulator
  beforeAll(async () => {
    ;[s3, dynamo, kv] = await Promise.all([startS3rver(), startDynalite(), startKvEmulator()])
  })
  afterAll(async () => {
    await Promise.all([s3?.stop(), dynamo?.stop(), kv?.stop()])
  })

  it('s3: BEAVER_CACHE_S3_* (bucket, prefix, endpoint, region, credentials, path style, checksums)', async () => {
    const ns = uniqueNamespace('env-s3')
    const c = fromEnv({
      BEAVER_CACHE_DRIVER: 's3',
      BEAVER_CACHE_NAMESPACE: ns,
      BEAVER_CACHE_S3_BUCKET: s3.bucket,
      BEAVER_CACHE_S3_PREFIX: 'from-env/',
      BEAVER_CACHE_S3_ENDPOINT: s3.endpoint,
      BEAVER_CACHE_S3_REGION: s3.region,
      BEAVER_CACHE_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      BEAVER_CACHE_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      BEAVER_CACHE_S3_FORCE_PATH_STYLE: 'true',
      BEAVER_CACHE_S3_CHECKSUMS: 'when-required',
    })
    expect(c.driverName).toBe('s3')
    await c.set('k', { cold: true }, { ttl: '1m' })
    expect(await c.get('k')).toEqual({ cold: true })
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: s3.region,
      credentials: s3.credentials,
      forcePathStyle: true,
    })
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'from-env/' }))
      expect(listed.Contents?.map((o) => o.Key)).toEqual([`from-env/${ns}/k`])
    } finally {
      client.destroy()
    }
    await c.clear()
  })

  it('s3: without a bucket, or with half the credentials, fails naming the variable to set', async () => {
    const err = await failure(fromEnv({ BEAVER_CACHE_DRIVER: 's3' }).ready())
    expect(isCacheError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect(err.message).toContain('set BEAVER_CACHE_S3_BUCKET')
    const half = await failure(
      fromEnv({ BEAVER_CACHE_DRIVER: 's3', BEAVER_CACHE_S3_BUCKET: 'b', BEAVER_CACHE_S3_ACCESS_KEY_ID: 'id' }).ready(),
    )
    expect(half.message).toContain('set BEAVER_CACHE_S3_SECRET_ACCESS_KEY too')
  })

  it('dynamodb: BEAVER_CACHE_DYNAMODB_* (table, endpoint, region, credentials)', async () => {
    const table = 'beaver_cache_env'
    const client = new DynamoDBClient({
      endpoint: dynamo.endpoint,
      region: dynamo.region,
      credentials: dynamo.credentials,
    })
    try {
      await createDynamoDbCacheTable(client, table)
      const ns = uniqueNamespace('envddb')
      const c = fromEnv({
        BEAVER_CACHE_DRIVER: 'dynamodb',
        BEAVER_CACHE_NAMESPACE: ns,
        BEAVER_CACHE_DYNAMODB_TABLE: table,
        BEAVER_CACHE_DYNAMODB_ENDPOINT: dynamo.endpoint,
        BEAVER_CACHE_DYNAMODB_REGION: dynamo.region,
        BEAVER_CACHE_DYNAMODB_ACCESS_KEY_ID: dynamo.credentials.accessKeyId,
        BEAVER_CACHE_DYNAMODB_SECRET_ACCESS_KEY: dynamo.credentials.secretAccessKey,
      })
      expect(c.driverName).toBe('dynamodb')
      await c.set('k', 'v', { ttl: '1m' })
      expect(await c.get('k')).toBe('v')
      const item = await client.send(
        new GetItemCommand({ TableName: table, Key: { p: { S: ns }, s: { S: `${ns}\u0000k` } } }),
      )
      expect(Buffer.from(item.Item?.v?.B ?? new Uint8Array()).toString()).toBe('"v"')
      await c.clear()
    } finally {
      client.destroy()
    }
  })

  it('cloudflare-kv: BEAVER_CACHE_CLOUDFLARE_KV_* (account, namespace, token, API base); a missing one is named', async () => {
    const ns = uniqueNamespace('env-kv')
    const env = {
      BEAVER_CACHE_DRIVER: 'cloudflare-kv',
      BEAVER_CACHE_NAMESPACE: ns,
      BEAVER_CACHE_CLOUDFLARE_KV_ACCOUNT_ID: kv.accountId,
      BEAVER_CACHE_CLOUDFLARE_KV_NAMESPACE_ID: kv.namespaceId,
      BEAVER_CACHE_CLOUDFLARE_KV_API_TOKEN: kv.apiToken,
      BEAVER_CACHE_CLOUDFLARE_KV_API_BASE: kv.apiBase,
    }
    const c = fromEnv(env)
    expect(c.driverName).toBe('cloudflare-kv')
    await c.set('k', { edge: 1 }, { ttl: '5m' })
    expect(await c.get('k')).toEqual({ edge: 1 })
    expect([...kv.entries.keys()].some((k) => k.startsWith(ns))).toBe(true)
    await c.clear()

    const { BEAVER_CACHE_CLOUDFLARE_KV_API_TOKEN: _token, ...withoutToken } = env
    const err = await failure(fromEnv(withoutToken).ready())
    expect(isCacheError(err, 'CACHE_OPTIONS_INVALID')).toBe(true)
    expect(err.message).toContain('set BEAVER_CACHE_CLOUDFLARE_KV_API_TOKEN')
  })
})

describe('optional peers stay lazy: a missing one is CORE_PEER_MISSING naming the package', () => {
  const fixture = fileURLToPath(new URL('./fixtures/hidden-peer.ts', import.meta.url))
  const run = (hidden: string, env: Record<string, string>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', fixture, hidden, JSON.stringify(env)])
      let out = ''
      let err = ''
      child.stdout.on('data', (b: Buffer) => (out += b.toString()))
      child.stderr.on('data', (b: Buffer) => (err += b.toString()))
      child.on('error', reject)
      child.on('exit', (code) => {
        try {
          resolve(JSON.parse(out) as Record<string, unknown>)
        } catch {
          reject(new Error(`child exited with ${code}: ${err}${out}`))
        }
      })
    })

  it.each([
    ['s3', '@aws-sdk/client-s3', { BEAVER_CACHE_S3_BUCKET: 'b' }],
    ['dynamodb', '@aws-sdk/client-dynamodb', {}],
    [
      'cloudflare-kv',
      '@beaver-kit/http',
      {
        BEAVER_CACHE_CLOUDFLARE_KV_ACCOUNT_ID: 'a',
        BEAVER_CACHE_CLOUDFLARE_KV_NAMESPACE_ID: 'n',
        BEAVER_CACHE_CLOUDFLARE_KV_API_TOKEN: 't',
      },
    ],
    [
      'encrypted',
      '@beaver-kit/krypto',
      { BEAVER_CACHE_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}` },
    ],
    ['tiered', 'ioredis', { BEAVER_CACHE_TIERED_TIERS: 'memory,redis' }],
    ['hybrid', 'ioredis', { BEAVER_CACHE_HYBRID_STORE: 'redis' }],
  ] as const)('%s without %s', async (driver, pkg, extra) => {
    const outcome = await run(pkg, { BEAVER_CACHE_DRIVER: driver, ...extra })
    expect(outcome).toMatchObject({ ok: false, code: 'CORE_PEER_MISSING', package: pkg })
    expect(outcome.message).toContain(`npm install ${pkg}`)
  })
})

describe('the one CACHE schema: every setting resolved once, misspelt names caught', () => {
  it('a misspelt variable of any section fails with "did you mean" the closest known one', () => {
    for (const [typo, meant] of [
      ['BEAVER_CACHE_TIERED_TEIRS', 'BEAVER_CACHE_TIERED_TIERS'],
      ['BEAVER_CACHE_DRIVR', 'BEAVER_CACHE_DRIVER'],
      ['BEAVER_CACHE_HYBRID_STOR', 'BEAVER_CACHE_HYBRID_STORE'],
      ['BEAVER_CACHE_S3_BUCKIT', 'BEAVER_CACHE_S3_BUCKET'],
      ['BEAVER_CACHE_ENCRYPTION_KEY', 'BEAVER_CACHE_ENCRYPTION_KEYS'],
    ]) {
      expect(configIssues(() => createCache({ env: { [typo as string]: 'x' } }))).toEqual([
        { name: typo, found: undefined, expected: `is not a known setting; did you mean ${meant}?` },
      ])
    }
    // Under another prefix, with a bad value in the same error.
    expect(
      configIssues(() =>
        createCache({
          envPrefix: 'USER_',
          env: { USER_CACHE_TIERED_TEIRS: 'x', USER_CACHE_DEFAULT_TTL: 'soon' },
        }),
      ),
    ).toEqual([
      expect.objectContaining({ name: 'USER_CACHE_DEFAULT_TTL', found: 'soon' }),
      {
        name: 'USER_CACHE_TIERED_TEIRS',
        found: undefined,
        expected: 'is not a known setting; did you mean USER_CACHE_TIERED_TIERS?',
      },
    ])
  })

  it('every variable of the schema, correctly spelt, is accepted at once (the table opens with the main settings)', async () => {
    const env: Record<string, string> = {}
    const samples = [
      'redis://127.0.0.1:6379',
      'http://127.0.0.1:1',
      'write-behind',
      'basic',
      'all',
      'none',
      'when-required',
      'reference',
      'sieve',
      'json',
      'standalone',
      '127.0.0.1:6379',
    ]
    const extra = ['1s', '1', 'true', 'sixteen-chars-secret', 'x']
    const fields = listFields(cacheSchema)
    for (const { suffix, field } of fields) {
      if (suffix === 'CACHE_DRIVER') continue
      const value = [...samples, ...extra].find((v) => {
        try {
          field.parse(v)
          return true
        } catch {
          return false
        }
      })
      expect(value, suffix).toBeDefined()
      env[`BEAVER_${suffix}`] = value as string
    }
    expect(fields.slice(0, 4).map((f) => f.suffix)).toEqual([
      'CACHE_DRIVER',
      'CACHE_NAMESPACE',
      'CACHE_DEFAULT_TTL',
      'CACHE_NEGATIVE_TTL',
    ])
    expect(Object.keys(env)).toEqual(
      expect.arrayContaining(['BEAVER_CACHE_TIERED_BUS_URL', 'BEAVER_CACHE_S3_BUCKET', 'BEAVER_CACHE_LOADER_TIMEOUT']),
    )
    expect(Object.keys(env)).toHaveLength(fields.length - 1)
    const c = createCache({ env })
    expect(c.config.driver).toBe('memory')
    expect(c.config.tiered.busKey).toBe(env.BEAVER_CACHE_TIERED_BUS_KEY)
    expect(c.describe().settings.find((s) => s.name === 'BEAVER_CACHE_TIERED_BUS_KEY')?.value).toBe('****')
    await c.close()
  })
})
