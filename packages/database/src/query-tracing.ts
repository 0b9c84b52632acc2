// The traced paths of a statement: what `beaver:database:query` subscribers see (the statement,
// timing, row count and the kit error, never parameters or row data), asynchronous through the
// pool, or synchronous when an in-process engine answers at once.
import { performance } from 'node:perf_hooks'
import { traceAsync } from '@beaver-kit/core'
import { channels, type QueryEvent } from './channels.ts'
import type { DatabaseDriver, DriverCallOptions, DriverResult } from './driver.ts'
import type { Dialect } from './sql.ts'

/** What the traced paths need of the database running the statement. */
export interface StatementTracing {
  driver(): string
  dialect(): Dialect
  /** The kit error of a driver failure. */
  wrap(err: unknown, text: string, pool: DatabaseDriver | undefined): unknown
  /** Counts one statement answered by the engine at once (the pool path counts its own). */
  counted(failed: boolean): void
  /** Runs a statement through the pool with accounting and error mapping, without tracing it again. */
  runUntraced(text: string, fn: () => Promise<DriverResult>, pool: DatabaseDriver): Promise<DriverResult>
}

/** A query event published by a synchronous answer: `result` (always undefined) marks it over at `end`. */
type NowEvent = QueryEvent & { result?: undefined }

/** Runs `fn` inside the query channel's trace (asyncStart/asyncEnd when it settles). */
export function traceStatement(
  db: StatementTracing,
  text: string,
  fn: () => Promise<DriverResult>,
  pool: DatabaseDriver | undefined,
): Promise<DriverResult> {
  const event: QueryEvent = { statement: text, driver: db.driver(), dialect: db.dialect() }
  const start = performance.now()
  return traceAsync(
    channels.query,
    () => event,
    () =>
      fn().then(
        (result) => {
          event.rowCount = result.rowCount
          event.durationMs = performance.now() - start
          return result
        },
        (err: unknown) => {
          event.durationMs = performance.now() - start
          throw db.wrap(err, text, pool)
        },
      ),
  )
}

/**
 * A traced statement the engine may answer at once (SQLite): published as a synchronous
 * operation (start, then end with `result` set, as `traceSync` publishes it) when the engine
 * answers, so tracing adds no promise turn to the query. When the engine is busy (a
 * transaction holds it), the same operation goes on through the pool and ends with
 * asyncStart and asyncEnd: it is published once either way.
 */
export function traceStatementNow(
  db: StatementTracing,
  text: string,
  values: readonly unknown[],
  pool: DatabaseDriver,
  call: DriverCallOptions,
): Promise<DriverResult> {
  const event: NowEvent = { statement: text, driver: db.driver(), dialect: db.dialect() }
  const start = channels.query.start
  if (!start.hasSubscribers) return answerNow(db, event, text, values, pool, call)
  return start.runStores(event, answerNow, undefined, db, event, text, values, pool, call)
}

function answerNow(
  db: StatementTracing,
  event: NowEvent,
  text: string,
  values: readonly unknown[],
  pool: DatabaseDriver,
  call: DriverCallOptions,
): Promise<DriverResult> {
  const channel = channels.query
  const started = performance.now()
  let result: DriverResult | undefined
  try {
    result = (pool as Required<Pick<DatabaseDriver, 'queryNow'>>).queryNow(text, values)
  } catch (err) {
    const error = db.wrap(err, text, pool)
    event.durationMs = performance.now() - started
    event.error = error
    db.counted(true)
    channel.error.publish(event)
    channel.end.publish(event)
    return Promise.reject(error)
  }
  if (result !== undefined) {
    event.rowCount = result.rowCount
    event.durationMs = performance.now() - started
    event.result = undefined
    db.counted(false)
    channel.end.publish(event)
    return Promise.resolve(result)
  }
  // Busy: the operation is not over at its end event (no result, no error); it ends when the
  // pool answers, in the context it started in.
  channel.end.publish(event)
  return db
    .runUntraced(text, () => pool.query(text, values, call), pool)
    .then(
      (answered) => {
        event.rowCount = answered.rowCount
        event.durationMs = performance.now() - started
        channel.asyncStart.publish(event)
        channel.asyncEnd.publish(event)
        return answered
      },
      (error: unknown) => {
        event.durationMs = performance.now() - started
        event.error = error
        channel.error.publish(event)
        channel.asyncStart.publish(event)
        channel.asyncEnd.publish(event)
        throw error
      },
    )
}
