// The README's promises about where values come from: _FILE through .env, aliases, symlinked
// secret files, CRLF line ends, .env discovery from the working directory, field validators.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type ConfigError, defineSchema, f, isConfigError, resolveConfig } from '@beaver-kit/config'

const schema = defineSchema('SRC', {
  password: f.string({ secret: true, doc: 'A password' }),
  url: f.url({ aliases: ['SRC_DATABASE_URL'], doc: 'A URL' }),
  name: f.string({ minLength: 3, pattern: /^[a-z-]+$/, doc: 'A lowercase name' }),
  port: f.int({ min: 1, max: 65_535, doc: 'A port' }),
  hosts: f.list({
    doc: 'host:port items',
    of: (item) => {
      if (!/^[a-z0-9.-]+:\d+$/.test(item)) throw new Error(`"${item}" is not host:port`)
    },
  }),
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

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'beaver-config-src-'))
})
afterEach(() => {
  vi.restoreAllMocks()
  rmSync(dir, { recursive: true, force: true })
})

describe('_FILE', () => {
  it('works through .env: the file named there is read, below the real environment', () => {
    const secret = join(dir, 'db_password')
    writeFileSync(secret, 'from-file\n')
    writeFileSync(join(dir, '.env'), `BEAVER_SRC_PASSWORD_FILE=${secret}\n`)
    const { values, entries } = resolveConfig(schema, { env: {}, envFiles: ['.env'], cwd: dir })
    expect(values.password).toBe('from-file')
    expect(entries.find((e) => e.path === 'password')).toMatchObject({ source: 'dotenv', value: '****' })
    // The real environment still wins over the .env file's _FILE.
    expect(
      resolveConfig(schema, { env: { BEAVER_SRC_PASSWORD: 'real' }, envFiles: ['.env'], cwd: dir }).values.password,
    ).toBe('real')
  })

  it('follows symlinks, as Kubernetes mounts secrets (..data/ links)', () => {
    const data = join(dir, '..2026_01_01')
    mkdirSync(data)
    writeFileSync(join(data, 'password'), 'linked')
    symlinkSync(data, join(dir, '..data'))
    symlinkSync(join('..data', 'password'), join(dir, 'password'))
    expect(resolveConfig(schema, { env: { BEAVER_SRC_PASSWORD_FILE: join(dir, 'password') } }).values.password).toBe(
      'linked',
    )
  })

  it('drops one trailing CRLF or LF and keeps everything else', () => {
    const crlf = join(dir, 'crlf')
    writeFileSync(crlf, 'windows\r\n')
    expect(resolveConfig(schema, { env: { BEAVER_SRC_PASSWORD_FILE: crlf } }).values.password).toBe('windows')
    const inner = join(dir, 'inner')
    writeFileSync(inner, ' two\nlines \n\n')
    expect(resolveConfig(schema, { env: { BEAVER_SRC_PASSWORD_FILE: inner } }).values.password).toBe(' two\nlines \n')
  })

  it('works for an alias too (SRC_DATABASE_URL_FILE)', () => {
    const file = join(dir, 'url')
    writeFileSync(file, 'postgres://db/app\n')
    expect(resolveConfig(schema, { env: { SRC_DATABASE_URL_FILE: file } }).values.url).toBe('postgres://db/app')
  })
})

describe('.env files', () => {
  it('are found in the working directory when nothing else is said', () => {
    writeFileSync(join(dir, '.env'), 'BEAVER_SRC_NAME=from-dotenv\r\nBEAVER_SRC_PORT=80\r\n')
    writeFileSync(join(dir, '.env.local'), 'BEAVER_SRC_PORT=8080\n')
    vi.spyOn(process, 'cwd').mockReturnValue(dir)
    for (const key of Object.keys(process.env)) if (key.startsWith('BEAVER_SRC_')) vi.stubEnv(key, undefined)
    const { values, entries } = resolveConfig(schema)
    // CRLF line ends in .env leave no \r in the values.
    expect(values.name).toBe('from-dotenv')
    expect(values.port).toBe(8080)
    expect(entries.find((e) => e.path === 'port')?.source).toBe('dotenv')
    vi.unstubAllEnvs()
  })

  it('are not read with an explicit env, nor with envPrefix false', () => {
    writeFileSync(join(dir, '.env'), 'BEAVER_SRC_NAME=from-dotenv\n')
    vi.spyOn(process, 'cwd').mockReturnValue(dir)
    expect(resolveConfig(schema, { env: {} }).values.name).toBeUndefined()
    expect(resolveConfig(schema, { envPrefix: false }).values.name).toBeUndefined()
  })
})

describe('aliases', () => {
  it('are read verbatim with the default prefix, lose to the prefixed name, and are named in errors', () => {
    expect(resolveConfig(schema, { env: { SRC_DATABASE_URL: 'postgres://alias/db' } }).values.url).toBe(
      'postgres://alias/db',
    )
    expect(
      resolveConfig(schema, { env: { SRC_DATABASE_URL: 'postgres://alias/db', BEAVER_SRC_URL: 'postgres://main/db' } })
        .values.url,
    ).toBe('postgres://main/db')
    const err = errorOf(() => resolveConfig(schema, { env: { SRC_DATABASE_URL: 'not a url' } }))
    expect(err.issues.map((i) => i.name)).toEqual(['SRC_DATABASE_URL'])
  })
})

describe('field validators', () => {
  it('refuse a value with the variable, what was found and what is accepted', () => {
    const err = errorOf(() =>
      resolveConfig(schema, {
        env: {
          BEAVER_SRC_NAME: 'AB',
          BEAVER_SRC_PORT: '70000',
          BEAVER_SRC_HOSTS: 'a:1, b',
        },
      }),
    )
    expect(err.issues).toEqual([
      { name: 'BEAVER_SRC_NAME', found: 'AB', expected: 'expected at least 3 characters' },
      { name: 'BEAVER_SRC_PORT', found: '70000', expected: 'is out of range; expected a number from 1 to 65535' },
      { name: 'BEAVER_SRC_HOSTS', found: 'a:1,b', expected: '"b" is not host:port (expected a comma-separated list)' },
    ])
    expect(errorOf(() => resolveConfig(schema, { env: { BEAVER_SRC_NAME: 'abc1' } })).issues[0]?.expected).toBe(
      'expected text matching /^[a-z-]+$/',
    )
    expect(
      resolveConfig(schema, { env: { BEAVER_SRC_NAME: 'abc', BEAVER_SRC_HOSTS: 'a:1,b.c:2' } }).values,
    ).toMatchObject({ name: 'abc', hosts: ['a:1', 'b.c:2'] })
  })
})
