import type { RunContext, ScheduleHandler } from './run.ts'

/** The one method of `@beaver-kit/queue`'s Queue the scheduler needs (so the queue stays an optional peer). */
export interface QueuePublisher {
  publish(queue: string, payload: unknown, options?: { id?: string; headers?: Record<string, string> }): Promise<string>
}

/**
 * A handler that enqueues each occurrence instead of running it inline: retries, the DLQ and
 * worker pools come from the queue. The message id is `<schedule>:<slot due time>`, so a
 * duplicate publish of one occurrence is a no-op in the queue too.
 * @example scheduler.schedule('stats', '0 3 * * *', dispatchTo(queue(), 'daily-stats'))
 */
export function dispatchTo(
  target: QueuePublisher,
  queueName: string,
  payload?: (ctx: RunContext) => unknown,
): ScheduleHandler {
  return async function enqueueOccurrence(ctx) {
    const body = payload
      ? payload(ctx)
      : { schedule: ctx.schedule, dueAt: ctx.dueAt.toISOString(), trigger: ctx.trigger, token: ctx.token }
    await target.publish(queueName, body, {
      id: `${ctx.schedule}:${ctx.trigger === 'manual' ? 'manual:' : ''}${ctx.dueAt.getTime()}`,
      headers: { 'x-schedule': ctx.schedule, 'x-fencing-token': String(ctx.token) },
    })
  }
}
