import { defineDefaultInstance } from '@beaver-kit/core'
import { createQueue } from './queue.ts'
import type { Queue, QueueOptions } from './queue-api.ts'

const slot = defineDefaultInstance<Queue, QueueOptions>('queue', createQueue)

/** The default queue, built on first use from `BEAVER_QUEUE_*`; rethrows its configuration error until fixed. */
export const queue: () => Queue = slot.get
/** Configures the default queue before its first use; throws once it exists. */
export const initQueue: (options?: QueueOptions) => Queue = slot.init
/** Closes and forgets the default queue (tests); the next `queue()` builds a new one. */
export const resetQueue: () => Promise<void> = slot.reset
/** A new queue configured from another env prefix: `withPrefix('USER_')` reads `USER_QUEUE_*`. */
export const withPrefix: (prefix: string, options?: Omit<QueueOptions, 'envPrefix'>) => Queue = slot.withPrefix
