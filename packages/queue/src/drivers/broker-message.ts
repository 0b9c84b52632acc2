import type { Delivery, DriverMessage, QueueCapabilities, StoredMessage } from '../driver.ts'

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

export function encodeEnvelope(e: BrokerEnvelope): string {
  return JSON.stringify(e)
}

/** Reads an envelope; undefined for a message published by something else than the kit. */
export function decodeEnvelope(text: unknown): BrokerEnvelope | undefined {
  if (typeof text !== 'string' && !Buffer.isBuffer(text)) return undefined
  try {
    const e = JSON.parse(String(text)) as BrokerEnvelope
    return typeof e === 'object' && e !== null && typeof e.id === 'string' ? e : undefined
  } catch {
    return undefined
  }
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
