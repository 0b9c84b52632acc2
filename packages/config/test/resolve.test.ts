import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError, defineSchema, f, isConfigError, renderEnvTable, resolveConfig } from '@beaver-kit/config'

const schema = defineSchema(
  'CACHE',
  {
    driver: f.enum({ values: ['memory', 'redis', 'database'], default: 'memory', doc: 'Which driver stores entries' }),
    defaultTtl: f.duration({ default: '1h', doc: 'TTL when none is given' }),
    enabled: f.boolean({ default: true, doc: 'Whether caching is on' }),
    memory: {
      maxItems: f.int({ default: 10_000, min: 1, doc: 'Most entries kept' }),
      maxSize: f.bytes({ default: '64mb', doc: 'Most bytes kept' }),
      ratio: f.number({ default: 0.5, min: 0, max: 1, doc: 'A ratio' }),
    },
    redis: {
      url: f.url({ protocols: ['redis', 'rediss'], doc: 'Redis URL' }),
      password: f.string({ secret: true, doc: 'Redis password' }),
    },
    tags: f.list({ default: [], doc: 'Tags' }),
    extra: f.json<Record<string, unknown>>({ doc: 'Extra JSON options' }),
  },
  'cache',
)

const requiredSchema = defineSchema('DB', {
  url: f.url({ required: true, aliases: ['DATABASE_URL'], doc: 'Database URL' }),
  token: f.string({ required: true, secret: true, doc: 'API token' }),
})

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn()
  } catch (err) {
    if (isConfigError(err)) return err
    throw err
  }
  throw new Error('expected a ConfigError')
}

