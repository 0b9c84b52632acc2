import { defineDefaultInstance } from '@beaver-kit/core'
import { createTracing, type Tracing, type TracingOptions } from './tracing.ts'

const slot = defineDefaultInstance<Tracing, TracingOptions>('tracing', createTracing)

/** The default tracing, built on first use from `BEAVER_TRACING_*`; rethrows its configuration error until fixed. */
export const tracing: () => Tracing = slot.get
/** Configures the default tracing before its first use; throws once it exists. */
export const initTracing: (options?: TracingOptions) => Tracing = slot.init
/** Closes and forgets the default tracing (tests); the next `tracing()` builds a new one. */
export const resetTracing: () => Promise<void> = slot.reset
/** A new tracing configured from another env prefix: `withPrefix('USER_')` reads `USER_TRACING_*`. */
export const withPrefix: (prefix: string, options?: Omit<TracingOptions, 'envPrefix'>) => Tracing = slot.withPrefix
