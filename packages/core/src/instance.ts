import { CoreError } from './errors.ts'
import { registerForShutdown, type Closable } from './shutdown.ts'

/**
 * The surface of every kit instance (a cache, a database, a queue...): closable once and for
 * all, usable with `await using`, `ready()` to fail fast on an unreachable server (creation
 * itself does no I/O), and `describe()` to show its settings with secrets masked.
 */
export interface Instance<Description = unknown> extends Closable {
  /** Flushes and releases everything; idempotent. */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
  /** Resolves once the instance can serve (connections open, schema ready); rejects with the reason. */
  ready(options?: { signal?: AbortSignal }): Promise<void>
  /** The resolved settings and live state, secrets masked. */
  describe(): Description
}

/** The accessors every package exposes for its default instance. */
export interface DefaultInstance<T extends Closable, O> {
  /** The default instance, built on first use from the environment. */
  get(): T
  /** Configures the default before first use; throws once it exists. */
  init(options?: O): T
  /** Closes and forgets the default instance (for tests); the next `get()` builds a new one. */
  reset(): Promise<void>
  /** The default instance if it exists, without building it. */
  peek(): T | undefined
  /**
   * A new instance (not the default) configured from another env prefix:
   * `withPrefix('USER_')` reads `USER_CACHE_*`; `options` beat that environment.
   */
  withPrefix(prefix: string, options?: Omit<O, 'envPrefix'>): T
}

/** A default instance that exists now: the package that made it (`cache`, `database`) and the instance. */
export interface LiveInstance {
  readonly name: string
  /** The instance; kit instances also have `ready()`, `describe()` and often `stats()`. */
  readonly instance: Closable
}

/** A default instance created, or closed and forgotten (reset, or closed by `shutdown()`). */
export interface InstanceChange extends LiveInstance {
  readonly state: 'created' | 'closed'
}

interface LiveRegistry {
  list: LiveInstance[]
  watchers: Set<(change: InstanceChange) => void>
}
// One registry per process even when two copies of core are installed.
const LIVE_KEY = Symbol.for('beaver-kit.default-instances')
const liveStore = globalThis as typeof globalThis & { [LIVE_KEY]?: LiveRegistry }
const live: LiveRegistry = (liveStore[LIVE_KEY] ??= { list: [], watchers: new Set() })

function announce(change: InstanceChange): void {
  for (const watcher of live.watchers) watcher(change)
}

/**
 * The default instances that exist now, in order of creation. Observability packages use it
 * to find what to check or count (health pings each one's `ready()`) without any package
 * depending on them.
 */
export function defaultInstances(): readonly LiveInstance[] {
  return [...live.list]
}

/**
 * Calls `watcher` for every default instance that exists now (as `created`) and for each one
 * created or closed later. Returns the unwatch function.
 */
export function watchDefaultInstances(watcher: (change: InstanceChange) => void): () => void {
  for (const entry of live.list) watcher({ ...entry, state: 'created' })
  live.watchers.add(watcher)
  return () => {
    live.watchers.delete(watcher)
  }
}

/**
 * Builds `x()`, `initX()` and `resetX()` for a package. Creation is synchronous and does no
 * I/O, so concurrent first calls share one instance. A failing creation stores nothing: every
 * call rethrows the configuration error until the environment is fixed, and never hands out
 * a half-made instance.
 * @example
 * const def = defineDefaultInstance('cache', createCache)
 * export const cache = def.get
 * export const withPrefix = def.withPrefix
 */
export function defineDefaultInstance<T extends Closable, O extends object>(
  name: string,
  create: (options?: O) => T,
): DefaultInstance<T, O> {
  let instance: T | undefined
  let unregister: (() => void) | undefined

  function forget(value: T): void {
    const i = live.list.findIndex((entry) => entry.instance === value)
    if (i < 0) return
    const [entry] = live.list.splice(i, 1)
    announce({ ...(entry as LiveInstance), state: 'closed' })
  }

  function adopt(value: T): T {
    instance = value
    unregister = registerForShutdown(name, {
      close: async () => {
        if (instance === value) {
          instance = undefined
          unregister = undefined
        }
        forget(value)
        await value.close()
      },
    })
    const entry: LiveInstance = Object.freeze({ name, instance: value })
    live.list.push(entry)
    announce({ ...entry, state: 'created' })
    return value
  }

  return {
    get() {
      return instance ?? adopt(create())
    },
    init(options?: O) {
      if (instance) {
        throw new CoreError(
          'CORE_ALREADY_INITIALIZED',
          `The default ${name} instance already exists, so init options would be ignored. Call init before the first use, or reset it first.`,
          { details: { name } },
        )
      }
      return adopt(create(options))
    },
    async reset() {
      const current = instance
      instance = undefined
      unregister?.()
      unregister = undefined
      if (current) {
        forget(current)
        await current.close()
      }
    },
    peek() {
      return instance
    },
    withPrefix(prefix: string, options?: Omit<O, 'envPrefix'>) {
      return create({ ...options, envPrefix: prefix } as O)
    },
  }
}