describe('resolveConfig', () => {
  it('uses defaults with an empty environment', () => {
    const { values, entries } = resolveConfig(schema, { env: {} })
    expect(values).toEqual({
      driver: 'memory',
      defaultTtl: 3_600_000,
      enabled: true,
      memory: { maxItems: 10_000, maxSize: 64 * 1024 ** 2, ratio: 0.5 },
      redis: { url: undefined, password: undefined },
      tags: [],
      extra: undefined,
    })
    expect(entries.find((e) => e.name === 'BEAVER_CACHE_DRIVER')?.source).toBe('default')
    expect(entries.find((e) => e.name === 'BEAVER_CACHE_REDIS_URL')?.source).toBe('unset')
  })

  it('reads nested names in UPPER_SNAKE under the BEAVER_ prefix', () => {
    const { values } = resolveConfig(schema, {
      env: { BEAVER_CACHE_MEMORY_MAX_ITEMS: '5', BEAVER_CACHE_DEFAULT_TTL: '1.5h', BEAVER_CACHE_TAGS: 'a,b' },
    })
    expect(values.memory.maxItems).toBe(5)
    expect(values.defaultTtl).toBe(5_400_000)
    expect(values.tags).toEqual(['a', 'b'])
  })

  it('explicit options beat env, env beats defaults', () => {
    const env = { BEAVER_CACHE_DRIVER: 'redis', BEAVER_CACHE_MEMORY_MAX_ITEMS: '7' }
    const { values, entries } = resolveConfig(schema, { env, options: { driver: 'database', defaultTtl: '10s' } })
    expect(values.driver).toBe('database')
    expect(values.memory.maxItems).toBe(7)
    expect(values.defaultTtl).toBe(10_000)
    expect(entries.find((e) => e.path === 'driver')?.source).toBe('option')
    expect(entries.find((e) => e.path === 'memory.maxItems')?.source).toBe('env')
  })

  it('a custom prefix gives another instance; envPrefix false reads nothing', () => {
    const env = { BEAVER_CACHE_DRIVER: 'redis', USER_CACHE_DRIVER: 'database' }
    expect(resolveConfig(schema, { env, envPrefix: 'USER_' }).values.driver).toBe('database')
    expect(resolveConfig(schema, { env, envPrefix: false }).values.driver).toBe('memory')
  })

  it('aliases apply only with the default prefix', () => {
    const env = { DATABASE_URL: 'postgres://a@h/db', BEAVER_DB_TOKEN: 't', OTHER_DB_TOKEN: 't' }
    expect(resolveConfig(requiredSchema, { env }).values.url).toBe('postgres://a@h/db')
    const err = errorOf(() => resolveConfig(requiredSchema, { env, envPrefix: 'OTHER_' }))
    expect(err.issues.map((i) => i.name)).toEqual(['OTHER_DB_URL'])
  })

  it('lists every bad or missing variable in one error, with what was found and what is accepted', () => {
    const err = errorOf(() =>
      resolveConfig(schema, {
        env: {
          BEAVER_CACHE_DRIVER: 'reddis',
          BEAVER_CACHE_DEFAULT_TTL: '5y',
          BEAVER_CACHE_MEMORY_MAX_ITEMS: '0',
          BEAVER_CACHE_MEMORY_RATIO: '2',
          BEAVER_CACHE_ENABLED: 'maybe',
          BEAVER_CACHE_REDIS_URL: 'http://x',
        },
      }),
    )
    expect(err.code).toBe('CONFIG_INVALID')
    expect(err.issues.map((i) => i.name)).toEqual([
      'BEAVER_CACHE_DRIVER',
      'BEAVER_CACHE_DEFAULT_TTL',
      'BEAVER_CACHE_ENABLED',
      'BEAVER_CACHE_MEMORY_MAX_ITEMS',
      'BEAVER_CACHE_MEMORY_RATIO',
      'BEAVER_CACHE_REDIS_URL',
    ])
    expect(err.message).toContain('BEAVER_CACHE_DRIVER is "reddis": expected one of memory, redis, database')
    expect(err.message).toContain(
      'BEAVER_CACHE_MEMORY_MAX_ITEMS is "0": is out of range; expected a number of at least 1',
    )
    expect(err.message).toContain('expected one of redis://, rediss://')
    expect(err.message).toMatch(/^Invalid cache configuration \(6 problems\)/)
  })

  it('reports missing required variables and masks secrets in errors', () => {
    const err = errorOf(() => resolveConfig(requiredSchema, { env: {} }))
    expect(err.issues.map((i) => i.name)).toEqual(['BEAVER_DB_URL', 'BEAVER_DB_TOKEN'])
    expect(err.message).toContain('is required')
    const bad = defineSchema('X', { port: f.int({ secret: true, doc: 'secret int' }) })
    const e2 = errorOf(() => resolveConfig(bad, { env: { BEAVER_X_PORT: 'hunter2' } }))
    expect(e2.message).not.toContain('hunter2')
    expect(e2.issues[0]?.found).toBe('****')
  })

  it('validates explicit options with the same rules', () => {
    const err = errorOf(() => resolveConfig(schema, { env: {}, options: { memory: { maxItems: -3 } } }))
    expect(err.issues[0]?.name).toBe('option memory.maxItems')
  })

  it('treats an empty variable as unset', () => {
    const { values } = resolveConfig(schema, { env: { BEAVER_CACHE_DRIVER: '', BEAVER_CACHE_MEMORY_MAX_ITEMS: '   ' } })
    expect(values.driver).toBe('memory')
    expect(values.memory.maxItems).toBe(10_000)
  })

  it('rejects whitespace around an int inside the value but trims the ends', () => {
    expect(resolveConfig(schema, { env: { BEAVER_CACHE_MEMORY_MAX_ITEMS: ' 42 ' } }).values.memory.maxItems).toBe(42)
    expect(() => resolveConfig(schema, { env: { BEAVER_CACHE_MEMORY_MAX_ITEMS: '4 2' } })).toThrow(ConfigError)
    expect(() => resolveConfig(schema, { env: { BEAVER_CACHE_MEMORY_MAX_ITEMS: '1.5' } })).toThrow(/integer/)
    expect(() => resolveConfig(schema, { env: { BEAVER_CACHE_MEMORY_MAX_ITEMS: '99999999999999999999' } })).toThrow(
      /safe integer/,
    )
  })

  it('suggests the known name for a misspelt variable of the section', () => {
    const err = errorOf(() =>
      resolveConfig(schema, { env: { BEAVER_CACHE_DRIVR: 'redis', BEAVER_CACHE_COMPLETELY_OTHER_THING: 'x' } }),
    )
    expect(err.issues).toHaveLength(1)
    expect(err.message).toContain('BEAVER_CACHE_DRIVR: is not a known setting; did you mean BEAVER_CACHE_DRIVER?')
    expect(resolveConfig(schema, { env: { BEAVER_CACHE_DRIVR: 'redis' }, unknown: 'ignore' }).values.driver).toBe(
      'memory',
    )
  })

  it('returns deeply frozen values', () => {
    const { values } = resolveConfig(schema, { env: {} })
    expect(Object.isFrozen(values)).toBe(true)
    expect(Object.isFrozen(values.memory)).toBe(true)
    expect(Object.isFrozen(values.tags)).toBe(true)
  })

  it('never lets __proto__ or constructor in JSON pollute objects', () => {
    const { values } = resolveConfig(schema, {
      env: { BEAVER_CACHE_EXTRA: '{"__proto__":{"isAdmin":true},"constructor":{"prototype":{"isAdmin":true}},"ok":1}' },
    })
    expect(values.extra).toEqual({ ok: 1 })
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
    expect((values.extra as Record<string, unknown>).isAdmin).toBeUndefined()
  })

  it('ignores __proto__ smuggled through options', () => {
    const options = JSON.parse('{"__proto__":{"driver":"redis"}}') as Record<string, unknown>
    expect(resolveConfig(schema, { env: {}, options }).values.driver).toBe('memory')
  })

  it('rejects schemas that use forbidden keys', () => {
    expect(() => defineSchema('BAD', JSON.parse('{"__proto__":{}}') as never)).toThrow(/forbidden key "__proto__"/)
    expect(() => defineSchema('BAD', { constructor: f.string({ doc: 'x' }) })).toThrow(/forbidden key/)
  })
})

