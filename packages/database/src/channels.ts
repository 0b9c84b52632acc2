import { defineChannels, event, tracing } from '@beaver-kit/core'
import type { Dialect } from './sql.ts'

/** Payload of `beaver:database:query`: the statement text and its outcome, never parameters or rows. */
export interface QueryEvent {
  statement: string
  driver: string
  dialect: Dialect
  durationMs?: number
  rowCount?: number
  /** The `DatabaseError` the statement failed with. */
  error?: unknown
}

/** Payload of `beaver:database:idleError`. */
export interface IdleErrorEvent {
  driver: string
  error: unknown
}

/** Payload of `beaver:database:replica`. */
export interface ReplicaEvent {
  /** The replica's URL, userinfo and secret parameters masked. */
  replica: string
  state: 'down' | 'up'
  error?: unknown
}

/** Every diagnostics channel of @beaver-kit/database; the README's Diagnostics table is generated from it. */
export const channels = defineChannels('database', {
  query: tracing<QueryEvent>(
    'One statement, on the primary or a replica, in or outside a transaction',
    'statement, driver, dialect, durationMs, rowCount, error',
  ),
  idleError: event<IdleErrorEvent>(
    'A pooled connection failed while idle; the pool dropped it (counted in stats().idleErrors)',
    'driver, error',
  ),
  replica: event<ReplicaEvent>(
    'A read replica was taken out after a connection or auth failure, or probed back in',
    'replica, state, error',
  ),
})
