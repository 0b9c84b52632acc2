import {
  BYTES_ACCEPTS,
  DURATION_ACCEPTS,
  ParseIssue,
  parseBoolean,
  parseBytes,
  parseDuration,
  parseEnum,
  parseInteger,
  parseJson,
  parseList,
  parseNumber,
  parseUrl,
} from './parse.ts'
import { maskJson, maskText, maskUrl } from './secrets.ts'
import { formatBytes, formatDuration } from './units.ts'

export const FIELD = Symbol.for('beaver-kit.config.field')

export type FieldType =
  'string' | 'int' | 'number' | 'boolean' | 'duration' | 'bytes' | 'url' | 'enum' | 'list' | 'json'

/**
 * One setting of a schema. `T` is the resolved type, `Present` whether it always has a value
 * (a default or required), `In` what an explicit option may pass (`'10m'` or `600000`).
 */
export interface Field<T, Present extends boolean = boolean, In = T> {
  readonly [FIELD]: true
  readonly type: FieldType
  readonly doc: string
  readonly secret: boolean
  readonly required: boolean
  readonly default: T | undefined
  /** The default as written in the docs table. */
  readonly defaultText: string | undefined
  /** Extra variable names read verbatim (no prefix), only with the default prefix, e.g. DATABASE_URL. */
  readonly aliases: readonly string[]
  /** What the variable accepts, for errors and docs. */
  readonly accepts: string
  /** Parses an env string or validates an option value. Throws ParseIssue. */
  parse(input: string | In): T
  /**
   * How a value prints in describe(): URLs, lists and JSON masked (secret fields are masked
   * whole by the resolver), durations and sizes in the text they were given when there was one.
   */
  show(value: T, given?: string): string
  /** How a rejected input is quoted in an error: masked like `show`, never its secrets. */
  quote(input: string): string
  /** Phantom marker for inference; never set. */
  readonly __present?: Present
  readonly __input?: In
}

interface BaseOptions {
  /** One line for the docs table and describe(). */
  doc: string
  /** Masked in errors and describe(). */
  secret?: boolean
  aliases?: readonly string[]
}
type WithDefault<In> = BaseOptions & { default: In; required?: false }
type Required = BaseOptions & { required: true; default?: undefined }
type Optional = BaseOptions & { default?: undefined; required?: false }
type FieldOptions<In> = WithDefault<In> | Required | Optional
type PresentOf<O> = O extends { required: true } ? true : O extends { default: NonNullable<unknown> } ? true : false

interface Display<T> {
  show?: (value: T, given?: string) => string
  quote?: (input: string) => string
}

function make<T, In, O extends FieldOptions<In>>(
  type: FieldType,
  options: O,
  accepts: string,
  parse: (input: string | In) => T,
  display: Display<T> = {},
): Field<T, PresentOf<O>, In> {
  const rawDefault = options.default as In | undefined
  let parsedDefault: T | undefined
  if (rawDefault !== undefined) {
    try {
      parsedDefault = parse(rawDefault)
    } catch (err) {
      // A bad default is the package author's bug: fail loudly at import time.
      throw new TypeError(
        `Invalid default ${JSON.stringify(rawDefault)} for a ${type} setting: ${(err as Error).message}`,
        { cause: err },
      )
    }
  }
  return Object.freeze({
    [FIELD]: true as const,
    type,
    doc: options.doc,
    secret: options.secret ?? false,
    required: options.required ?? false,
    default: parsedDefault,
    defaultText:
      rawDefault === undefined ? undefined : typeof rawDefault === 'string' ? rawDefault : JSON.stringify(rawDefault),
    aliases: options.aliases ?? [],
    accepts,
    parse,
    show: display.show ?? ((value: T) => String(value)),
    quote: display.quote ?? ((input: string) => input),
  })
}

function expectString(input: unknown): string {
  if (typeof input !== 'string') throw new ParseIssue(`expected a string, got ${typeof input}`)
  return input
}