describe('_FILE secrets', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'beaver-config-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('reads the value from the file, dropping one trailing newline', () => {
    const file = join(dir, 'pw')
    writeFileSync(file, 's3cret\n')
    const { values, entries } = resolveConfig(schema, { env: { BEAVER_CACHE_REDIS_PASSWORD_FILE: file } })
    expect(values.redis.password).toBe('s3cret')
    const entry = entries.find((e) => e.path === 'redis.password')
    expect(entry).toMatchObject({ source: 'env-file', value: '****' })
  })

  it('names the variable and the file when it cannot be read', () => {
    const missing = join(dir, 'nope')
    const err = errorOf(() => resolveConfig(schema, { env: { BEAVER_CACHE_REDIS_PASSWORD_FILE: missing } }))
    expect(err.issues[0]).toMatchObject({ name: 'BEAVER_CACHE_REDIS_PASSWORD_FILE', found: missing })
    expect(err.message).toContain('ENOENT')
  })

  it('refuses both the variable and its _FILE', () => {
    const file = join(dir, 'pw')
    writeFileSync(file, 'a')
    const err = errorOf(() =>
      resolveConfig(schema, { env: { BEAVER_CACHE_REDIS_PASSWORD: 'b', BEAVER_CACHE_REDIS_PASSWORD_FILE: file } }),
    )
    expect(err.message).toContain('not both')
  })
})

describe('.env files', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'beaver-dotenv-'))
    writeFileSync(
      join(dir, '.env'),
      'BEAVER_CACHE_DRIVER=redis\nBEAVER_CACHE_MEMORY_MAX_ITEMS=3\nBEAVER_CACHE_TAGS="x, y"\n',
    )
    writeFileSync(join(dir, '.env.local'), 'BEAVER_CACHE_MEMORY_MAX_ITEMS=4\n')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('reads .env and .env.local under the real environment, never overriding it', () => {
    const env = { BEAVER_CACHE_DRIVER: 'database' }
    const { values, entries } = resolveConfig(schema, { env, envFiles: ['.env', '.env.local'], cwd: dir })
    expect(values.driver).toBe('database')
    expect(values.memory.maxItems).toBe(4)
    expect(values.tags).toEqual(['x', 'y'])
    expect(entries.find((e) => e.path === 'memory.maxItems')?.source).toBe('dotenv')
    expect(entries.find((e) => e.path === 'driver')?.source).toBe('env')
    expect(process.env.BEAVER_CACHE_MEMORY_MAX_ITEMS).toBeUndefined()
  })

  it('is skipped for an explicit env unless asked for', () => {
    expect(resolveConfig(schema, { env: {}, cwd: dir }).values.driver).toBe('memory')
  })
})

