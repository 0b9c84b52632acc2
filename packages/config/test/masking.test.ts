import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  type ConfigError,
  defineSchema,
  f,
  formatBytes,
  formatDuration,
  isConfigError,
  isSecretName,
  maskJson,
  maskText,
  maskUrl,
  maskUrlsIn,
  redisTopologyFields,
  resolveConfig,
} from '@beaver-kit/config'

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (isConfigError(err)) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('isSecretName', () => {
  it.each([
    'password',
    'PASSWORD',
    'DB_PASSWORD',
    'passwordHash',
    'password_confirmation',
    'passwd',
    'pwd',
    'pass',
    'secret',
    'client_secret',
    'apiKey',
    'x-api-key',
    'api_key',
    'API-KEY',
    'privateKey',
    'private_key',
    'credentials',
    'cookie',
    'cookies',
    'set-cookie',
    'authorization',
    'Proxy-Authorization',
    'token',
    'accessToken',
    'x-api-token',
    'jwt',
    'sessionId',
    'session_id',
    'connect.sid',
    'X-Amz-Signature',
    'oauth',
  ])('%s is a secret', (name) => {
    expect(isSecretName(name)).toBe(true)
  })

  it.each(['tokenCount', 'author', 'name', 'user', 'id', 'keyboard', 'passenger', 'key', 'email', 'maxTokens', ''])(
    '%s is not',
    (name) => {
      expect(isSecretName(name)).toBe(false)
    },
  )
})