/** Field builders for `defineSchema`. */
export const f = {
  string<O extends FieldOptions<string> & { minLength?: number; pattern?: RegExp }>(options: O) {
    const { minLength = 0, pattern } = options
    return make<string, string, O>('string', options, 'a string', (input) => {
      const s = expectString(input)
      if (s.length < minLength) throw new ParseIssue(`expected at least ${minLength} characters`)
      if (pattern && !pattern.test(s)) throw new ParseIssue(`expected text matching ${pattern}`)
      return s
    })
  },
  int<O extends FieldOptions<number> & { min?: number; max?: number }>(options: O) {
    return make<number, number, O>('int', options, describeRange('an integer', options.min, options.max), (input) =>
      parseInteger(input, options.min, options.max),
    )
  },
  number<O extends FieldOptions<number> & { min?: number; max?: number }>(options: O) {
    return make<number, number, O>('number', options, describeRange('a number', options.min, options.max), (input) =>
      parseNumber(input, options.min, options.max),
    )
  },
  boolean<O extends FieldOptions<boolean>>(options: O) {
    return make<boolean, boolean, O>('boolean', options, 'true, false, 1, 0, yes, no', parseBoolean)
  },
  /** Resolved to milliseconds. */
  duration<O extends FieldOptions<string | number>>(options: O) {
    return make<number, string | number, O>('duration', options, DURATION_ACCEPTS, parseDuration, {
      show: (ms, given) => given ?? formatDuration(ms),
    })
  },
  /** Resolved to a number of bytes. */
  bytes<O extends FieldOptions<string | number>>(options: O) {
    return make<number, string | number, O>('bytes', options, BYTES_ACCEPTS, parseBytes, {
      show: (b, given) => given ?? formatBytes(b),
    })
  },
  /** An absolute URL, kept as a string; its userinfo and secret query parameters are masked in describe() and errors. */
  url<O extends FieldOptions<string> & { protocols?: readonly string[] }>(options: O) {
    const accepts = options.protocols
      ? `a URL (${options.protocols.map((p) => `${p}://`).join(', ')})`
      : 'an absolute URL'
    return make<string, string, O>(
      'url',
      options,
      accepts,
      (input) => parseUrl(expectString(input), options.protocols),
      { show: maskUrl, quote: maskUrl },
    )
  },
  enum<const V extends string, O extends FieldOptions<NoInfer<V>> & { values: readonly V[] }>(options: O) {
    return make<V, V, O>('enum', options, `one of ${options.values.join(', ')}`, (input) =>
      parseEnum(expectString(input), options.values),
    )
  },
  /** A comma-separated list; options may pass an array. Items holding URLs or `secret=value` are masked. */
  list<O extends FieldOptions<readonly string[]> & { of?: (item: string) => void }>(options: O) {
    return make<readonly string[], readonly string[], O>(
      'list',
      options,
      'a comma-separated list',
      (input) => {
        const items = Object.freeze(parseList(input as string | readonly string[]))
        if (options.of) for (const item of items) options.of(item)
        return items
      },
      { show: (v) => v.map(maskText).join(','), quote: (input) => parseList(input).map(maskText).join(',') },
    )
  },
  /**
   * JSON, parsed without `__proto__`/`constructor` keys; `validate` may narrow or reject.
   * Secret-named fields and URLs inside are masked in describe() and errors; text that is not
   * JSON is never quoted back.
   */
  json<
    T = unknown,
    O extends FieldOptions<T> & { validate?: (value: unknown) => T } = FieldOptions<T> & {
      validate?: (value: unknown) => T
    },
  >(options: O) {
    return make<T, T, O>(
      'json',
      options,
      'a JSON value',
      (input) => {
        const value = typeof input === 'string' ? parseJson(input) : input
        return options.validate ? options.validate(value) : (value as T)
      },
      { show: (v) => JSON.stringify(maskJson(v)), quote: quoteJson },
    )
  },
}

function describeRange(what: string, min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`
  if (min !== undefined) return `${what} >= ${min}`
  if (max !== undefined) return `${what} <= ${max}`
  return what
}

function quoteJson(input: string): string {
  try {
    return JSON.stringify(maskJson(parseJson(input)))
  } catch {
    return `(${input.length} characters that are not JSON)`
  }
}

export function isField(value: unknown): value is Field<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FIELD] === true
}
