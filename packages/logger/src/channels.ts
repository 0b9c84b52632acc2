import { defineChannels, event } from '@beaver-kit/core'

/** What `beaver:logger:dropped` publishes: an output and how many lines it could not deliver. */
export interface DroppedEvent {
  output: string
  count: number
  /** `buffer full` (syslog server unreachable), `closed` (logged after close()), `close timeout`. */
  reason: string
}

/** What `beaver:logger:outputError` publishes: a write or connection failure of an output. */
export interface OutputErrorEvent {
  output: string
  error: unknown
}

/**
 * Every diagnostics channel of @beaver-kit/logger; the README's Diagnostics table is generated
 * from it. The kit-visibility subscriber skips these, so a failing output never feeds itself.
 */
export const channels = defineChannels('logger', {
  dropped: event<DroppedEvent>(
    'Lines an output could not deliver, counted in stats() (buffer full, closed, close timeout, broken pipe)',
    'output, count, reason',
  ),
  outputError: event<OutputErrorEvent>(
    'An output failed to write or connect; the log call never throws',
    'output, error',
  ),
})

/** Publishes a drop, only when someone listens. */
export function reportDropped(output: string, count: number, reason: string): void {
  if (channels.dropped.hasSubscribers) channels.dropped.publish({ output, count, reason })
}

/** Publishes an output failure, only when someone listens. */
export function reportOutputError(output: string, error: unknown): void {
  if (channels.outputError.hasSubscribers) channels.outputError.publish({ output, error })
}
