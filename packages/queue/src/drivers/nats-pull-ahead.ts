import type { Consumer, JsMsg } from '@nats-io/jetstream'
import { natsError } from './nats-streams.ts'

type GiveBack = (messages: readonly JsMsg[]) => Promise<void>

/** Messages taken from a pull ahead, and when the first of its messages arrived (JetStream's ack_wait has run since). */
export interface Taken {
  messages: JsMsg[]
  since: number
}

/** One pull request, delivering each message as it comes (`onMessage`), resolving once over. */
export type PullInto = (signal: AbortSignal, onMessage: (m: JsMsg) => void) => Promise<void>

interface Pending {
  /** Messages that came and were not taken yet, oldest first. */
  arrived: JsMsg[]
  over: boolean
  /** Resolves (never rejects) once the pull request is over. */
  finished: Promise<void>
  /** Rejection of the pull, surfaced at take(). */
  error: unknown
  controller: AbortController
  /** Gives back what arrived when the consumer has not taken it in time. */
  expiry: ReturnType<typeof setTimeout> | undefined
  /** When the first message of this pull arrived (the driver's clock). */
  firstArrival: number | undefined
  /** Wakes a take() waiting for the first message. */
  wake: (() => void) | undefined
  stopped: boolean
}

/**
 * Pull requests sent ahead while a queue's handlers run, so that when there is a backlog the
 * next messages are on their way before the consumer asks: without it every message costs a
 * pull round trip on top of its ack. The driver sizes each (one at first, more once handlers
 * are seen to be short). What arrives is given back uncounted (a copy, then an ack) unless the
 * consumer takes it within `holdMs` of its arrival, kept under half of ack_wait, so JetStream
 * never redelivers a message that waited here unstarted and a busy or paused consumer does not
 * sit on work another could do.
 */
export class PullAhead {
  readonly #now: () => number
  #pending: Pending | undefined

  constructor(now: () => number) {
    this.#now = now
  }

  /** True while a pull is in flight or holds messages not taken yet. */
  get busy(): boolean {
    return this.#pending !== undefined
  }

  /** Starts a pull unless one is busy; `pull` resolves once its signal aborts. */
  start(pull: PullInto, holdMs: number, giveBack: GiveBack): void {
    if (this.#pending) return
    const controller = new AbortController()
    const pending: Pending = {
      arrived: [],
      over: false,
      finished: Promise.resolve(),
      error: undefined,
      controller,
      expiry: undefined,
      firstArrival: undefined,
      wake: undefined,
      stopped: false,
    }
    this.#pending = pending
    const onMessage = (m: JsMsg): void => {
      if (pending.stopped) {
        void giveBack([m]).catch(() => undefined)
        return
      }
      pending.arrived.push(m)
      pending.firstArrival ??= this.#now()
      if (!pending.expiry) {
        pending.expiry = setTimeout(() => void this.#stopPending(pending, giveBack), holdMs)
        pending.expiry.unref()
      }
      pending.wake?.()
    }
    pending.finished = pull(controller.signal, onMessage).then(
      () => this.#over(pending),
      (error: unknown) => {
        pending.error = error
        this.#over(pending)
      },
    )
  }

  #over(pending: Pending): void {
    pending.over = true
    pending.wake?.()
    if (this.#pending === pending && pending.arrived.length === 0 && pending.error === undefined) {
      this.#pending = undefined
      clearTimeout(pending.expiry)
    }
  }

  /**
   * Up to `max` messages the pull in flight brought, waiting for the first one if none came
   * yet; undefined when none is busy. An abort of `signal` cuts a pull still waiting short:
   * [] then. A pull that failed throws here.
   */
  async take(max: number, signal: AbortSignal): Promise<Taken | undefined> {
    const pending = this.#pending
    if (!pending) return undefined
    if (pending.arrived.length === 0 && !pending.over) {
      const abort = (): void => pending.controller.abort()
      signal.addEventListener('abort', abort, { once: true })
      if (signal.aborted) abort()
      try {
        await new Promise<void>((resolve) => {
          pending.wake = resolve
          void pending.finished.then(resolve)
        })
      } finally {
        pending.wake = undefined
        signal.removeEventListener('abort', abort)
      }
    }
    if (this.#pending !== pending) return { messages: [], since: this.#now() }
    const taken = pending.arrived.splice(0, max)
    if (pending.arrived.length === 0 && (pending.over || taken.length === 0)) {
      this.#pending = undefined
      clearTimeout(pending.expiry)
      if (taken.length === 0 && pending.error !== undefined) throw pending.error
    }
    return { messages: taken, since: pending.firstArrival ?? this.#now() }
  }

  /**
   * Cuts the pull in flight short: what it already brought, and what it still brings, goes
   * back through `giveBack`, uncounted.
   */
  async stop(giveBack: GiveBack): Promise<void> {
    const pending = this.#pending
    if (pending) await this.#stopPending(pending, giveBack)
  }

  async #stopPending(pending: Pending, giveBack: GiveBack): Promise<void> {
    if (this.#pending === pending) this.#pending = undefined
    clearTimeout(pending.expiry)
    pending.stopped = true
    pending.controller.abort()
    pending.wake?.()
    const left = pending.arrived.splice(0)
    if (left.length > 0) await giveBack(left).catch(() => undefined)
    await pending.finished
  }
}

/** Most messages one pull ahead asks for. */
const AHEAD_MAX = 64

/**
 * How many messages to pull ahead: one until a delivery was seen to complete, then as many as
 * the handlers get through in a quarter of the time a pulled message may wait (`holdMs`), so
 * that what is pulled ahead is taken long before it would be given back.
 */
export function aheadSize(handleMs: number | undefined, holdMs: number): number {
  if (handleMs === undefined) return 1
  return Math.max(1, Math.min(AHEAD_MAX, Math.floor(holdMs / 4 / Math.max(handleMs, 0.05))))
}

/** An exponential moving average (a fifth of each new sample). */
export function ema(average: number | undefined, sample: number): number {
  return average === undefined ? sample : average * 0.8 + sample * 0.2
}

/**
 * One pull request, each message handed to `onMessage` as it comes. An abort resolves at
 * once; messages the request still brings keep coming to `onMessage`.
 */
export async function pullInto(
  consumer: Consumer,
  max: number,
  expires: number,
  signal: AbortSignal,
  onMessage: (m: JsMsg) => void,
): Promise<void> {
  if (signal.aborted) return
  let iterator
  try {
    iterator = await consumer.fetch({ max_messages: max, expires })
  } catch (error) {
    throw natsError(error, 'fetch messages')
  }
  const reading = (async () => {
    for await (const m of iterator) onMessage(m)
  })()
  await Promise.race([
    reading,
    new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true })
      void reading.finally(resolve).catch(() => undefined)
    }),
  ]).catch((error: unknown) => {
    throw natsError(error, 'fetch messages')
  })
}

/**
 * One pull request's messages. An abort resolves at once with nothing; what the request
 * brought or still brings goes to `giveBack`, uncounted.
 */
export async function pullMessages(
  consumer: Consumer,
  max: number,
  expires: number,
  signal: AbortSignal,
  giveBack: (messages: readonly JsMsg[]) => void,
): Promise<JsMsg[]> {
  const got: JsMsg[] = []
  let cut = false
  await pullInto(consumer, max, expires, signal, (m) => {
    if (cut) giveBack([m])
    else got.push(m)
  })
  if (!signal.aborted) return got
  cut = true
  if (got.length > 0) giveBack(got.splice(0))
  return []
}
