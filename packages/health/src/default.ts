import { defineDefaultInstance } from '@beaver-kit/core'
import { createHealth, type Health, type HealthOptions } from './health.ts'

const slot = defineDefaultInstance<Health, HealthOptions>('health', createHealth)

/** The default health probes, built on first use from `BEAVER_HEALTH_*`; rethrows its configuration error until fixed. */
export const health: () => Health = slot.get
/** Configures the default health probes before their first use; throws once they exist. */
export const initHealth: (options?: HealthOptions) => Health = slot.init
/** Closes and forgets the default health probes (tests); the next `health()` builds new ones. */
export const resetHealth: () => Promise<void> = slot.reset
/** New health probes configured from another env prefix: `withPrefix('USER_')` reads `USER_HEALTH_*`. */
export const withPrefix: (prefix: string, options?: Omit<HealthOptions, 'envPrefix'>) => Health = slot.withPrefix
