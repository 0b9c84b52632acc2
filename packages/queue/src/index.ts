export { createQueue } from './queue.ts'
export type { DeadLetters, Queue, QueueHealth, QueueOptions, TypedPublisher } from './queue-api.ts'
export { queue, initQueue, resetQueue, withPrefix } from './default.ts'
export { QueueError, isQueueError, UnrecoverableError, isUnrecoverable } from './errors.ts'
export type { QueueErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { queueSchema } from './config.ts'
export type { QueueSettings } from './config.ts'
export { defineJob, jsonSerializer } from './message.ts'
export type { BatchItem, JobDefinition, Message, PublishOptions, Serializer } from './message.ts'
export type { ConsumeOptions, Consumer, ConsumerStats, Handler, HandlerContext } from './consumer-api.ts'
export { logging, mapErrors, timing } from './middleware.ts'
export type { HandleContext, MiddlewareLogger, PublishContext, QueueMiddleware } from './middleware.ts'
export { defineQueueDriver } from './driver.ts'
export type {
  Delivery,
  DriverMessage,
  EnqueueOptions,
  Failure,
  FetchOptions,
  MessageState,
  QueueCapabilities,
  QueueCounts,
  QueueDriver,
  QueueDriverContext,
  QueueDriverDefinition,
  RenewResult,
  StoredMessage,
} from './driver.ts'
export { queueDriverNames, registerQueueDriver } from './registry.ts'
export type { Relay, RelayOptions, RelayTarget } from './outbox.ts'
