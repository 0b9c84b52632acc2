import { readFileSync } from 'node:fs'
import { ConfigError, type ConfigIssue } from './errors.ts'
import { readEnvFiles, type EnvVars } from './dotenv.ts'
import { ParseIssue, isForbiddenKey } from './parse.ts'
import {
  listFields,
  type AnyField,
  type ConfigOptions,
  type FieldEntry,
  type InferConfig,
  type Schema,
  type Shape,
} from './schema.ts'
import { MASK, maskJson, maskUrlsIn } from './secrets.ts'
import { closest } from '@beaver-kit/core'

export const DEFAULT_PREFIX = 'BEAVER_'

export type ValueSource = 'option' | 'env' | 'env-file' | 'dotenv' | 'default' | 'unset'

/** One resolved setting as describe() shows it: secrets masked. */
export interface DescribedValue {
  name: string
  path: string
  value: string | undefined
  source: ValueSource
  secret: boolean
  doc: string
}

export interface ResolveOptions<S extends Shape> {
  /** Explicit options: they beat the environment. */
  options?: ConfigOptions<S> | undefined
  /** `BEAVER_` by default; another prefix gives another instance; `false` reads no env at all. */
  envPrefix?: string | false | undefined
  /** The environment to read. Default process.env. */
  env?: EnvVars
  /** Env files read under the real environment (never overriding it). Default `.env`, `.env.local` when `env` is process.env. */
  envFiles?: readonly string[] | false
  cwd?: string
  /** What to do with an unknown variable of this section that is close to a known one. Default 'error'. */
  unknown?: 'error' | 'ignore'
}

export interface ResolvedConfig<T> {
  /** The frozen values. */
  readonly values: T
  /** Each setting with its source, secrets masked. */
  readonly entries: readonly DescribedValue[]
  /** A printable table of `entries`. */
  describe(): string
}

interface Layer {
  source: 'env' | 'dotenv'
  vars: EnvVars
}

/**
 * Resolves a schema once: explicit options > environment (with `_FILE` indirection) >
 * `.env.local` > `.env` > defaults. Every problem is collected into one ConfigError.
 * @example const { values } = resolveConfig(cacheSchema, { options, envPrefix })
 */
export function resolveConfig<S extends Shape>(
  schema: Schema<S>,
  opts: ResolveOptions<S> = {},
): ResolvedConfig<InferConfig<S>> {
  const prefix = opts.envPrefix === false ? undefined : (opts.envPrefix ?? DEFAULT_PREFIX)
  const env = opts.env ?? process.env
  const files = opts.envFiles ?? (opts.env === undefined ? ['.env', '.env.local'] : false)
  const layers: Layer[] = []
  if (prefix !== undefined) {
    layers.push({ source: 'env', vars: env })
    if (files !== false && files.length > 0) {
      // .env.local beats .env; both lose to the real environment.
      layers.push({ source: 'dotenv', vars: readEnvFiles(opts.cwd ?? process.cwd(), files) })
    }
  }

  const issues: ConfigIssue[] = []
  const entries: DescribedValue[] = []
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  const fields = listFields(schema)

  for (const entry of fields) {
    const { field } = entry
    const name = prefix === undefined ? `${entry.suffix}` : `${prefix}${entry.suffix}`
    let value: unknown
    let given: string | undefined
    let source: ValueSource = 'unset'
    // A value read from a file (NAME_FILE) is never printed back, secret or not.
    let fromFile = false

    const optionValue = getPath(opts.options as Record<string, unknown> | undefined, entry.path)
    if (optionValue !== undefined) {
      source = 'option'
      if (typeof optionValue === 'string') given = optionValue.trim()
      try {
        value = field.parse(optionValue as string)
      } catch (err) {
        issues.push({
          name: `option ${entry.path.join('.')}`,
          found: quoteOption(field, optionValue),
          expected: issueText(err, field, typeof optionValue === 'string' ? optionValue : undefined, field.secret),
        })
        continue
      }
    } else {
      const names = prefix === DEFAULT_PREFIX ? [name, ...field.aliases] : [name]
      const found = findRaw(layers, names, issues)
      if (found) {
        source = found.source
        fromFile = found.file !== undefined
        const raw = found.raw
        if (raw === '' || (field.type !== 'string' && raw.trim() === '')) {
          // An empty variable counts as unset (docker-compose passes FOO= for "no value").
          source = 'unset'
        } else {
          given = raw.trim()
          try {
            value = field.parse(raw)
          } catch (err) {
            issues.push(
              found.file === undefined
                ? {
                    name: found.name,
                    found: field.secret ? MASK : field.quote(raw),
                    expected: issueText(err, field, raw, field.secret),
                  }
                : {
                    // A file's contents are never quoted back, secret or not: only where they came from.
                    name: `${found.name}_FILE`,
                    found: found.file,
                    expected: `the file holds a value that is not valid: ${issueText(err, field, raw, true)}`,
                  },
            )
            continue
          }
        }
      }
    }
    if (source === 'unset' && field.default !== undefined) {
      value = field.default
      given = field.defaultText
      source = 'default'
    }
    if (value === undefined && field.required) {
      issues.push({ name, found: undefined, expected: `is required: ${field.doc} (${field.accepts})` })
      continue
    }
    setPath(root, entry.path, value)
    entries.push({
      name,
      path: entry.path.join('.'),
      value: value === undefined ? undefined : field.secret || fromFile ? MASK : field.show(value, given),
      source,
      secret: field.secret,
      doc: field.doc,
    })
  }

  if (prefix !== undefined && opts.unknown !== 'ignore') checkUnknown(layers, prefix, schema, fields, issues)
  if (issues.length > 0) throw new ConfigError(schema.title, issues)

  const values = deepFreeze(root) as InferConfig<S>
  const frozenEntries = Object.freeze(entries)
  return Object.freeze({
    values,
    entries: frozenEntries,
    describe: () => formatEntries(frozenEntries),
  })
}

