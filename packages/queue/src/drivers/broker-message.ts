import type { Delivery, DriverMessage, QueueCapabilities, StoredMessage } from '../driver.ts'
import { messageIdTime } from '../message-id.ts'

/**
 * What a broker message carries beside its payload: every field of a DriverMessage, the
 * attempts already counted before this copy was published, and the failure history. Brokers
 * keep no per-message record, so a retry or a dead-lettering publishes a new copy with this
 * envelope updated and acknowledges the old one.
 */
export interface BrokerEnvelope {
  id: string
  queue: string
  headers: Record<string, string>
  priority: number
  runAt: number
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  timeoutMs: number
  group?: string | undefined
  createdAt: number
  /** Attempts counted before this copy was published (0 for a fresh message). */
  attempts: number
  lastError?: string | undefined
  deadReason?: string | undefined
  deadAt?: number | undefined
}

/** The header (or attribute) an envelope travels in. */
export const ENVELOPE_HEADER = 'x-beaver-envelope'

const MAX_ERROR = 4000

export function envelopeOf(msg: DriverMessage, attempts = 0, lastError?: string): BrokerEnvelope {
  return {
    id: msg.id,
    queue: msg.queue,
    headers: msg.headers,
    priority: msg.priority,
    runAt: msg.runAt,
    maxAttempts: msg.maxAttempts,
    backoffBaseMs: msg.backoffBaseMs,
    backoffMaxMs: msg.backoffMaxMs,
    timeoutMs: msg.timeoutMs,
    group: msg.group,
    createdAt: msg.createdAt,
    attempts,
    lastError: lastError === undefined ? undefined : lastError.slice(0, MAX_ERROR),
  }
}

/**
 * The envelope as it travels: short keys, and a field left out where it holds the value the
 * decoder puts back (no headers, priority 0, due at creation, 3 attempts, backoff 1 s to 5 min,
 * no timeout, none counted yet). A broker parses, stores and hands back every byte of it with
 * every message, and the full form was most of a small message's header. `publishTag` goes
 * first, as `k`, for a RabbitMQ publish (see ConfirmedPublisher.send).
 */
export function encodeEnvelope(e: BrokerEnvelope, publishTag?: number): string {
  const wire: WireEnvelope =
    publishTag === undefined
      ? { i: e.id, q: e.queue, c: e.createdAt }
      : { k: publishTag, i: e.id, q: e.queue, c: e.createdAt }
  for (const _ in e.headers) {
    wire.h = e.headers
    break
  }
  if (e.priority !== 0) wire.p = e.priority
  if (e.runAt !== e.createdAt) wire.r = e.runAt
  if (e.maxAttempts !== WIRE_DEFAULTS.maxAttempts) wire.m = e.maxAttempts
  if (e.backoffBaseMs !== WIRE_DEFAULTS.backoffBaseMs) wire.b = e.backoffBaseMs
  if (e.backoffMaxMs !== WIRE_DEFAULTS.backoffMaxMs) wire.x = e.backoffMaxMs
  if (e.timeoutMs !== 0) wire.t = e.timeoutMs
  if (e.group !== undefined) wire.g = e.group
  if (e.attempts !== 0) wire.a = e.attempts
  if (e.lastError !== undefined) wire.e = e.lastError
  if (e.deadReason !== undefined) wire.d = e.deadReason
  if (e.deadAt !== undefined) wire.z = e.deadAt
  return JSON.stringify(wire)
}

/**
 * Whether an envelope says nothing beyond its message id and the queue it is published to: a
 * fresh message (no attempts, no error) with every default (see WIRE_DEFAULTS; no headers,
 * priority, delay, timeout or group), whose id is a UUIDv7 showing its creation time, as the
 * kit makes them. Such a message may travel without the envelope: `bareEnvelope` gives it back
 * from the id and the queue it is read from.
 */
export function isBareEnvelope(e: BrokerEnvelope): boolean {
  for (const _ in e.headers) return false
  return (
    e.attempts === 0 &&
    e.runAt === e.createdAt &&
    e.priority === 0 &&
    e.maxAttempts === WIRE_DEFAULTS.maxAttempts &&
    e.backoffBaseMs === WIRE_DEFAULTS.backoffBaseMs &&
    e.backoffMaxMs === WIRE_DEFAULTS.backoffMaxMs &&
    e.timeoutMs === 0 &&
    e.group === undefined &&
    e.lastError === undefined &&
    e.deadReason === undefined &&
    e.deadAt === undefined &&
    messageIdTime(e.id) === e.createdAt
  )
}

/**
 * The envelope of a message sent without one (see isBareEnvelope): the defaults, created at the
 * time its UUIDv7 id shows; undefined when the id is not a UUIDv7.
 */
export function bareEnvelope(id: string, queue: string): BrokerEnvelope | undefined {
  const createdAt = messageIdTime(id)
  if (createdAt === undefined) return undefined
  return {
    id,
    queue,
    headers: {},
    priority: 0,
    runAt: createdAt,
    maxAttempts: WIRE_DEFAULTS.maxAttempts,
    backoffBaseMs: WIRE_DEFAULTS.backoffBaseMs,
    backoffMaxMs: WIRE_DEFAULTS.backoffMaxMs,
    timeoutMs: 0,
    group: undefined,
    createdAt,
    attempts: 0,
  }
}

