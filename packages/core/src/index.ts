export { BeaverError, CoreError, BEAVER_ERROR, errorGuard, isBeaverError, isCoreError } from './errors.ts'
export type { BeaverErrorOptions, CoreErrorCode } from './errors.ts'
export { defineDefaultInstance } from './instance.ts'
export type { DefaultInstance } from './instance.ts'
export {
  installShutdownSignals,
  onBeforeShutdown,
  registerForShutdown,
  shutdown,
  ShutdownError,
} from './shutdown.ts'
export type { Closable, ShutdownOptions, SignalOptions } from './shutdown.ts'
export { eventChannel, traceAsync, tracingChannel, watchChannels } from './channels.ts'
export { importPeer } from './peer.ts'
export { backoffDelay, parseRetryAfter, retry } from './backoff.ts'
export type { BackoffOptions, RetryInfo, RetryOptions } from './backoff.ts'
export { abortReason, sleep, throwIfAborted } from './abort.ts'
