import { BeaverError, errorGuard } from '@beaver-kit/core'

/** Every code a QueueError can carry; stable, so callers may switch on them. */
export type QueueErrorCode =
  | 'QUEUE_DRIVER_UNKNOWN'
  | 'QUEUE_DRIVER_NAME_INVALID'
  | 'QUEUE_DRIVER_UNAVAILABLE'
  | 'QUEUE_CLOSED'
  | 'QUEUE_FULL'
  | 'QUEUE_TIMEOUT'
  | 'QUEUE_DUPLICATE'
  | 'QUEUE_HANDLER_FAILED'
  | 'QUEUE_CANCELLED'
  | 'QUEUE_LEASE_LOST'
  | 'QUEUE_SERIALIZE_FAILED'
  | 'QUEUE_DESERIALIZE_FAILED'
  | 'QUEUE_PAYLOAD_TOO_LARGE'
  | 'QUEUE_OPTIONS_INVALID'
  | 'QUEUE_UNSUPPORTED'
  | 'QUEUE_NOT_FOUND'
  | 'QUEUE_EVICTION_POLICY'

/** The one error class of @beaver-kit/queue. */
export class QueueError extends BeaverError<QueueErrorCode> {}

/** True for a QueueError (by brand, so it works across duplicate installs), optionally of the given codes. */
export const isQueueError = errorGuard<QueueErrorCode, QueueError>('QUEUE_')

/** An option the driver cannot honour: refused, never silently ignored. */
export function unsupported(option: string, driver: string): QueueError {
  return new QueueError(
    'QUEUE_UNSUPPORTED',
    `The ${driver} queue driver cannot honour ${option}; pick a driver that supports it (see the drivers table) or drop the option.`,
    { details: { option, driver } },
  )
}

const UNRECOVERABLE = Symbol.for('beaver-kit.queue.unrecoverable')

/**
 * Thrown by a handler for a failure that retrying cannot fix (bad input, a deleted account):
 * the message goes to the dead-letter queue at once, whatever attempts are left.
 * @example throw new UnrecoverableError('user 42 no longer exists')
 */
export class UnrecoverableError extends Error {
  declare readonly [UNRECOVERABLE]: true
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    Object.defineProperty(this, UNRECOVERABLE, { value: true })
    Object.defineProperty(this, 'name', { value: 'UnrecoverableError', configurable: true, writable: true })
  }
}

/** True for an UnrecoverableError, by brand (works across duplicate installs). */
export function isUnrecoverable(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[UNRECOVERABLE] === true
}

/** The text kept as a message's last error: the name, code and message, never the stack's locals. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    const text = `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`
    return text.length > 2000 ? `${text.slice(0, 2000)}…` : text
  }
  const text = String(error)
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text
}
