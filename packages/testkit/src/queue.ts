// The queue conformance suite: every @beaver-kit/queue driver runs all of it against its real
// backend. The cases are grouped by concern in ./queue/.
import { defineConformanceSuite } from './conformance.ts'
import { consumerControlCases } from './queue/consumer-control.ts'
import { dedupeAndCancelCases } from './queue/dedupe-cancel.ts'
import { deliveryCases } from './queue/delivery.ts'
import { failureCases } from './queue/failures.ts'
import { fanOutCases } from './queue/fan-out.ts'
import { leaseCases } from './queue/leases.ts'
import type { ConformanceQueue, QueueSuiteOptions } from './queue/subject.ts'

export type { ConformanceQueue, QueueSuiteOptions } from './queue/subject.ts'

/**
 * Runs the whole queue contract against one driver. The factory builds a queue on a fresh
 * namespace; `ctx.another()` builds a second one on the same namespace (a second process).
 * @example describeQueueDriver('memory', (ns) => createQueue({ driver: 'memory', namespace: ns }), { rejectingJob })
 */
export const describeQueueDriver = defineConformanceSuite<ConformanceQueue, QueueSuiteOptions>('queue', (ctx) => {
  deliveryCases(ctx)
  failureCases(ctx)
  dedupeAndCancelCases(ctx)
  leaseCases(ctx)
  consumerControlCases(ctx)
  fanOutCases(ctx)
})
