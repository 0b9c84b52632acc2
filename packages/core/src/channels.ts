import dc from 'node:diagnostics_channel'

const KEY = Symbol.for('beaver-kit.channels')
interface ChannelRegistry {
  names: Set<string>
  watchers: Set<(name: string) => void>
}
const store = globalThis as typeof globalThis & { [KEY]?: ChannelRegistry }
const registry: ChannelRegistry = (store[KEY] ??= { names: new Set(), watchers: new Set() })

function announce(name: string): void {
  if (registry.names.has(name)) return
  registry.names.add(name)
  for (const w of registry.watchers) w(name)
}

/** The tracing channel `beaver:<pkg>:<op>` (start/end/asyncStart/asyncEnd/error sub-channels). */
export function tracingChannel<Context extends object>(pkg: string, op: string): dc.TracingChannel<unknown, Context> {
  const name = `beaver:${pkg}:${op}`
  announce(name)
  return dc.tracingChannel<unknown, Context>(name)
}

/** A plain event channel `beaver:<pkg>:<event>` for state changes (breaker opened, tier degraded). */
export function eventChannel(pkg: string, event: string): dc.Channel {
  const name = `beaver:${pkg}:${event}`
  announce(name)
  return dc.channel(name)
}

/**
 * Runs `fn` inside the tracing channel when someone listens; otherwise calls it directly, so
 * an unobserved operation pays one property read. `context` is only built when traced.
 * Unlike `tracePromise`, the resolved value is never put on the context: subscribers see what
 * the package chose to publish (keys, timings, outcome), never cached values or rows.
 * The observed path costs the context, one `.then` and the publishes: no wrapper closures.
 */
export function traceAsync<T, Context extends object>(
  channel: dc.TracingChannel<unknown, Context>,
  context: () => Context,
  fn: () => Promise<T>,
): Promise<T> {
  if (!channel.hasSubscribers) return fn()
  const ctx = context()
  // runStores only when something listens to `start` or binds a store to it (tracing does):
  // an observer of the end alone (a counter) never needs the store machinery.
  if (!channel.start.hasSubscribers) return runObserved(channel, ctx, fn)
  return channel.start.runStores(ctx, runObserved<T, Context>, undefined, channel, ctx, fn)
}

function runObserved<T, Context extends object>(
  channel: dc.TracingChannel<unknown, Context>,
  ctx: Context,
  fn: () => Promise<T>,
): Promise<T> {
  let promise: Promise<T>
  try {
    promise = fn()
  } catch (error) {
    ;(ctx as { error?: unknown }).error = error
    channel.error.publish(ctx)
    channel.end.publish(ctx)
    throw error
  }
  channel.end.publish(ctx)
  return promise.then(
    (value) => {
      channel.asyncStart.publish(ctx)
      channel.asyncEnd.publish(ctx)
      return value
    },
    (error: unknown) => {
      ;(ctx as { error?: unknown }).error = error
      channel.error.publish(ctx)
      channel.asyncStart.publish(ctx)
      channel.asyncEnd.publish(ctx)
      throw error
    },
  )
}

/**
 * The synchronous counterpart of `traceAsync` for an operation that answers at once (a memory
 * cache read): start and end only, as `traceSync` publishes them, with `result` set to
 * undefined (the value is never published) so observers know the operation is over at `end`.
 */
export function traceNow<T, Context extends object>(
  channel: dc.TracingChannel<unknown, Context>,
  ctx: Context,
  fn: (ctx: Context) => T,
): T {
  if (!channel.start.hasSubscribers) return runNow(channel, ctx, fn)
  return channel.start.runStores(ctx, runNow<T, Context>, undefined, channel, ctx, fn)
}

function runNow<T, Context extends object>(
  channel: dc.TracingChannel<unknown, Context>,
  ctx: Context,
  fn: (ctx: Context) => T,
): T {
  try {
    const value = fn(ctx)
    ;(ctx as { result?: unknown }).result = undefined
    return value
  } catch (error) {
    ;(ctx as { error?: unknown }).error = error
    channel.error.publish(ctx)
    throw error
  } finally {
    channel.end.publish(ctx)
  }
}

/**
 * Calls `watcher` with the name of every `beaver:*` channel that exists now and every one
 * created later (diagnostics_channel has no wildcard subscription). Returns the unwatch function.
 */
export function watchChannels(watcher: (name: string) => void): () => void {
  for (const name of registry.names) watcher(name)
  registry.watchers.add(watcher)
  return () => {
    registry.watchers.delete(watcher)
  }
}

declare const PAYLOAD: unique symbol

/** A channel declared in a package's `channels.ts`: its kind, what it reports, and its payload. */
export interface ChannelSpec<Kind extends 'tracing' | 'event', Payload extends object> {
  readonly kind: Kind
  readonly doc: string
  /** The payload's fields, as the README's Diagnostics table lists them. */
  readonly payload: string
  readonly [PAYLOAD]?: Payload
}

/**
 * Declares a tracing channel (start/end/asyncStart/asyncEnd/error) for an operation.
 * @example getMany: tracing<{ namespace: string; count: number }>('A batch read', 'namespace, count')
 */
export function tracing<Payload extends object>(doc: string, payload: string): ChannelSpec<'tracing', Payload> {
  return { kind: 'tracing', doc, payload }
}

/**
 * Declares a plain event channel for a state change (breaker opened, connection lost).
 * @example breakerOpen: event<{ host: string }>('A circuit opened', 'host')
 */
export function event<Payload extends object>(doc: string, payload: string): ChannelSpec<'event', Payload> {
  return { kind: 'event', doc, payload }
}

type Built<S> =
  S extends ChannelSpec<'tracing', infer P>
    ? dc.TracingChannel<unknown, P>
    : S extends ChannelSpec<'event', infer P>
      ? TypedChannel<P>
      : never

