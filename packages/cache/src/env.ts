import {
  ConfigError,
  DEFAULT_PREFIX,
  defineSchema,
  f,
  isConfigError,
  listFields,
  resolveConfig,
  type ConfigIssue,
  type ResolvedConfig,
  type Schema,
  type SchemaConfig,
  type Shape,
} from '@beaver-kit/config'
import { cacheSchema } from './config.ts'
import { cacheCloudSchema, cacheEncryptionSchema, cacheHybridSchema, cacheTiersSchema } from './config-part2.ts'

/** The environment a cache reads (`process.env` unless a `env` option gives another). */
export type CacheEnv = Readonly<Record<string, string | undefined>>

/** Where a cache reads its `<prefix>CACHE_*` variables from. */
export interface EnvSource {
  /** `BEAVER_` by default; `false` reads no environment. */
  readonly envPrefix?: string | false | undefined
  /** Default `process.env` (plus `.env`/`.env.local`). */
  readonly env?: CacheEnv | undefined
}

// Every schema of the CACHE section. Each is resolved on its own (part 1 by createCache, part 2
// by the tiered cache and the drivers that need it), so each ignores names it does not know,
// and the one unknown-name check below runs against all of them together.
const sectionSchemas: readonly Schema[] = [
  cacheSchema,
  cacheTiersSchema,
  cacheHybridSchema,
  cacheEncryptionSchema,
  cacheCloudSchema,
]

let namesOnly: Schema | undefined

/**
 * The names of every `CACHE` variable as plain optional strings: resolving it cannot fail on a
 * value (each schema validates its own), only on a name close to a known one.
 */
function namesSchema(): Schema {
  if (namesOnly !== undefined) return namesOnly
  const shape: Record<string, unknown> = {}
  for (const schema of sectionSchemas) {
    for (const { path } of listFields(schema)) {
      let at = shape
      for (const key of path.slice(0, -1)) at = (at[key] ??= {}) as Record<string, unknown>
      at[path[path.length - 1] as string] = f.string({ doc: '' })
    }
  }
  namesOnly = defineSchema('CACHE', shape as Shape, 'cache')
  return namesOnly
}

/**
 * The issues of the one unknown-variable check of the `CACHE` section: a `<prefix>CACHE_*`
 * variable that is no setting of part 1 or part 2 but close to one ("did you mean"),
 * through `@beaver-kit/config`'s own check run over the names of every cache schema.
 */
export function unknownCacheVariables(source: EnvSource): ConfigIssue[] {
  if (source.envPrefix === false) return []
  const schema = namesSchema()
  try {
    resolveConfig(schema, { envPrefix: source.envPrefix, env: source.env, unknown: 'error' })
    return []
  } catch (err) {
    if (!isConfigError(err)) throw err
    // Only the unknown names: a bad value (or _FILE) of a known variable is its own schema's to report.
    const prefix = source.envPrefix ?? DEFAULT_PREFIX
    const known = new Set(listFields(schema).flatMap((e) => [`${prefix}${e.suffix}`, `${prefix}${e.suffix}_FILE`]))
    return err.issues.filter((i) => !known.has(i.name))
  }
}

/**
 * Resolves one schema of the `CACHE` section with unknown names left to the combined check,
 * then runs that check: bad values and misspelt names of the whole section come out as one
 * ConfigError.
 * @example const values = resolveCacheSection(cacheTiersSchema, { options, envPrefix, env })
 */
export function resolveCacheSection<S extends Schema>(
  schema: S,
  opts: EnvSource & { options?: unknown },
): ResolvedConfig<SchemaConfig<S>> {
  let resolved: ResolvedConfig<SchemaConfig<S>> | undefined
  let failure: ConfigError | undefined
  try {
    resolved = resolveConfig(schema, {
      options: opts.options as never,
      envPrefix: opts.envPrefix,
      env: opts.env,
      unknown: 'ignore',
    }) as ResolvedConfig<SchemaConfig<S>>
  } catch (err) {
    if (!isConfigError(err)) throw err
    failure = err
  }
  const own = new Set(failure?.issues.map((i) => i.name))
  const unknown = unknownCacheVariables(opts).filter((i) => !own.has(i.name))
  if (failure !== undefined || unknown.length > 0)
    throw new ConfigError(schema.title, [...(failure?.issues ?? []), ...unknown])
  return resolved as ResolvedConfig<SchemaConfig<S>>
}

/**
 * Resolves a part-2 section for a driver that reads its own settings (explicit options over
 * the environment the cache was created with); names were already checked by the cache.
 */
export function readCacheSection<S extends Schema>(schema: S, source: EnvSource, options?: unknown): SchemaConfig<S> {
  return resolveConfig(schema, {
    options: options as never,
    envPrefix: source.envPrefix,
    env: source.env,
    unknown: 'ignore',
  }).values as SchemaConfig<S>
}

/**
 * The full name of a `CACHE` variable under a source's prefix, for messages:
 * `cacheVariable(src, 'S3_BUCKET')` → `BEAVER_CACHE_S3_BUCKET` (the default prefix also when
 * the cache reads no environment, as the name to look up).
 */
export function cacheVariable(source: EnvSource, suffix: string): string {
  const prefix = source.envPrefix === false || source.envPrefix === undefined ? DEFAULT_PREFIX : source.envPrefix
  return `${prefix}CACHE_${suffix}`
}

/**
 * Where a driver reads its own settings: the cache's source from its context, or no
 * environment at all when it is created directly without one (options only).
 */
export function driverSource(
  context: { readonly envPrefix?: string | false | undefined; readonly env?: CacheEnv | undefined } | undefined,
): EnvSource {
  return context === undefined ? { envPrefix: false } : { envPrefix: context.envPrefix, env: context.env }
}
