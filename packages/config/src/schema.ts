import { isField, type Field } from './fields.ts'
import { isForbiddenKey } from './parse.ts'

export const SCHEMA = Symbol.for('beaver-kit.config.schema')

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a shape holds fields of any value type
export type AnyField = Field<any, boolean, any>
export interface Shape {
  readonly [key: string]: AnyField | Shape
}

/** A package's env schema: its section name (`CACHE` for BEAVER_CACHE_*) and its fields. */
export interface Schema<S extends Shape = Shape> {
  readonly [SCHEMA]: true
  readonly section: string
  readonly title: string
  readonly shape: S
}

/** The resolved, frozen configuration type of a schema. */
export type InferConfig<S extends Shape> = {
  readonly [K in keyof S]: S[K] extends Field<infer T, infer P, infer _In>
    ? P extends true
      ? T
      : T | undefined
    : S[K] extends Shape
      ? InferConfig<S[K]>
      : never
}

/** What explicit options may pass for a schema: every field optional, durations as text or ms. */
export type ConfigOptions<S extends Shape> = {
  readonly [K in keyof S]?: S[K] extends Field<infer _T, infer _P, infer In>
    ? In | undefined
    : S[K] extends Shape
      ? ConfigOptions<S[K]>
      : never
}

export type SchemaConfig<X> = X extends Schema<infer S> ? InferConfig<S> : never
export type SchemaOptions<X> = X extends Schema<infer S> ? ConfigOptions<S> : never

/**
 * Declares a package's env schema once: the single source of its variable names,
 * validation, README table and describe() output.
 * @example
 * export const cacheSchema = defineSchema('CACHE', {
 *   driver: f.enum({ values: ['memory', 'redis'], default: 'memory', doc: 'Which driver stores entries' }),
 * })
 */
export function defineSchema<const S extends Shape>(section: string, shape: S, title?: string): Schema<S> {
  if (!/^[A-Z][A-Z0-9_]*$/.test(section)) throw new TypeError(`Schema section must be UPPER_SNAKE, got "${section}"`)
  checkShape(shape, section)
  return Object.freeze({ [SCHEMA]: true as const, section, title: title ?? section, shape })
}

function checkShape(shape: Shape, where: string): void {
  for (const [key, value] of Object.entries(shape)) {
    if (isForbiddenKey(key)) throw new TypeError(`Schema ${where} uses the forbidden key "${key}"`)
    if (!isField(value)) checkShape(value as Shape, `${where}.${key}`)
  }
}

export function isSchema(value: unknown): value is Schema {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[SCHEMA] === true
}

/** camelCase → UPPER_SNAKE: maxItems → MAX_ITEMS. */
export function toEnvSegment(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase()
}

export interface FieldEntry {
  path: readonly string[]
  /** The variable name without prefix: CACHE_MEMORY_MAX_ITEMS. */
  suffix: string
  field: AnyField
}

/** Every field of a schema with its path and unprefixed variable name, in declaration order. */
export function listFields(schema: Schema): FieldEntry[] {
  const out: FieldEntry[] = []
  const walk = (shape: Shape, path: string[]): void => {
    for (const [key, value] of Object.entries(shape)) {
      const next = [...path, key]
      if (isField(value))
        out.push({ path: next, suffix: [schema.section, ...next.map(toEnvSegment)].join('_'), field: value })
      else walk(value as Shape, next)
    }
  }
  walk(schema.shape, [])
  return out
}
