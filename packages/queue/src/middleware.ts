import type { DriverMessage } from './driver.ts'
import type { HandlerContext } from './consumer-api.ts'
import type { Message } from './message.ts'

/** What publish middleware sees: the messages about to be stored (headers may still change). */
export interface PublishContext {
  readonly queue: string
  readonly driver: string
  readonly messages: readonly DriverMessage[]
}

/** What handle middleware sees: the message and the handler's context. */
export interface HandleContext {
  readonly queue: string
  readonly driver: string
  readonly message: Message
  readonly context: HandlerContext
}

/**
 * Wraps publishing and handling, Koa-style: call `next()` to go on, throw to fail. Hooks
 * (before/after) are middleware that do their work around `await next()`.
 * @example
 * q.use({ handle: async (ctx, next) => { const t = Date.now(); await next(); metrics.observe(Date.now() - t) } })
 */
export interface QueueMiddleware {
  readonly name?: string
  publish?(ctx: PublishContext, next: () => Promise<string[]>): Promise<string[]>
  handle?(ctx: HandleContext, next: () => Promise<void>): Promise<void>
}

/** Runs `last` inside every middleware that has the hook `key`, first added outermost. */
export function compose<C, R>(
  layers: readonly ((ctx: C, next: () => Promise<R>) => Promise<R>)[],
  ctx: C,
  last: () => Promise<R>,
): Promise<R> {
  const step = (i: number): Promise<R> => {
    const layer = layers[i]
    if (!layer) return last()
    let called = false
    return layer(ctx, () => {
      if (called) return Promise.reject(new Error('queue middleware called next() twice'))
      called = true
      return step(i + 1)
    })
  }
  return step(0)
}

/** A logger shape the logging middleware accepts: the kit's logger, pino, or console-like. */
export interface MiddlewareLogger {
  info(fields: Record<string, unknown>, message: string): void
  error(fields: Record<string, unknown>, message: string): void
}

/**
 * Logs each handled message (id, queue, attempt, duration, outcome) and runs the handler with
 * the message id in the log context, when `withContext` is the logger's `withLogContext`.
 * @example q.use(logging({ logger: logger(), withContext: withLogContext }))
 */
export function logging(options: {
  logger: MiddlewareLogger
  withContext?: <T>(fields: Record<string, unknown>, fn: () => T) => T
}): QueueMiddleware {
  const { logger, withContext } = options
  return {
    name: 'logging',
    handle(ctx, next) {
      const fields = { messageId: ctx.message.id, queue: ctx.queue, attempt: ctx.message.attempt }
      const run = async (): Promise<void> => {
        const start = performance.now()
        try {
          await next()
          logger.info({ ...fields, durationMs: Math.round(performance.now() - start) }, 'message handled')
        } catch (error) {
          logger.error({ ...fields, durationMs: Math.round(performance.now() - start), err: error }, 'message failed')
          throw error
        }
      }
      return withContext ? withContext(fields, run) : run()
    },
  }
}

/**
 * Maps handler errors before the retry decision: turn a known permanent failure into an
 * `UnrecoverableError`, or a library error into your own.
 * @example q.use(mapErrors((e) => (e instanceof NotFound ? new UnrecoverableError(e.message) : e)))
 */
export function mapErrors(map: (error: unknown, message: Message) => unknown): QueueMiddleware {
  return {
    name: 'mapErrors',
    async handle(ctx, next) {
      try {
        await next()
      } catch (error) {
        throw map(error, ctx.message)
      }
    },
  }
}

/** Measures each handler run and reports it: `timing((ms, ctx, error) => histogram.observe(ms))`. */
export function timing(report: (ms: number, ctx: HandleContext, error: unknown) => void): QueueMiddleware {
  return {
    name: 'timing',
    async handle(ctx, next) {
      const start = performance.now()
      let failure: unknown
      try {
        await next()
      } catch (error) {
        failure = error
        throw error
      } finally {
        report(performance.now() - start, ctx, failure)
      }
    },
  }
}
