// One transaction on one connection (BEGIN, the caller's function, COMMIT or ROLLBACK), and
// the retry policy that runs it again after a serialization failure or a deadlock.
import type { RetryOptions } from '@beaver-kit/core'
import type { DriverConnection } from './driver.ts'
import { isDatabaseError } from './errors.ts'
import { beginOptions, PinnedExecutor, type StatementRunner } from './executor.ts'
import type { Dialect } from './sql.ts'
import type { Transaction, TransactionOptions } from './types.ts'

/** How `transaction({ retries })` retries: only failures a second attempt can get past. */
export function transactionRetry(options: TransactionOptions): RetryOptions {
  const { retries = 0, signal, backoff, onRetry } = options
  return {
    ...(onRetry ? { onRetry } : {}),
    maxAttempts: retries + 1,
    baseMs: backoff?.baseMs ?? 20,
    maxMs: backoff?.maxMs ?? 1000,
    jitter: backoff?.jitter ?? 'full',
    signal,
    shouldRetry: (err) =>
      isDatabaseError(err, 'DB_SERIALIZATION', 'DB_DEADLOCK') ||
      (isDatabaseError(err) && err.retryable && err.driverCode !== undefined),
  }
}

/** What the caller learns besides the result: the connection cannot be reused. */
export interface ConnectionState {
  broken: boolean
}

/**
 * Runs `fn` inside BEGIN … COMMIT on `conn`, rolling back when it throws. A BEGIN, COMMIT or
 * ROLLBACK that fails marks the connection broken (the server discards the transaction with
 * it); the caller releases the connection.
 */
export async function runTransaction<T>(
  conn: DriverConnection,
  runner: StatementRunner,
  dialect: Dialect,
  fn: (tx: Transaction) => Promise<T>,
  options: TransactionOptions,
  state: ConnectionState,
): Promise<T> {
  try {
    await conn.begin(beginOptions(options))
  } catch (err) {
    state.broken = true
    throw runner.wrap(err, 'BEGIN')
  }
  const tx = new PinnedExecutor(runner, dialect, conn, true)
  try {
    let result: T
    try {
      result = await fn(tx)
    } catch (err) {
      try {
        await conn.rollback()
      } catch {
        state.broken = true
      }
      throw err
    }
    try {
      await conn.commit()
    } catch (err) {
      state.broken = true
      throw runner.wrap(err, 'COMMIT')
    }
    return result
  } finally {
    tx.end()
  }
}