describe('maskUrl', () => {
  it.each([
    ['redis://user:hunter2@cache:6379/0', 'redis://****@cache:6379/0'],
    ['redis://:hunter2@cache:6379', 'redis://****@cache:6379'],
    ['https://ghp_abcdef1234567890@github.com/org/repo.git', 'https://****@github.com/org/repo.git'],
    ['https://x.example/cb?code=1&token=abc&page=2', 'https://x.example/cb?code=1&token=****&page=2'],
    ['https://x.example/?api_key=k1&sig=s1&key=k2', 'https://x.example/?api_key=****&sig=****&key=****'],
    ['https://x.example/cb#access_token=t1&state=s', 'https://x.example/cb#access_token=****&state=s'],
    [
      'https://s3.example/b/o?X-Amz-Credential=AKIA&X-Amz-Signature=f00',
      'https://s3.example/b/o?X-Amz-Credential=****&X-Amz-Signature=****',
    ],
    ['postgres://db.internal:5432/app', 'postgres://db.internal:5432/app'],
    ['syslog:tcp://svc:pw@logs:601?level=warn', 'syslog:tcp://****@logs:601?level=warn'],
    ['https://user@host/a@b', 'https://****@b'],
    ['https://host/?email=a@b.example', 'https://host/?email=a@b.example'],
  ])('%s → %s', (input, masked) => {
    expect(maskUrl(input)).toBe(masked)
  })

  it('masks a malformed or misread URL up to its last @, whatever the password holds', () => {
    for (const bad of [
      'postgres://app:p@ss/w#rd@db:5432/app',
      'redis://app:hunter2@cache:99999',
      'mysql://root:s3 cret@h/db',
    ]) {
      const masked = maskUrl(bad)
      expect(masked, bad).not.toMatch(/p@ss|w#rd|hunter2|s3 cret/)
      expect(masked.startsWith(`${bad.slice(0, bad.indexOf('://') + 3)}****@`)).toBe(true)
    }
  })

  it('maskText masks URLs anywhere and secret name=value pairs; maskJson masks at any depth', () => {
    expect(maskText('authorization: Bearer abc')).toBe('authorization:****')
    expect(maskText('api_key=abc')).toBe('api_key=****')
    expect(maskText('db=debug')).toBe('db=debug')
    expect(
      maskJson({ a: { password: 'p', n: 1, list: [{ token: 't' }], url: 'redis://u:p@h' }, ok: [1, 'x'] }),
    ).toEqual({
      a: { password: '****', n: 1, list: [{ token: '****' }], url: 'redis://****@h' },
      ok: [1, 'x'],
    })
  })
})

describe('formatDuration / formatBytes', () => {
  it('use the largest unit that divides exactly', () => {
    expect([86_400_000, 5_400_000, 1500, 0, 604_800_000, 2000].map(formatDuration)).toEqual([
      '1d',
      '90m',
      '1500ms',
      '0ms',
      '1w',
      '2s',
    ])
    expect([65_536, 10 * 1024 ** 2, 1000, 0, 1024 ** 4].map(formatBytes)).toEqual([
      '64kb',
      '10mb',
      '1000b',
      '0b',
      '1tb',
    ])
  })
})

const leaky = defineSchema(
  'LEAK',
  {
    url: f.url({ doc: 'A URL' }),
    replicas: f.list({ doc: 'Replica URLs', of: (item) => void new URL(item) }),
    options: f.json({ doc: 'JSON options' }),
    port: f.int({ doc: 'A port' }),
    ttl: f.duration({ doc: 'A TTL' }),
  },
  'leak',
)

describe('no secret in describe() or errors', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'beaver-config-mask-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('masks every URL, every list item and every JSON field by default in describe()', () => {
    const { describe: text, values } = resolveConfig(leaky, {
      env: {
        BEAVER_LEAK_URL: 'https://ghp_usertoken@git.example/repo?token=qtoken',
        BEAVER_LEAK_REPLICAS: 'postgres://app:replpw1@r1/db, postgres://app:replpw2@r2/db',
        BEAVER_LEAK_OPTIONS: '{"password":"jsonpw","nested":{"dsn":"redis://:dsnpw@h"},"size":3}',
      },
    })
    const out = text()
    for (const secret of ['ghp_usertoken', 'qtoken', 'replpw1', 'replpw2', 'jsonpw', 'dsnpw'])
      expect(out).not.toContain(secret)
    expect(out).toContain('postgres://****@r1/db,postgres://****@r2/db')
    expect(out).toContain('{"password":"****","nested":{"dsn":"redis://****@h"},"size":3}')
    // The values themselves are untouched.
    expect(values.replicas).toEqual(['postgres://app:replpw1@r1/db', 'postgres://app:replpw2@r2/db'])
  })

  it('never echoes the userinfo of a malformed URL, from env or from an option', () => {
    const fromEnv = errorOf(() =>
      resolveConfig(leaky, { env: { BEAVER_LEAK_URL: 'postgres://app:pa/ss@db:5432/app' } }),
    )
    expect(fromEnv.message).not.toMatch(/pa\/ss|app:/)
    expect(fromEnv.issues[0]).toMatchObject({ name: 'BEAVER_LEAK_URL', found: 'postgres://****@db:5432/app' })
    const fromOption = errorOf(() =>
      resolveConfig(leaky, { env: {}, options: { url: 'redis://u:hunter2@h:99999999' } }),
    )
    expect(fromOption.message).not.toContain('hunter2')
    expect(fromOption.issues[0]?.name).toBe('option url')
    const list = errorOf(() =>
      resolveConfig(leaky, { env: {}, options: { replicas: ['postgres://a:listpw@h/db', 'not a url'] } }),
    )
    expect(list.message).not.toContain('listpw')
    expect(list.message).toContain('postgres://****@h/db')
  })

  it('never quotes input that is not JSON, and masks JSON that was rejected', () => {
    const bad = errorOf(() => resolveConfig(leaky, { env: { BEAVER_LEAK_OPTIONS: 'hunter2-not-json' } }))
    expect(bad.message).not.toContain('hunter2')
    expect(bad.issues[0]).toMatchObject({ found: '(16 characters that are not JSON)' })
    expect(bad.issues[0]?.expected).toMatch(/^expected valid JSON/)
    const broken = errorOf(() => resolveConfig(leaky, { env: { BEAVER_LEAK_OPTIONS: '{"password":"jsonpw"' } }))
    expect(broken.message).not.toContain('jsonpw')
    const rejected = defineSchema('REJ', {
      o: f.json({
        doc: 'o',
        validate: () => {
          throw new Error('expected an object with a name')
        },
      }),
    })
    const e = errorOf(() => resolveConfig(rejected, { env: { BEAVER_REJ_O: '{"apiKey":"k-123","name":1}' } }))
    expect(e.message).not.toContain('k-123')
    expect(e.issues[0]?.found).toBe('{"apiKey":"****","name":1}')
  })

  it('never echoes the contents of a _FILE, secret or not, only the file', () => {
    const file = join(dir, 'port')
    writeFileSync(file, 'hunter2\n')
    const err = errorOf(() => resolveConfig(leaky, { env: { BEAVER_LEAK_PORT_FILE: file } }))
    expect(err.message).not.toContain('hunter2')
    expect(err.issues).toEqual([
      {
        name: 'BEAVER_LEAK_PORT_FILE',
        found: file,
        expected: 'the file holds a value that is not valid: expected an integer',
      },
    ])
  })

  it('lists what a validator refused, with the variable named', () => {
    const err = errorOf(() => resolveConfig(leaky, { env: { BEAVER_LEAK_REPLICAS: 'postgres://r1/db,nope' } }))
    expect(err.issues[0]?.name).toBe('BEAVER_LEAK_REPLICAS')
    expect(err.issues[0]?.found).toBe('postgres://r1/db,nope')
    expect(err.issues[0]?.expected).toMatch(/Invalid URL/)
  })
})

