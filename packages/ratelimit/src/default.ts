import { defineDefaultInstance } from '@beaver-kit/core'
import { createLimiter, type Limiter, type LimiterOptions } from './limiter.ts'

const slot = defineDefaultInstance<Limiter, LimiterOptions>('ratelimit', createLimiter)

/** The default limiter, built on first use from `BEAVER_RATELIMIT_*`; rethrows its configuration error until fixed. */
export const limiter: () => Limiter = slot.get
/** Configures the default limiter before its first use; throws once it exists. */
export const initLimiter: (options?: LimiterOptions) => Limiter = slot.init
/** Closes and forgets the default limiter (tests); the next `limiter()` builds a new one. */
export const resetLimiter: () => Promise<void> = slot.reset
/** A new limiter configured from another env prefix: `withPrefix('USER_')` reads `USER_RATELIMIT_*`. */
export const withPrefix: (prefix: string, options?: Omit<LimiterOptions, 'envPrefix'>) => Limiter = slot.withPrefix
