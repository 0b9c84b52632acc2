import { eventChannel } from '@beaver-kit/core'

/**
 * `beaver:logger:dropped` with `{ output, count, reason }` whenever lines could not be
 * delivered, and `beaver:logger:output-error` with `{ output, error }` for write failures.
 * The kit-visibility subscriber skips the logger's own channels, so they never loop.
 */
export const droppedChannel = eventChannel('logger', 'dropped')
/** See droppedChannel. */
export const outputErrorChannel = eventChannel('logger', 'output-error')

/** Publishes a drop, only when someone listens. */
export function reportDropped(output: string, count: number, reason: string): void {
  if (droppedChannel.hasSubscribers) droppedChannel.publish({ output, count, reason })
}

/** Publishes an output failure, only when someone listens. */
export function reportOutputError(output: string, error: unknown): void {
  if (outputErrorChannel.hasSubscribers) outputErrorChannel.publish({ output, error })
}
