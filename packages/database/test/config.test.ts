import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { isCoreError } from '@beaver-kit/core'
import {
  createDatabase,
  db,
  initDatabase,
  isDatabaseError,
  resetDatabase,
  withPrefix,
  type Database,
} from '../src/index.ts'
import { connectionSettings, fileFromUrl } from '../src/settings.ts'
import { dbSchema } from '../src/config.ts'
import { resolveConfig } from '@beaver-kit/config'

const open: Database[] = []
function make(...args: Parameters<typeof createDatabase>): Database {
  const d = createDatabase(...args)
  open.push(d)
  return d
}

afterEach(async () => {
  for (const d of open.splice(0)) await d.close()
  await resetDatabase()
})

function settings(env: Record<string, string>) {
  const { values } = resolveConfig(dbSchema, { env, envFiles: false })
  return connectionSettings(values, values.url, values.driver)
}

describe('configuration', () => {
  it('defaults to SQLite in ./data/beaver.db with nothing set', () => {
    const d = make({ env: {} })
    expect(d.driver).toBe('sqlite')
    expect(d.dialect).toBe('sqlite')
    expect(settings({}).file).toBe('./data/beaver.db')
  })

  it('picks the driver from the URL scheme, reads DATABASE_URL as an alias, and BEAVER_DB_DRIVER wins', () => {
    expect(make({ env: { DATABASE_URL: 'postgres://u:p@h:6543/app' } }).driver).toBe('postgres')
    expect(make({ env: { BEAVER_DB_URL: 'mariadb://root@h/app' } }).dialect).toBe('mysql')
    expect(make({ env: { BEAVER_DB_URL: 'libsql:./x.db' } }).driver).toBe('libsql')
    expect(make({ env: { BEAVER_DB_URL: 'sqlite:./x.db', BEAVER_DB_DRIVER: 'libsql' } }).driver).toBe('libsql')
    const s = settings({
      DATABASE_URL: 'postgres://us%40er:p%3Ass@db.example:6543/app?sslmode=require&options=-c%20search_path%3Dapp',
    })
    expect(s).toMatchObject({
      host: 'db.example',
      port: 6543,
      user: 'us@er',
      password: 'p:ss',
      database: 'app',
      ssl: 'require',
    })
    expect(s.params.options).toBe('-c search_path=app')
  })

  it('builds server settings from separate fields, which win over the URL parts', () => {
    const s = settings({
      BEAVER_DB_DRIVER: 'postgres',
      BEAVER_DB_HOST: 'pg.internal',
      BEAVER_DB_USER: 'app',
      BEAVER_DB_PASSWORD: 'secret',
      BEAVER_DB_DATABASE: 'links',
      BEAVER_DB_POOL_MAX: '25',
      BEAVER_DB_POOL_IDLE_TIMEOUT: '30s',
    })
    expect(s).toMatchObject({
      driver: 'postgres',
      host: 'pg.internal',
      port: 5432,
      user: 'app',
      password: 'secret',
      database: 'links',
    })
    expect(s.pool).toMatchObject({ max: 25, idleTimeoutMs: 30_000 })
    expect(settings({ BEAVER_DB_URL: 'mysql://a:b@h/x', BEAVER_DB_PASSWORD: 'from-file' }).password).toBe('from-file')
  })

  it('reads SQLite file URLs in every common form', () => {
    expect(fileFromUrl('sqlite::memory:')).toBe(':memory:')
    expect(fileFromUrl('sqlite:./data/app.db')).toBe('./data/app.db')
    expect(fileFromUrl('sqlite:///var/lib/app.db')).toBe('/var/lib/app.db')
    expect(fileFromUrl('file:app.db?mode=rwc')).toBe('app.db')
  })

  it('rejects an unknown driver and a bad setting at creation, naming the variable', () => {
    const err = (() => {
      try {
        make({ env: { BEAVER_DB_DRIVER: 'oracle' } })
      } catch (e) {
        return e
      }
    })()
    expect(isDatabaseError(err, 'DB_DRIVER_UNKNOWN')).toBe(true)
    expect((err as Error).message).toMatch(/postgres, mysql, sqlite, libsql/)
    expect(() => make({ env: { BEAVER_DB_POOL_MAX: 'lots' } })).toThrow(/BEAVER_DB_POOL_MAX/)
    expect(() => make({ env: { BEAVER_DB_URL: 'redis://x' } })).toThrow(/BEAVER_DB_URL/)
    const typo = (() => {
      try {
        make({ env: { BEAVER_DB_POOL_MAXX: '3' } })
      } catch (e) {
        return e
      }
    })()
    expect(isConfigError(typo)).toBe(true)
  })

  it('describes itself with the password masked, the settings of its driver only, and its state', () => {
    const d = make({ env: { BEAVER_DB_URL: 'postgres://app:hunter2@h/app', BEAVER_DB_PASSWORD: 'hunter3' } })
    const description = d.describe()
    expect(JSON.stringify(description)).not.toMatch(/hunter[23]/)
    expect(description).toMatchObject({ package: 'database', envPrefix: 'BEAVER_' })
    expect(description.state).toMatchObject({ driver: 'postgres', dialect: 'postgres', open: false, closed: false })
    const names = description.settings.map((s) => s.name)
    expect(names).toContain('BEAVER_DB_URL')
    expect(description.settings.find((s) => s.name === 'BEAVER_DB_PASSWORD')).toMatchObject({
      value: '****',
      source: 'env',
    })
    // PostgreSQL reads no SQLite file: the default file setting is not shown.
    expect(names).not.toContain('BEAVER_DB_FILE')
    expect(names).not.toContain('BEAVER_DB_BUSY_TIMEOUT')
    const sqlite = make({ env: {}, url: 'sqlite::memory:' }).describe()
    expect(sqlite.settings.map((s) => s.name)).toContain('BEAVER_DB_FILE')
    expect(sqlite.settings.map((s) => s.name)).not.toContain('BEAVER_DB_APPLICATION_NAME')
  })

  it('creates without I/O: an unreachable server fails on first use with DB_CONNECTION, not at creation', async () => {
    const d = make({ env: {}, url: 'postgres://nobody@127.0.0.1:1/none', pool: { connectTimeout: 500 } })
    const err = await d.ready().catch((e: unknown) => e)
    expect(isDatabaseError(err, 'DB_CONNECTION')).toBe(true)
    const health = await d.health()
    expect(health.ok).toBe(false)
    expect(health.error).toMatch(/ECONNREFUSED|connect/)
  })

  it('applies pending migrations in ready() when BEAVER_DB_MIGRATIONS_AUTO is on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beaver-auto-'))
    try {
      writeFileSync(join(dir, '0001_links.sql'), '-- migrate:up\ncreate table links (slug text primary key);\n')
      const d = make({
        env: { BEAVER_DB_URL: 'sqlite::memory:', BEAVER_DB_MIGRATIONS_AUTO: 'true', BEAVER_DB_MIGRATIONS_DIR: dir },
      })
      await d.ready()
      expect(await d.many('select slug from links')).toEqual([])
      expect((await d.migrator().status()).map((s) => s.state)).toEqual(['applied'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reads another prefix with withPrefix()', () => {
    const d = withPrefix('ANALYTICS_', {
      env: { ANALYTICS_DB_URL: 'mysql://r@h/a', BEAVER_DB_URL: 'postgres://x@h/y' },
    })
    open.push(d)
    expect(d.driver).toBe('mysql')
  })
})

