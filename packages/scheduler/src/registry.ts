import { defineDriverRegistry, type DriverSource } from '@beaver-kit/core'
import { SchedulerError } from './errors.ts'
import type { SchedulerStoreDefinition } from './store.ts'
import { memoryStore } from './stores/memory.ts'

type AnyDefinition = SchedulerStoreDefinition<never>

// Every built-in but memory loads lazily, so ioredis or the database package are imported only
// by the process that picked that store (a missing one is CORE_PEER_MISSING naming it).
const stores = defineDriverRegistry<AnyDefinition>({
  kind: 'scheduler store',
  setting: 'BEAVER_SCHEDULER_STORE',
  registerName: 'registerSchedulerStore',
  builtins: {
    memory: memoryStore as AnyDefinition,
    sqlite: () => import('./stores/sql.ts').then((m) => m.sqliteStore as AnyDefinition),
    postgres: () => import('./stores/sql.ts').then((m) => m.postgresStore as AnyDefinition),
    mysql: () => import('./stores/sql.ts').then((m) => m.mysqlStore as AnyDefinition),
    redis: () => import('./stores/redis.ts').then((m) => m.redisStore as AnyDefinition),
  },
  error: (code, message, details) =>
    new SchedulerError(
      code === 'DRIVER_UNKNOWN' ? 'SCHEDULER_STORE_UNKNOWN' : 'SCHEDULER_STORE_NAME_INVALID',
      message,
      {
        details,
      },
    ),
})

/**
 * Adds a store under a name, so `BEAVER_SCHEDULER_STORE=<name>` (or `store: '<name>'`) picks it.
 * Pass the definition, or a function that imports it lazily.
 * @example registerSchedulerStore('etcd', () => import('./etcd.ts').then((m) => m.etcdStore))
 */
export function registerSchedulerStore<O>(
  name: string,
  definition: SchedulerStoreDefinition<O> | (() => Promise<SchedulerStoreDefinition<O>>),
): void {
  stores.register(name, definition as DriverSource<AnyDefinition>)
}

/** Every store name that can be chosen now. */
export const schedulerStoreNames = (): string[] => stores.names()

/** Loads a definition by name (unknown names fail with the list and a "did you mean"). */
export const loadSchedulerStore = (name: string): Promise<AnyDefinition> => stores.load(name)

/** Whether a name is known, for the check at creation. */
export const hasSchedulerStore = (name: string): boolean => stores.has(name)

/** The unknown-store error, thrown at creation for a name that is not known. */
export const unknownSchedulerStore = (name: string): Error => stores.unknown(name)
