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
 */
export function traceAsync<T, Context extends object>(
  channel: dc.TracingChannel<unknown, Context>,
  context: () => Context,
  fn: () => Promise<T>,
): Promise<T> {
  if (!channel.hasSubscribers) return fn()
  const ctx = context() as Context & { error?: unknown }
  const settle = (): void => {
    channel.asyncStart.publish(ctx)
    channel.asyncEnd.publish(ctx)
  }
  const fail = (error: unknown): void => {
    ctx.error = error
    channel.error.publish(ctx)
  }
  return channel.start.runStores(ctx, () => {
    try {
      return fn().then(
        (value) => {
          settle()
          return value
        },
        (error: unknown) => {
          fail(error)
          settle()
          throw error
        },
      )
    } catch (error) {
      fail(error)
      throw error
    } finally {
      channel.end.publish(ctx)
    }
  })
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
