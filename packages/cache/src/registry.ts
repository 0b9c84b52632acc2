import { defineDriverRegistry } from '@beaver-kit/core'
import { CacheError, type CacheErrorCode } from './errors.ts'
import type { CacheDriverDefinition } from './driver.ts'
import { memoryDriver } from './drivers/memory.ts'

// Built-ins other than memory load lazily, so ioredis, the database package, the AWS SDKs,
// krypto or the http client are imported only by the process that picked that driver (and
// only when it is created: a missing one is CORE_PEER_MISSING naming the package).
const drivers = defineDriverRegistry<CacheDriverDefinition<unknown>>({
  kind: 'cache',
  setting: 'BEAVER_CACHE_DRIVER',
  registerName: 'registerCacheDriver',
  builtins: {
    memory: memoryDriver,
    redis: () => import('./drivers/redis.ts').then((m) => m.redisDriver),
    database: () => import('./drivers/database.ts').then((m) => m.databaseDriver),
    tiered: () => import('./tiered/definition.ts').then((m) => m.tieredDriver),
    hybrid: () => import('./hybrid/definition.ts').then((m) => m.hybridDriver),
    encrypted: () => import('./encrypted/driver.ts').then((m) => m.encryptedDriver),
    s3: () => import('./drivers/s3.ts').then((m) => m.s3Driver),
    dynamodb: () => import('./drivers/dynamodb.ts').then((m) => m.dynamoDbDriver),
    'cloudflare-kv': () => import('./drivers/cloudflare-kv.ts').then((m) => m.cloudflareKvDriver),
  },
  error: (code, message, details) => new CacheError(`CACHE_${code}` as CacheErrorCode, message, { details }),
})

/** The cache's driver table (internal: the facade loads definitions through it). */
export const cacheDrivers = drivers

/**
 * Adds a driver under a name, so `BEAVER_CACHE_DRIVER=<name>` (or `driver: '<name>'`, a tier
 * name, a hybrid store...) picks it. Pass the definition, or a function that imports it lazily.
 * A registered name takes precedence over a built-in one.
 * @example registerCacheDriver('firestore', () => import('./firestore.ts').then((m) => m.firestoreDriver))
 */
export function registerCacheDriver<O>(
  name: string,
  definition: CacheDriverDefinition<O> | (() => Promise<CacheDriverDefinition<O>>),
): void {
  drivers.register(name, definition as CacheDriverDefinition<unknown> | (() => Promise<CacheDriverDefinition<unknown>>))
}

/** Every driver name that can be chosen right now. */
export function cacheDriverNames(): string[] {
  return drivers.names()
}
