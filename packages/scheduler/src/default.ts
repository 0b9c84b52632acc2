import { defineDefaultInstance } from '@beaver-kit/core'
import { createScheduler, type Scheduler, type SchedulerOptions } from './scheduler.ts'

const slot = defineDefaultInstance<Scheduler, SchedulerOptions>('scheduler', createScheduler)

/** The default scheduler, built on first use from `BEAVER_SCHEDULER_*`; rethrows its configuration error until fixed. */
export const scheduler: () => Scheduler = slot.get
/** Configures the default scheduler before its first use; throws once it exists. */
export const initScheduler: (options?: SchedulerOptions) => Scheduler = slot.init
/** Closes and forgets the default scheduler (tests); the next `scheduler()` builds a new one. */
export const resetScheduler: () => Promise<void> = slot.reset
/** A new scheduler configured from another env prefix: `withPrefix('USER_')` reads `USER_SCHEDULER_*`. */
export const withPrefix: (prefix: string, options?: Omit<SchedulerOptions, 'envPrefix'>) => Scheduler = slot.withPrefix