describe('describe()', () => {
  it('shows each value with its source, masks secrets and URL userinfo, and leaves unset settings out', () => {
    const resolved = resolveConfig(schema, {
      env: { BEAVER_CACHE_REDIS_URL: 'redis://user:hunter2@cache:6379/0', BEAVER_CACHE_REDIS_PASSWORD: 'topsecret' },
    })
    const text = resolved.describe()
    expect(text).not.toContain('hunter2')
    expect(text).not.toContain('topsecret')
    expect(text).toMatch(/^BEAVER_CACHE_REDIS_URL\s+redis:\/\/\*\*\*\*@cache:6379\/0\s+\[env\]$/m)
    expect(text).toMatch(/^BEAVER_CACHE_REDIS_PASSWORD\s+\*\*\*\*\s+\[env\]$/m)
    expect(text).toMatch(/^BEAVER_CACHE_DEFAULT_TTL\s+1h\s+\[default\]$/m)
    expect(text).toMatch(/^BEAVER_CACHE_MEMORY_MAX_SIZE\s+64mb\s+\[default\]$/m)
    expect(text).not.toMatch(/unset|BEAVER_CACHE_EXTRA/)
  })

  it('shows durations and sizes in the units they were given', () => {
    const { entries } = resolveConfig(schema, {
      env: { BEAVER_CACHE_DEFAULT_TTL: ' 90m ', BEAVER_CACHE_MEMORY_MAX_SIZE: '1.5gb' },
    })
    expect(entries.find((e) => e.path === 'defaultTtl')?.value).toBe('90m')
    expect(entries.find((e) => e.path === 'memory.maxSize')?.value).toBe('1.5gb')
    const fromNumbers = resolveConfig(schema, {
      env: {},
      options: { defaultTtl: 86_400_000, memory: { maxSize: 65_536 } },
    })
    expect(fromNumbers.entries.find((e) => e.path === 'defaultTtl')?.value).toBe('1d')
    expect(fromNumbers.entries.find((e) => e.path === 'memory.maxSize')?.value).toBe('64kb')
    expect(fromNumbers.values.defaultTtl).toBe(86_400_000)
  })
})

describe('renderEnvTable', () => {
  it('renders every variable with type, default and what it accepts', () => {
    const table = renderEnvTable(schema)
    expect(table.split('\n')[0]).toBe('| Variable | Type | Default | Accepts | Description |')
    expect(table).toContain(
      '| `BEAVER_CACHE_DRIVER` | enum | `memory` | one of memory, redis, database | Which driver stores entries |',
    )
    expect(table).toContain('`BEAVER_CACHE_MEMORY_MAX_SIZE` | bytes | `64mb`')
    expect(table).toContain('Redis password (secret)')
    expect(renderEnvTable(requiredSchema)).toContain('| `BEAVER_DB_URL`, `DATABASE_URL` | url | *required* |')
  })
})

describe('f.json with a validator', () => {
  it('accepts the value type alone and narrows through validate', () => {
    const s = defineSchema('J', {
      limits: f.json<{ max: number }>({
        doc: 'limits',
        validate: (v) => {
          if (typeof v !== 'object' || v === null || typeof (v as { max?: unknown }).max !== 'number') {
            throw new Error('expected {"max": number}')
          }
          return v as { max: number }
        },
      }),
    })
    expect(resolveConfig(s, { env: { BEAVER_J_LIMITS: '{"max":3}' } }).values.limits?.max).toBe(3)
    expect(() => resolveConfig(s, { env: { BEAVER_J_LIMITS: '{"min":3}' } })).toThrow(
      /BEAVER_J_LIMITS.*expected \{"max": number\}/,
    )
  })
})