describe('default instance', () => {
  it('builds db() lazily, refuses initDatabase() once it exists, and resets', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beaver-default-'))
    try {
      const first = initDatabase({ env: {}, url: `sqlite:${join(dir, 'd.db')}` })
      expect(db()).toBe(first)
      expect(await db().one<{ x: number }>('select 1 as x')).toEqual({ x: 1 })
      const err = (() => {
        try {
          initDatabase({ env: {} })
        } catch (e) {
          return e
        }
      })()
      expect(isCoreError(err, 'CORE_ALREADY_INITIALIZED')).toBe(true)
      await resetDatabase()
      expect(isDatabaseError(await first.query('select 1').catch((e: unknown) => e), 'DB_CLOSED')).toBe(true)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('pings with the latency in ms rounded to 0.01 ms', async () => {
    const d = make({ env: {}, url: 'sqlite::memory:' })
    const samples = [await d.ping(), await d.ping(), (await d.health()).latencyMs as number]
    for (const ms of samples) {
      expect(ms).toBeGreaterThanOrEqual(0)
      expect(Math.round(ms * 100) / 100).toBe(ms)
      expect(String(ms)).toMatch(/^\d+(\.\d{1,2})?$/)
    }
  })

  it('closes on asyncDispose, idempotently', async () => {
    let leaked: Database | undefined
    {
      await using d = createDatabase({ env: {}, url: 'sqlite::memory:' })
      leaked = d
      await d.execute('create table t (id integer)')
    }
    expect(isDatabaseError(await leaked.query('select 1').catch((e: unknown) => e), 'DB_CLOSED')).toBe(true)
    await leaked.close()
  })
})
