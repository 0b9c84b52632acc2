import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { tracingSchema, type TracingSettings } from './config.ts'
import { TracingError } from './errors.ts'

export interface TracingOptions extends TracingSettings, InstanceOptions {}

/** A tracing: create with `createTracing()`, or use the default `tracing()`. */
export interface Tracing extends Instance<InstanceDescription> {
  readonly driver: string
}

/**
 * Builds a tracing from options, then `BEAVER_TRACING_*`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using tracing = createTracing()
 */
export function createTracing(options: TracingOptions = {}): Tracing {
  const { envPrefix, env, ...settings } = options
  const resolved = resolveConfig(tracingSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const { driver } = resolved.values
  let closed = false
  const tracing: Tracing = {
    driver,
    ready: () =>
      traceAsync(
        channels.ready,
        () => ({ driver }),
        async () => {
          if (closed) throw new TracingError('TRACING_CLOSED', 'This tracing is closed; create a new one.')
        },
      ),
    describe: () => describeInstance('tracing', envPrefix, resolved.entries, { driver }),
    close: async () => {
      closed = true
    },
    [Symbol.asyncDispose]: () => tracing.close(),
  }
  return tracing
}
