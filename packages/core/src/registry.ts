import { closest } from './suggest.ts'

/** What every driver definition has, whatever its package: a name and the optional peers it loads. */
export interface DriverDefinitionBase {
  readonly name: string
  /** The optional peer packages `create` imports; a test checks them against peerDependencies. */
  readonly peers?: readonly string[]
}

/** A definition, or a function that imports it lazily (so its peers load only when chosen). */
export type DriverSource<D> = D | (() => Promise<D>)

export type DriverRegistryErrorCode = 'DRIVER_UNKNOWN' | 'DRIVER_NAME_INVALID'

export interface DriverRegistryOptions<D> {
  /** The package noun, as messages say it: `cache`, `database`, `queue`. */
  kind: string
  /** The variable that names the driver: `BEAVER_CACHE_DRIVER`. */
  setting: string
  /** The public register function, named in the unknown-driver message: `registerCacheDriver`. */
  registerName: string
  /** Built-in drivers by name, lazily imported where they need a peer. */
  builtins: Readonly<Record<string, DriverSource<D>>>
  /** Builds the package's own error (`CacheError` with `CACHE_` + code), so its guard matches. */
  error: (code: DriverRegistryErrorCode, message: string, details: Record<string, unknown>) => Error
}

/** A package's table of drivers by name: built-ins plus what users register. */
export interface DriverRegistry<D extends DriverDefinitionBase> {
  /**
   * Adds a driver under a name (taking precedence over a built-in of that name), as a
   * definition or a function that imports one.
   */
  register(name: string, definition: DriverSource<D>): void
  /** Every name that can be chosen now. */
  names(): string[]
  has(name: string): boolean
  /** The definition when it is available without importing anything (a registered object). */
  peek(name: string): D | undefined
  /**
   * Loads a definition by name; an unknown name fails with the known names and a "did you
   * mean", naming `setting` (default: the registry's variable) as the place the name came from.
   */
  load(name: string, setting?: string): Promise<D>
  /** The unknown-driver error for a name, for callers that check names before loading. */
  unknown(name: string, setting?: string): Error
}

const NAME = /^[a-z][a-z0-9-]*$/

/**
 * One implementation of `registerXDriver(name, definition | loader)` and driver lookup by
 * name for every package, so the signature, the name rule and the messages agree kit-wide.
 * @example
 * const drivers = defineDriverRegistry<CacheDriverDefinition>({
 *   kind: 'cache', setting: 'BEAVER_CACHE_DRIVER', registerName: 'registerCacheDriver',
 *   builtins: { memory: memoryDriver, redis: () => import('./drivers/redis.ts').then((m) => m.redisDriver) },
 *   error: (code, message, details) => new CacheError(`CACHE_${code}`, message, { details }),
 * })
 * export const registerCacheDriver = drivers.register
 */
export function defineDriverRegistry<D extends DriverDefinitionBase>(
  options: DriverRegistryOptions<D>,
): DriverRegistry<D> {
  const { kind, setting: defaultSetting, registerName, builtins, error } = options
  const registered = new Map<string, DriverSource<D>>()

  const names = (): string[] => [...new Set([...Object.keys(builtins), ...registered.keys()])]
  const source = (name: string): DriverSource<D> | undefined =>
    registered.get(name) ?? (Object.hasOwn(builtins, name) ? builtins[name] : undefined)
  const isLoader = (s: DriverSource<D>): s is () => Promise<D> => typeof s === 'function'

  function unknown(name: string, setting = defaultSetting): Error {
    const known = names()
    const near = closest(name, known)
    return error(
      'DRIVER_UNKNOWN',
      `${setting} is "${name}"; expected one of ${known.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}, or register a ${kind} driver with ${registerName}("${name}", definition).`,
      { driver: name, known, setting },
    )
  }

  return {
    register(name, definition) {
      if (!NAME.test(name)) {
        throw error(
          'DRIVER_NAME_INVALID',
          `A ${kind} driver name must be lowercase letters, digits and dashes, starting with a letter; got "${name}".`,
          { driver: name },
        )
      }
      registered.set(name, definition)
    },
    names,
    has: (name) => source(name) !== undefined,
    peek(name) {
      const s = source(name)
      return s === undefined || isLoader(s) ? undefined : s
    },
    async load(name, setting) {
      const s = source(name)
      if (s === undefined) throw unknown(name, setting)
      return isLoader(s) ? s() : s
    },
    unknown,
  }
}