interface RawValue {
  name: string
  raw: string
  source: 'env' | 'env-file' | 'dotenv'
  /** The file the value was read from (`NAME_FILE`). */
  file?: string
}

function findRaw(layers: Layer[], names: string[], issues: ConfigIssue[]): RawValue | undefined {
  for (const layer of layers) {
    for (const name of names) {
      const direct = layer.vars[name]
      const file = layer.vars[`${name}_FILE`]
      if (direct !== undefined && file !== undefined) {
        issues.push({ name: `${name}_FILE`, found: file, expected: `set either ${name} or ${name}_FILE, not both` })
        return undefined
      }
      if (direct !== undefined) return { name, raw: direct, source: layer.source }
      if (file !== undefined) {
        try {
          // Container secrets end with a newline that is not part of the value.
          const raw = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
          return { name, raw, source: layer.source === 'env' ? 'env-file' : 'dotenv', file }
        } catch (err) {
          issues.push({
            name: `${name}_FILE`,
            found: file,
            expected: `a readable file holding the value of ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
          })
          return undefined
        }
      }
    }
  }
  return undefined
}

function checkUnknown(
  layers: Layer[],
  prefix: string,
  schema: Schema,
  fields: FieldEntry[],
  issues: ConfigIssue[],
): void {
  const sectionPrefix = `${prefix}${schema.section}_`
  const known = new Set<string>()
  for (const f of fields) {
    known.add(`${prefix}${f.suffix}`)
    known.add(`${prefix}${f.suffix}_FILE`)
  }
  const seen = new Set<string>()
  for (const layer of layers) {
    for (const key of Object.keys(layer.vars)) {
      if (!key.startsWith(sectionPrefix) || known.has(key) || seen.has(key)) continue
      seen.add(key)
      const suggestion = closest(key, known)
      if (suggestion) {
        issues.push({ name: key, found: undefined, expected: `is not a known setting; did you mean ${suggestion}?` })
      }
    }
  }
}

// How a rejected option is quoted in an error: masked like describe(), never a secret.
function quoteOption(field: AnyField, value: unknown): string {
  if (field.secret) return MASK
  if (typeof value === 'string') return field.quote(value)
  if (Array.isArray(value)) return field.quote(value.map(String).join(','))
  if (typeof value === 'object' && value !== null) return JSON.stringify(maskJson(value))
  return String(value)
}

/**
 * What a parser or a field's own validator said, with the rejected input masked wherever it is
 * repeated: a validator may quote the value (`"redis://u:pw@h" is not an HTTP method`), and the
 * message must not print what `found` masks. `hide` masks the input whole (secret, or from a file).
 */
function issueText(err: unknown, field: AnyField, raw: string | undefined, hide: boolean): string {
  let text =
    err instanceof ParseIssue ? err.message : `${(err as Error).message ?? String(err)} (expected ${field.accepts})`
  if (raw === undefined) return maskUrlsIn(text)
  const pieces = [raw.trim(), ...(field.type === 'list' ? raw.split(',').map((p) => p.trim()) : [])]
  for (const piece of pieces.filter((p) => p.length >= 3).sort((a, b) => b.length - a.length)) {
    const masked = hide ? MASK : field.quote(piece)
    if (masked !== piece) text = text.split(piece).join(masked)
  }
  return maskUrlsIn(text)
}

function getPath(obj: Record<string, unknown> | undefined, path: readonly string[]): unknown {
  let cur: unknown = obj
  for (const key of path) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) return undefined
    cur = (cur as Record<string, unknown>)[key]
  }
  return cur
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let cur = root
  for (const key of path.slice(0, -1)) {
    if (isForbiddenKey(key)) return
    cur[key] ??= Object.create(null) as Record<string, unknown>
    cur = cur[key] as Record<string, unknown>
  }
  cur[path[path.length - 1] as string] = value
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/** A text table of the settings that have a value (`name  value  [source]`), for start-up logs. */
export function formatEntries(entries: readonly DescribedValue[]): string {
  const set = entries.filter((e) => e.value !== undefined)
  const width = Math.max(0, ...set.map((e) => e.name.length))
  const valueWidth = Math.max(0, ...set.map((e) => (e.value as string).length))
  return set.map((e) => `${e.name.padEnd(width)}  ${(e.value as string).padEnd(valueWidth)}  [${e.source}]`).join('\n')
}