/** A plain channel whose `publish` takes the declared payload. */
export interface TypedChannel<Payload extends object> extends dc.Channel {
  publish(message: Payload): void
}

/** One row of a package's Diagnostics table. */
export interface ChannelInfo {
  readonly name: string
  readonly kind: 'tracing' | 'event'
  readonly doc: string
  readonly payload: string
}

export type DeclaredChannels<T extends Record<string, ChannelSpec<'tracing' | 'event', object>>> = {
  readonly [K in keyof T]: Built<T[K]>
} & { readonly [CHANNEL_LIST]: readonly ChannelInfo[] }

const CHANNEL_LIST = Symbol.for('beaver-kit.channel-list')
const OPERATION = /^[a-z][a-zA-Z0-9]*$/

/**
 * Declares every diagnostics channel of a package in one place, named
 * `beaver:<package>:<operation>` with the operation in camelCase (`beaver:cache:getMany`).
 * The result holds the built channels by operation; `listChannels()` gives the table the
 * README's Diagnostics section is generated from.
 * @example
 * export const channels = defineChannels('cache', {
 *   get: tracing<{ namespace: string; hit?: boolean }>('One read', 'namespace, driver, hit'),
 *   error: event<{ driver: string; error: unknown }>('A driver error the cache degraded around', 'driver, error'),
 * })
 */
export function defineChannels<T extends Record<string, ChannelSpec<'tracing' | 'event', object>>>(
  pkg: string,
  specs: T,
): DeclaredChannels<T> {
  if (!/^[a-z][a-z0-9-]*$/.test(pkg)) throw new TypeError(`Channel package names are lowercase; got "${pkg}"`)
  const built: Record<string | symbol, unknown> = {}
  const list: ChannelInfo[] = []
  for (const [op, spec] of Object.entries(specs)) {
    if (!OPERATION.test(op)) throw new TypeError(`Channel operation names are camelCase; got "${op}" in ${pkg}`)
    built[op] = spec.kind === 'tracing' ? tracingChannel(pkg, op) : eventChannel(pkg, op)
    list.push(Object.freeze({ name: `beaver:${pkg}:${op}`, kind: spec.kind, doc: spec.doc, payload: spec.payload }))
  }
  built[CHANNEL_LIST] = Object.freeze(list)
  // Returned as a spread copy: an object built key by key is kept by V8 as a dictionary, and
  // reading `channels.get.hasSubscribers` on every operation cost ~3.5 ns there against ~0.3 ns
  // on the fast properties of the copy (a tenth of a memory cache hit).
  return Object.freeze({ ...built }) as DeclaredChannels<T>
}

/** The channels a `defineChannels()` result declares, for docs and tests. */
export function listChannels(declared: { readonly [CHANNEL_LIST]: readonly ChannelInfo[] }): readonly ChannelInfo[] {
  return declared[CHANNEL_LIST]
}

/** Whether a value is a `defineChannels()` result (the docs generator finds them by this). */
export function isDeclaredChannels(value: unknown): value is { readonly [CHANNEL_LIST]: readonly ChannelInfo[] } {
  return typeof value === 'object' && value !== null && CHANNEL_LIST in value
}

/** How an observed operation ended: its error (if it threw or rejected) and how long it ran. */
export interface OperationOutcome {
  readonly error: unknown
  readonly durationMs: number
}

/** What `observeOperations` calls: at the start (optional) and once when the operation is over. */
export interface OperationObserver<Context extends object> {
  start?(context: Context): void
  finish(context: Context, outcome: OperationOutcome): void
}

/** How `observeOperations` listens. */
export interface ObserveOptions {
  /**
   * Read the clock at the start of every operation (default true). An observer that never
   * reads `durationMs` (spans keep their own times) passes false and is not called at the start
   * unless it has a `start`; its `durationMs` is then measured only when another observer timed
   * the operation, and 0 otherwise.
   */
  readonly timed?: boolean
}

const STARTED = Symbol.for('beaver-kit.operation-started')
type Timed = { [STARTED]?: number; error?: unknown; result?: unknown }

/**
 * Subscribes to a tracing channel and calls `finish` once per operation, whether it ran
 * synchronously (`traceSync`), threw, or settled a promise (`traceAsync`, `tracePromise`), with
 * its duration from one clock read shared by every observer. Returns the unsubscribe function.
 * Metrics and tracing use it so neither has to know how a package traced its work.
 */
export function observeOperations<Context extends object>(
  name: string,
  observer: OperationObserver<Context>,
  options: ObserveOptions = {},
): () => void {
  const channel = dc.tracingChannel<unknown, Context & Timed>(name)
  const done = (ctx: Context & Timed): void => {
    const started = ctx[STARTED]
    observer.finish(ctx, {
      error: ctx.error,
      durationMs: started === undefined ? 0 : performance.now() - started,
    })
  }
  // Only the events that matter: start (the clock), end (a synchronous finish) and asyncEnd;
  // asyncStart and error would be one more call per operation for nothing.
  const timed = options.timed !== false
  const handlers = {
    start:
      timed || observer.start
        ? (ctx: Context & Timed) => {
            if (timed) ctx[STARTED] ??= performance.now()
            observer.start?.(ctx)
          }
        : undefined,
    // traceSync sets `result` before `end`; a synchronous throw sets `error` before it. A promise
    // that settles later publishes `error` (if any) and `asyncEnd` after `end`.
    end(ctx: Context & Timed) {
      if ('result' in ctx || ctx.error !== undefined) done(ctx)
    },
    asyncEnd: done,
  } as dc.TracingChannelSubscribers<Context & Timed>
  channel.subscribe(handlers)
  return () => {
    channel.unsubscribe(handlers)
  }
}
