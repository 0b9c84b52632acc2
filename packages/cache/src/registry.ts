import { CacheError } from './errors.ts'
import type { CacheDriverDefinition } from './driver.ts'
import { memoryDriver } from './drivers/memory.ts'

// The registry holds definitions of every option type: `create` is declared as a method, so a
// definition of any options type is assignable to one of `unknown` options.
type AnyDefinition = CacheDriverDefinition<unknown>
type Loader = () => Promise<AnyDefinition>

// Built-ins other than memory load lazily, so ioredis, the database package, the AWS SDKs,
// krypto or the http client are imported only by the process that picked that driver (and
// only when it is created: a missing one is CACHE_DRIVER_PEER_MISSING naming the package).
const builtins: Record<string, Loader> = {
  memory: () => Promise.resolve(memoryDriver),
  redis: () => import('./drivers/redis.ts').then((m) => m.redisDriver),
  database: () => import('./drivers/database.ts').then((m) => m.databaseDriver),
  tiered: () => import('./tiered/cache.ts').then((m) => m.tieredDriver),
  hybrid: () => import('./hybrid/driver.ts').then((m) => m.hybridDriver),
  encrypted: () => import('./encrypted/driver.ts').then((m) => m.encryptedDriver),
  s3: () => import('./drivers/s3.ts').then((m) => m.s3Driver),
  dynamodb: () => import('./drivers/dynamodb.ts').then((m) => m.dynamoDbDriver),
  'cloudflare-kv': () => import('./drivers/cloudflare-kv.ts').then((m) => m.cloudflareKvDriver),
}
const registered = new Map<string, AnyDefinition | Loader>()

/**
 * Adds a driver under a name, so `BEAVER_CACHE_DRIVER=<name>` (or `driver: '<name>'`) picks it.
 * Pass the definition, or a function that imports it lazily. A registered name takes
 * precedence over a built-in one.
 * @example registerCacheDriver('firestore', () => import('./firestore.ts').then((m) => m.firestoreDriver))
 */
export function registerCacheDriver<O>(
  name: string,
  definition: CacheDriverDefinition<O> | (() => Promise<CacheDriverDefinition<O>>),
): void {
  if (!/^[a-z][a-z0-9-]*$/.test(name)) {
    throw new CacheError(
      'CACHE_OPTIONS_INVALID',
      `A cache driver name must be lowercase letters, digits and dashes, got "${name}".`,
    )
  }
  registered.set(name, definition as AnyDefinition | Loader)
}

/** Every driver name that can be chosen right now. */
export function cacheDriverNames(): string[] {
  return [...new Set([...Object.keys(builtins), ...registered.keys()])]
}

/** The synchronously available definition of a name (memory, or a registered definition). */
export function peekDriverDefinition(name: string): AnyDefinition | undefined {
  const own = registered.get(name)
  if (own !== undefined) return typeof own === 'function' ? undefined : own
  return name === 'memory' ? memoryDriver : undefined
}

/**
 * Loads a driver definition by name; unknown names fail with the list of known ones, naming
 * the setting that gave the name (`BEAVER_CACHE_DRIVER`, `BEAVER_CACHE_HYBRID_STORE`...).
 */
export async function loadDriverDefinition(name: string, setting?: string): Promise<AnyDefinition> {
  const own = registered.get(name)
  if (own !== undefined) return typeof own === 'function' ? own() : own
  const builtin = Object.hasOwn(builtins, name) ? builtins[name] : undefined
  if (builtin === undefined) throw unknownDriver(name, setting)
  return builtin()
}

/** CACHE_DRIVER_UNKNOWN with a "did you mean" when a known name is close. */
export function unknownDriver(name: string, setting = 'BEAVER_CACHE_DRIVER'): CacheError {
  const names = cacheDriverNames()
  const near = names.find((n) => distance(n, name) <= 2)
  return new CacheError(
    'CACHE_DRIVER_UNKNOWN',
    `${setting} is "${name}"; expected one of ${names.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}, or register it with registerCacheDriver("${name}", definition).`,
    { details: { driver: name, known: names, setting } },
  )
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1))
      prev = tmp
    }
  }
  return row[b.length] as number
}