/** The values a field left out of the wire form stands for. */
const WIRE_DEFAULTS = { maxAttempts: 3, backoffBaseMs: 1000, backoffMaxMs: 300_000 } as const

/** The wire form of an envelope (see encodeEnvelope). */
interface WireEnvelope {
  /** A RabbitMQ publish's tag, to match a returned message to its publish (decoding ignores it). */
  k?: number
  i: string
  q: string
  c: number
  h?: Record<string, string>
  p?: number
  r?: number
  m?: number
  b?: number
  x?: number
  t?: number
  g?: string
  a?: number
  e?: string
  d?: string
  z?: number
}

function fromWire(w: WireEnvelope): BrokerEnvelope {
  return {
    id: w.i,
    queue: w.q,
    headers: w.h ?? {},
    priority: w.p ?? 0,
    runAt: w.r ?? w.c,
    maxAttempts: w.m ?? WIRE_DEFAULTS.maxAttempts,
    backoffBaseMs: w.b ?? WIRE_DEFAULTS.backoffBaseMs,
    backoffMaxMs: w.x ?? WIRE_DEFAULTS.backoffMaxMs,
    timeoutMs: w.t ?? 0,
    group: w.g,
    createdAt: w.c,
    attempts: w.a ?? 0,
    lastError: w.e,
    deadReason: w.d,
    deadAt: w.z,
  }
}

/**
 * Reads an envelope (the wire form, or the full form earlier versions wrote); undefined for a
 * message published by something else than the kit.
 */
export function decodeEnvelope(text: unknown): BrokerEnvelope | undefined {
  if (typeof text !== 'string' && !Buffer.isBuffer(text)) return undefined
  let e: unknown
  try {
    e = JSON.parse(String(text))
  } catch {
    return undefined
  }
  if (typeof e !== 'object' || e === null) return undefined
  const wire = e as Partial<WireEnvelope> & Partial<BrokerEnvelope>
  if (typeof wire.i === 'string' && typeof wire.q === 'string' && typeof wire.c === 'number') {
    return fromWire(wire as WireEnvelope)
  }
  return typeof wire.id === 'string' ? (wire as BrokerEnvelope) : undefined
}

/** A message published by another program (no envelope): the kit's defaults, attempts from the broker. */
export function foreignEnvelope(id: string, queue: string, now: number): BrokerEnvelope {
  return {
    id,
    queue,
    headers: {},
    priority: 0,
    runAt: now,
    maxAttempts: 3,
    backoffBaseMs: 1000,
    backoffMaxMs: 300_000,
    timeoutMs: 0,
    createdAt: now,
    attempts: 0,
  }
}

export function toBrokerDelivery(e: BrokerEnvelope, payload: string, attempt: number, token: string): Delivery {
  return {
    id: e.id,
    queue: e.queue,
    payload,
    headers: e.headers,
    priority: e.priority,
    runAt: e.runAt,
    maxAttempts: e.maxAttempts,
    backoffBaseMs: e.backoffBaseMs,
    backoffMaxMs: e.backoffMaxMs,
    timeoutMs: e.timeoutMs,
    group: e.group,
    dedupeKey: undefined,
    createdAt: e.createdAt,
    attempt,
    token,
    lastError: e.lastError,
  }
}

/** The envelope of a delivery, for its next copy (a retry, a release or the DLQ). */
export function envelopeOfDelivery(d: Delivery, attempts: number, lastError: string | undefined): BrokerEnvelope {
  return { ...envelopeOf(d, attempts, lastError), lastError: lastError?.slice(0, MAX_ERROR) }
}

/** A dead message as listDead/get show it. */
export function toDeadMessage(e: BrokerEnvelope, payload: string): StoredMessage {
  return {
    ...toBrokerDelivery(e, payload, e.attempts, ''),
    state: 'dead',
    attempt: e.attempts,
    lastError: e.lastError,
    deadReason: e.deadReason,
    finishedAt: e.deadAt,
    progress: undefined,
  }
}

/**
 * What every broker driver can do: delays (TTL queues, SQS delays), and no record of a message
 * once it is acknowledged (history), hence no cancel by id, priority, dedupe or fairness.
 */
export function brokerCapabilities(options: { extendLease: boolean; fanOut: boolean }): QueueCapabilities {
  return Object.freeze({
    delay: true,
    priority: false,
    dedupe: false,
    cancel: false,
    fairness: false,
    transactional: false,
    extendLease: options.extendLease,
    durable: true,
    history: false,
    fanOut: options.fanOut,
  })
}

/** Most DLQ messages `get()` reads through when the message is not one this driver holds. */
export const DEAD_LOOKUP_LIMIT = 10_000

/** A delivery this driver holds (handed out, not yet settled), as `get()` shows it. */
export function toActiveMessage(e: BrokerEnvelope, payload: string, attempt: number): StoredMessage {
  return { ...toDeadMessage(e, payload), state: 'active', attempt, deadReason: undefined, finishedAt: undefined }
}

/**
 * Delays are rounded up to a grid (1/8 of their power of two past one second, 50 ms below),
 * so that per-delay queues (RabbitMQ) stay few: a message is never early, at most 12.5% late.
 */
export function delayBucket(ms: number): number {
  if (ms <= 0) return 0
  if (ms <= 1000) return Math.ceil(ms / 50) * 50
  const step = 2 ** (Math.floor(Math.log2(ms)) - 3)
  return Math.ceil(ms / step) * step
}
