import { backoffDelay } from '@beaver-kit/core'
import { toMs, type Duration } from '@beaver-kit/config'
import type { Delivery } from './driver.ts'

/** What becomes of a delivery that failed and may be tried again. */
export type RetryOrDead =
  { kind: 'retry'; runAt: number; error: string } | { kind: 'dead'; reason: string; error: string }

/**
 * A failed delivery goes back to wait for its next attempt (after `delay`, or the message's
 * exponential backoff with full jitter), or to the dead-letter queue once its attempts are spent.
 */
export function retryOrDead(d: Delivery, error: string, delay: Duration | undefined, now: number): RetryOrDead {
  if (d.attempt >= d.maxAttempts)
    return { kind: 'dead', reason: `attempts exhausted (${d.attempt} of ${d.maxAttempts})`, error }
  const delayMs =
    delay === undefined
      ? Math.round(backoffDelay(d.attempt, { baseMs: d.backoffBaseMs, maxMs: d.backoffMaxMs }))
      : toMs(delay, 'nack delay')
  return { kind: 'retry', runAt: now + delayMs, error }
}
