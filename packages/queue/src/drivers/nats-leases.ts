import type { JsMsg } from '@nats-io/jetstream'
import type { Delivery, RenewResult, StoredMessage } from '../driver.ts'
import {
  ENVELOPE_HEADER,
  decodeEnvelope,
  foreignEnvelope,
  toBrokerDelivery,
  toDeadMessage,
  type BrokerEnvelope,
} from './broker-message.ts'

export interface Held {
  queue: string
  msg: JsMsg
  envelope: BrokerEnvelope
  attempt: number
  /** The lease: past it no in-progress ack is sent and JetStream redelivers the message. */
  deadline: number
  /** When this process took the delivery (its handler started). */
  since: number
  lastBeat: number
  ackWaitMs: number
}

const HEARTBEAT_MS = 50

/**
 * The deliveries this process holds and their leases. A work consumer's ack_wait is the
 * shortest lease any worker asked for; a delivery with a longer lease (or one extended) is
 * kept by in-progress acks (`working()`, every third of ack_wait) until its own lease runs
 * out. Past it, the delivery is stale: settling it is a no-op, as JetStream redelivers it.
 */
export class NatsLeases {
  readonly #now: () => number
  readonly #held = new Map<string, Held>()
  #deliveries = 0
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(now: () => number) {
    this.#now = now
  }

  /**
   * Takes a delivery for a handler. `beatFrom`: when it reached this process, for one that
   * waited pulled ahead; its first in-progress ack is due a third of ack_wait after that (the
   * server's ack_wait runs from then), so one whose handler is quick sends none.
   */
  hold(queue: string, m: JsMsg, leaseMs: number, ackWaitMs: number, beatFrom?: number): Delivery {
    const now = this.#now()
    const envelope =
      decodeEnvelope(m.headers?.get(ENVELOPE_HEADER)) ??
      foreignEnvelope(m.headers?.get('Nats-Msg-Id') || `${m.info.stream}:${m.seq}`, queue, now)
    // Tokens name deliveries held by this driver instance only: a counter is enough.
    const token = `${++this.#deliveries}`
    const attempt = envelope.attempts + m.info.deliveryCount
    this.#held.set(token, {
      queue,
      msg: m,
      envelope,
      attempt,
      deadline: now + leaseMs,
      since: now,
      lastBeat: Math.min(now, beatFrom ?? now),
      ackWaitMs,
    })
    this.#start()
    return toBrokerDelivery(envelope, m.string(), attempt, token)
  }

  /** The live delivery of `d`, still held; undefined (and forgotten) when its lease ran out. */
  live(d: Delivery): Held | undefined {
    const h = this.#held.get(d.token)
    if (h && h.deadline < this.#now()) this.#held.delete(d.token)
    return h && h.deadline >= this.#now() ? h : undefined
  }

  /** Removes and returns a live delivery. */
  take(d: Delivery): Held | undefined {
    const h = this.live(d)
    this.#held.delete(d.token)
    return h
  }

  /**
   * Extends leases, unless the connection is down: the server hears no in-progress ack then
   * and redelivers after ack_wait, so the lease must run out here too.
   */
  renew(deliveries: readonly Delivery[], leaseMs: number, connected: boolean): RenewResult {
    const now = this.#now()
    const lost: string[] = []
    for (const d of deliveries) {
      const h = this.live(d)
      if (!h) {
        lost.push(d.id)
        continue
      }
      if (!connected) continue
      h.deadline = now + leaseMs
      h.lastBeat = now
      h.msg.working()
    }
    return { cancelled: [], lost }
  }

  /** A held message by id, as get() shows a running one. */
  active(queue: string, id: string): StoredMessage | undefined {
    for (const h of this.#held.values()) {
      if (h.queue === queue && h.envelope.id === id) {
        return {
          ...toDeadMessage(h.envelope, h.msg.string()),
          state: 'active',
          attempt: h.attempt,
          deadReason: undefined,
          finishedAt: undefined,
        }
      }
    }
    return undefined
  }

  #start(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => {
      const now = this.#now()
      for (const h of this.#held.values()) {
        if (h.deadline > now && now - h.lastBeat >= h.ackWaitMs / 3) {
          h.lastBeat = now
          h.msg.working()
        }
      }
    }, HEARTBEAT_MS)
    this.#timer.unref()
  }

  clear(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#held.clear()
  }
}
