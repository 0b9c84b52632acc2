import type { Duration } from '@beaver-kit/config'
import { activeTraceHeaders } from '@beaver-kit/core'
import type { DriverMessage } from './driver.ts'
import { QueueError } from './errors.ts'

/** Turns payloads into the text a driver stores, and back. */
export interface Serializer {
  readonly name: string
  serialize(value: unknown): string
  deserialize(text: string): unknown
}

/** JSON: the default. `undefined`, functions, symbols and BigInt are refused at publish. */
export const jsonSerializer: Serializer = Object.freeze({
  name: 'json',
  serialize(value: unknown): string {
    const text = JSON.stringify(value)
    if (text === undefined) throw new TypeError(`a ${typeof value} payload has no JSON form`)
    return text
  },
  deserialize: (text: string): unknown => JSON.parse(text),
})

/** Options of one publish. */
export interface PublishOptions {
  /** The message id; publishing an id that exists is a no-op resolving that id. Default: a random UUID. */
  id?: string | undefined
  /** String headers carried with the message (trace context, tenant). */
  headers?: Record<string, string> | undefined
  /** Deliver no sooner than this from now. */
  delay?: Duration | undefined
  /** Deliver no sooner than this time (Date or ms since epoch). */
  runAt?: Date | number | undefined
  /** Higher runs first (pg-boss order); an integer from -1,000,000 to 1,000,000. Default 0. */
  priority?: number | undefined
  /** While a message with this key is waiting or running, another publish with it is a no-op resolving the first id. */
  dedupeKey?: string | undefined
  /** Deliveries before the DLQ. Default `BEAVER_QUEUE_ATTEMPTS`. */
  attempts?: number | undefined
  /** Exponential backoff with full jitter between retries. */
  backoff?: { base?: Duration | undefined; max?: Duration | undefined } | undefined
  /** Per-delivery time limit; the handler's signal aborts and the attempt fails with QUEUE_TIMEOUT. */
  timeout?: Duration | undefined
  /** Fairness key (a tenant, an account): see `groupConcurrency`. */
  group?: string | undefined
  /** The caller's database transaction: the message exists if and only if it commits (SQL drivers). */
  tx?: unknown
}

/** One item of `publishBatch`. */
export type BatchItem<T> = { payload: T } & Omit<PublishOptions, 'tx'>

/** What a handler receives. */
export interface Message<T = unknown> {
  readonly id: string
  /** The queue name, without the namespace. */
  readonly queue: string
  readonly payload: T
  readonly headers: Readonly<Record<string, string>>
  /** Deliveries so far, this one included. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly priority: number
  readonly group: string | undefined
  readonly createdAt: Date
  /** The error of the previous attempt, if it failed. */
  readonly lastError: string | undefined
}

/** A queue name bound to a payload type, with an optional validator (zod's `parse` fits). */
export interface JobDefinition<T> {
  readonly queue: string
  /** Validates (and may transform) a payload at publish and after deserialization. */
  readonly parse: ((value: unknown) => T) | undefined
  /** Publish defaults for this job. */
  readonly defaults: Omit<PublishOptions, 'id' | 'tx' | 'dedupeKey'>
}

/**
 * Binds a queue name to a payload type, so publish and consume agree at compile time, and
 * optionally validates payloads at both ends at run time.
 * @example
 * const welcome = defineJob<{ userId: number }>('emails.welcome', { parse: schema.parse, attempts: 5 })
 * await queue().publish(welcome, { userId: 1 })
 * queue().consume(welcome, async (m) => send(m.payload.userId))
 */
export function defineJob<T>(
  queue: string,
  options: Omit<PublishOptions, 'id' | 'tx' | 'dedupeKey'> & { parse?: (value: unknown) => T } = {},
): JobDefinition<T> {
  const { parse, ...defaults } = options
  return Object.freeze({ queue, parse, defaults: Object.freeze(defaults) })
}

const NAME = '[A-Za-z0-9_.-]{1,128}'
const PLAIN_NAME = new RegExp(`^${NAME}$`)
/** A queue name, or `<topic>@<group>`: the queue of one consumer group of a topic. */
const QUEUE_NAME = new RegExp(`^${NAME}(@${NAME})?$`)

/** Validates a queue name: letters, digits, `_`, `-` and `.`, 1 to 128 characters (or `<topic>@<group>`). */
export function checkQueueName(name: unknown): string {
  return checkName('Queue name', QUEUE_NAME, name, ' (or "<topic>@<group>" for a topic subscription)')
}

/** Validates a topic or consumer group name: letters, digits, `_`, `-` and `.`, 1 to 128 characters. */
export function checkTopicName(kind: 'Topic' | 'Group', name: unknown): string {
  return checkName(`${kind} name`, PLAIN_NAME, name, '')
}

/** The queue a consumer group of a topic consumes: `<topic>@<group>`, valid wherever a queue name is. */
export function topicQueueName(topic: string, group: string): string {
  return `${checkTopicName('Topic', topic)}@${checkTopicName('Group', group)}`
}

function checkName(what: string, pattern: RegExp, name: unknown, also: string): string {
  if (typeof name !== 'string' || !pattern.test(name)) {
    throw new QueueError(
      'QUEUE_OPTIONS_INVALID',
      `${what} ${JSON.stringify(name)} is invalid; use 1 to 128 letters, digits, "_", "-" or "."${also}.`,
      { details: { queue: typeof name === 'string' ? name.slice(0, 200) : typeof name } },
    )
  }
  return name
}

/** A publish option with a value it cannot take. */
export function invalid(option: string, accepts: string, got: unknown): QueueError {
  return new QueueError(
    'QUEUE_OPTIONS_INVALID',
    `Publish option ${option} must be ${accepts}; got ${JSON.stringify(got)}.`,
    {
      details: { option },
    },
  )
}

/** A string option of 1 to `max` characters. */
export function checkText(option: string, value: unknown, max: number): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw invalid(
      option,
      `a string of 1 to ${max} characters`,
      typeof value === 'string' ? `${value.slice(0, 40)}…` : value,
    )
  }
}

/** Adds the active span's W3C trace headers to each message that carries none of its own. */
export function addTraceHeaders(messages: readonly DriverMessage[]): void {
  const trace = activeTraceHeaders()
  if (trace === undefined) return
  for (const m of messages) if (m.headers.traceparent === undefined) Object.assign(m.headers, trace)
}
