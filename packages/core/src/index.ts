export { BeaverError, CoreError, BEAVER_ERROR, errorGuard, isBeaverError, isCoreError } from './errors.ts'
export type { BeaverErrorOptions, CoreErrorCode } from './errors.ts'
export { defaultInstances, defineDefaultInstance, watchDefaultInstances } from './instance.ts'
export type { DefaultInstance, Instance, InstanceChange, LiveInstance } from './instance.ts'
export {
  installShutdownSignals,
  onBeforeShutdown,
  onShutdownDrain,
  registerForShutdown,
  shutdown,
  ShutdownError,
} from './shutdown.ts'
export type { Closable, ShutdownOptions, SignalOptions } from './shutdown.ts'
export {
  defineChannels,
  event,
  eventChannel,
  isDeclaredChannels,
  listChannels,
  observeOperations,
  traceAsync,
  traceNow,
  tracing,
  tracingChannel,
  watchChannels,
} from './channels.ts'
export type {
  ChannelInfo,
  ChannelSpec,
  DeclaredChannels,
  OperationObserver,
  ObserveOptions,
  OperationOutcome,
  TypedChannel,
} from './channels.ts'
export { publishCounters, readCounters, watchRetiredCounters } from './counters.ts'
export type { CounterReading, CounterSource, RetiredCounters } from './counters.ts'
export { importPeer } from './peer.ts'
export {
  checkRedisNode,
  LazyClient,
  parseRedisNode,
  redisClusterSeeds,
  redisSentinelOptions,
  redisTopologyProblem,
} from './lazy-client.ts'
export type { LifecycleClient, RedisNode, RedisTopologySettings } from './lazy-client.ts'
export { backoffDelay, parseRetryAfter, retry } from './backoff.ts'
export type { BackoffOptions, RetryInfo, RetryOptions } from './backoff.ts'
export { abortReason, raceAbort, sleep, throwIfAborted } from './abort.ts'
export type { RaceAbortOptions } from './abort.ts'
export { isNetworkErrorCode } from './network.ts'
export { defineDriverRegistry } from './registry.ts'
export type {
  DriverDefinitionBase,
  DriverRegistry,
  DriverRegistryErrorCode,
  DriverRegistryOptions,
  DriverSource,
} from './registry.ts'
export { closest, levenshtein } from './suggest.ts'
export { activeTraceHeaders } from './trace-context.ts'