describe('the shared Redis topology fields', () => {
  const topology = defineSchema('TOPO', { redis: { ...redisTopologyFields() } })

  it("read the sentinels' own password, and never show it in describe() or in an error", () => {
    const env = {
      BEAVER_TOPO_REDIS_MODE: 'sentinel',
      BEAVER_TOPO_REDIS_SENTINELS: '127.0.0.1:26379',
      BEAVER_TOPO_REDIS_SENTINEL_PASSWORD: 'sentinel-hunter2',
    }
    const { describe: text, values, entries } = resolveConfig(topology, { env })
    expect(values.redis.sentinelPassword).toBe('sentinel-hunter2')
    const out = text()
    expect(out).toContain('BEAVER_TOPO_REDIS_SENTINEL_PASSWORD')
    expect(out).not.toContain('hunter2')
    expect(JSON.stringify(entries)).not.toContain('hunter2')
    const beside = errorOf(() => resolveConfig(topology, { env: { ...env, BEAVER_TOPO_REDIS_MODE: 'hunter2-mode' } }))
    expect(beside.message).toContain('BEAVER_TOPO_REDIS_MODE')
    expect(beside.message).not.toContain('sentinel-hunter2')
    const own = errorOf(() => resolveConfig(topology, { env: {}, options: { redis: { sentinelPassword: '' } } }))
    expect(own.issues[0]?.name).toBe('option redis.sentinelPassword')
    expect(JSON.stringify(own.issues)).not.toContain('hunter2')
  })
})

describe('maskUrlsIn on hostile text', () => {
  it('masks every URL in free text and keeps the rest', () => {
    expect(maskUrlsIn('a redis://u:p@cache:6379 and x=https://h/?token=t; done')).toBe(
      'a redis://****@cache:6379 and x=https://h/?token=****; done',
    )
  })

  it('scans a long run of scheme characters once: 200,000 of them after "://" do not stall it', () => {
    // With a scheme allowed to start inside a run, every letter restarts the scan: ~10^10 steps.
    const text = `://${'a'.repeat(200_000)} mysql://root:pw@db`
    expect(maskUrlsIn(text)).toBe(`://${'a'.repeat(200_000)} mysql://****@db`)
  })
})
