// Every env schema of every package in the repository (the exports of each src/config.ts, found
// through scripts/workspaces.ts), every field, fed values that hide a secret where secrets hide:
// URL userinfo and query, list items, JSON fields, secret fields, malformed input and _FILE
// contents. Neither describe() nor a ConfigError may ever print the secret.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { isConfigError, isSchema, listFields, normalizeName, resolveConfig, type Schema } from '@beaver-kit/config'
import { workspaces } from '../../../scripts/workspaces.ts'

const root = resolve(import.meta.dirname, '../../..')
const SECRET = 'Sekr3tLEAK'
// Names that hold a credential itself (not, say, the name of a signature parameter).
const CREDENTIAL = /password|passwd|secret|apikey|privatekey|credential|token$/
const dir = mkdtempSync(join(tmpdir(), 'beaver-config-sweep-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

interface Found {
  pkg: string
  schema: Schema
}

async function allSchemas(): Promise<Found[]> {
  const found: Found[] = []
  for (const w of workspaces(root)) {
    const file = join(w.dir, 'src', 'config.ts')
    if (!existsSync(file)) continue
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>
    for (const value of Object.values(mod)) if (isSchema(value)) found.push({ pkg: w.name, schema: value })
  }
  return found
}

const schemas = await allSchemas()

function protocolOf(accepts: string): string {
  return /([a-z][a-z0-9+.-]*):\/\//.exec(accepts)?.[1] ?? 'https'
}

/** Values for one field that carry SECRET where it must be masked. */
function hostileValues(type: string, accepts: string, secret: boolean): string[] {
  const proto = protocolOf(accepts)
  const urls = [
    `${proto}://user${SECRET}:pw${SECRET}@host.example:1234/db?token=t${SECRET}&page=1`,
    `${proto}://${SECRET}@host.example/x`,
    `${proto}://app:pa/ss${SECRET}@db:5432/app`,
    `${proto}://app:${SECRET}@host:99999999`,
    `${proto}://host.example/?api_key=${SECRET}#access_token=${SECRET}`,
  ]
  switch (type) {
    case 'url':
      return urls
    case 'list':
      return [urls.join(','), `plain, authorization=${SECRET}, ${urls[2]}`]
    case 'json':
      return [
        `{"password":"${SECRET}","nested":{"dsn":"${urls[0]}","list":[{"apiKey":"${SECRET}"}]}}`,
        `{"password":"${SECRET}"`,
        `${SECRET} is not JSON`,
      ]
    default:
      // Other types only hide a secret when the field is secret; then any text must be masked.
      return secret ? [SECRET, `${SECRET} with spaces`, `${urls[0]}`] : []
  }
}

function leaksIn(text: string): boolean {
  return text.includes(SECRET) || text.includes('Sekr3t')
}

function check(schema: Schema, env: Record<string, string>, what: string): void {
  let output: string
  try {
    const resolved = resolveConfig(schema, { env, unknown: 'ignore' })
    output = `${resolved.describe()}\n${JSON.stringify(resolved.entries)}`
  } catch (err) {
    if (!isConfigError(err)) throw err
    output = `${err.message}\n${JSON.stringify(err.issues)}\n${JSON.stringify(err.details)}`
  }
  expect(leaksIn(output), `${what}\n${output}`).toBe(false)
}

describe('no package prints a secret from its configuration', () => {
  it('finds the schemas of every package', () => {
    const packages = new Set(schemas.map((s) => s.pkg))
    for (const pkg of ['@beaver-kit/cache', '@beaver-kit/database', '@beaver-kit/http', '@beaver-kit/logger']) {
      expect(packages.has(pkg), pkg).toBe(true)
    }
  })

  for (const { pkg, schema } of schemas) {
    it(`${pkg} ${schema.section}: every field, hostile values from env, options and _FILE`, () => {
      for (const { suffix, field, path } of listFields(schema)) {
        const name = `BEAVER_${suffix}`
        // A field named like a credential must be declared secret, or describe() would print it.
        if (CREDENTIAL.test(normalizeName(path.at(-1) as string))) {
          expect(field.secret, `${name} is named like a secret but not declared secret: true`).toBe(true)
        }
        for (const value of hostileValues(field.type, field.accepts, field.secret)) {
          check(schema, { [name]: value }, `${name}=${value}`)
          for (const alias of field.aliases) check(schema, { [alias]: value }, `${alias}=${value}`)
        }
        // Whatever a file holds is never printed: not in describe(), not in an error.
        const file = join(dir, suffix)
        writeFileSync(file, `${SECRET}\n`)
        check(schema, { [`${name}_FILE`]: file }, `${name}_FILE`)
      }
    })
  }
})
