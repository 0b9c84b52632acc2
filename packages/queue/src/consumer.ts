import { backoffDelay, raceAbort, sleep, traceAsync } from '@beaver-kit/core'
import { toMs, type Duration } from '@beaver-kit/config'
import { channels } from './channels.ts'
import type { Delivery, QueueDriver } from './driver.ts'
import { describeError, isUnrecoverable, QueueError } from './errors.ts'
import type { Message, Serializer } from './message.ts'
import { compose, type HandleContext, type QueueMiddleware } from './middleware.ts'

/** What a handler can do besides returning. */
export interface HandlerContext {
  /** Aborts on cancel-by-id, the message's timeout, a lost lease, or a drain that ran out of time. */
  readonly signal: AbortSignal
  readonly attempt: number
  /** Records progress (any JSON value), visible in `get()` and the dashboard. */
  progress(value: unknown): Promise<void>
  /** Extends this delivery's lease to `ms` from now (default: the consumer's lease time). */
  extendLease(ms?: Duration): Promise<void>
  /** Manual mode: acknowledges the message (done). */
  ack(): Promise<void>
  /** Manual mode: fails the delivery; `requeue: false` sends it to the DLQ at once. */
  nack(options?: { requeue?: boolean; delay?: Duration; error?: unknown }): Promise<void>
}

export type Handler<T> = (message: Message<T>, context: HandlerContext) => unknown

/** Options of `consume()`. */
export interface ConsumeOptions {
  /** Handlers run at once. Default `BEAVER_QUEUE_CONCURRENCY`. */
  concurrency?: number
  /** Messages fetched per round trip (at most the free slots). Default: concurrency. */
  prefetch?: number
  /** At most this many messages of one `group` in flight across every consumer, round-robin between groups. */
  groupConcurrency?: number
  /** Start at most `max` handlers per `per` in this consumer. */
  rateLimit?: { max: number; per: Duration }
  /** `auto` (default): resolve acks, throw retries. `manual`: call `ack()`/`nack()`, the lease is renewed until then. */
  ack?: 'auto' | 'manual'
  /** Lease per delivery. Default `BEAVER_QUEUE_LEASE_TIME`. */
  leaseTime?: Duration
  /** Renew leases of running handlers automatically (default true); false: only `extendLease()` does. */
  renewLease?: boolean
  /** Whether a failure may be retried (default: everything but UnrecoverableError). */
  retryIf?: (error: unknown, message: Message) => boolean
  /** Longest idle wait between looks for work where the backend cannot push. */
  pollInterval?: Duration
  /** How long `close()` lets handlers finish. Default `BEAVER_QUEUE_DRAIN_TIMEOUT`. */
  drainTimeout?: Duration
}

/** Counters of one consumer since it started. */
export interface ConsumerStats {
  queue: string
  concurrency: number
  active: number
  paused: boolean
  completed: number
  retried: number
  dead: number
  cancelled: number
  released: number
}

/** A running worker pool on one queue. */
export interface Consumer extends AsyncDisposable {
  readonly queue: string
  /** Stops fetching; running handlers go on. */
  pause(): void
  resume(): void
  /** Changes the concurrency; running handlers above the new size finish first. */
  resize(concurrency: number): void
  stats(): ConsumerStats
  /** Stops fetching, lets handlers finish within the drain timeout, then aborts and releases the rest. */
  close(options?: { timeout?: Duration }): Promise<void>
}

/** What a consumer needs from its queue. */
export interface ConsumerHost {
  readonly driverName: string
  readonly driver: QueueDriver
  readonly serializer: Serializer
  readonly now: () => number
  readonly middleware: readonly QueueMiddleware[]
  readonly defaults: { concurrency: number; leaseMs: number; pollIntervalMs: number; drainTimeoutMs: number }
  onConnection(state: 'lost' | 'restored', error?: unknown): void
  forget(consumer: Consumer): void
}

interface Running {
  delivery: Delivery
  controller: AbortController
  leaseMs: number
  settled: boolean
  done: Promise<void>
}

const DEFAULT_ACK_RETRY_MS = 50

export class QueueConsumer<T> implements Consumer {
  readonly queue: string
  readonly #full: string
  readonly #host: ConsumerHost
  readonly #handler: Handler<T>
  readonly #parse: ((value: unknown) => T) | undefined
  readonly #options: ConsumeOptions
  readonly #leaseMs: number
  readonly #pollMs: number
  readonly #drainMs: number
  readonly #manual: boolean
  readonly #renew: boolean
  readonly #rate: { max: number; perMs: number } | undefined
  readonly #starts: number[] = []
  readonly #running = new Map<string, Running>()
  readonly #layers: ((ctx: HandleContext, next: () => Promise<void>) => Promise<void>)[]
  #concurrency: number
  #paused = false
  #closing: Promise<void> | undefined
  #stopped = false
  #fetchAbort = new AbortController()
  #wake: (() => void) | undefined
  #loop: Promise<void> | undefined
  #heartbeat: ReturnType<typeof setInterval> | undefined
  #acks: Delivery[] = []
  #flushing: Promise<void> | undefined
  #lost = false
  readonly #stats = { completed: 0, retried: 0, dead: 0, cancelled: 0, released: 0 }

  constructor(
    host: ConsumerHost,
    queue: string,
    full: string,
    handler: Handler<T>,
    parse: ((value: unknown) => T) | undefined,
    options: ConsumeOptions,
  ) {
    this.#host = host
    this.queue = queue
    this.#full = full
    this.#handler = handler
    this.#parse = parse
    this.#options = options
    this.#concurrency = positive(options.concurrency ?? host.defaults.concurrency, 'concurrency')
    this.#leaseMs = options.leaseTime === undefined ? host.defaults.leaseMs : toMs(options.leaseTime, 'leaseTime')
    this.#pollMs =
      options.pollInterval === undefined ? host.defaults.pollIntervalMs : toMs(options.pollInterval, 'pollInterval')
    this.#drainMs =
      options.drainTimeout === undefined ? host.defaults.drainTimeoutMs : toMs(options.drainTimeout, 'drainTimeout')
    this.#manual = options.ack === 'manual'
    this.#renew = options.renewLease !== false
    if (options.groupConcurrency !== undefined) positive(options.groupConcurrency, 'groupConcurrency')
    if (options.prefetch !== undefined) positive(options.prefetch, 'prefetch')
    if (options.rateLimit) {
      this.#rate = {
        max: positive(options.rateLimit.max, 'rateLimit.max'),
        perMs: toMs(options.rateLimit.per, 'rateLimit.per'),
      }
    }
    this.#layers = host.middleware.flatMap((m) => (m.handle ? [m.handle.bind(m)] : []))
    if (this.#leaseMs < 10) {
      throw new QueueError('QUEUE_OPTIONS_INVALID', `leaseTime must be at least 10 ms; got ${this.#leaseMs} ms.`)
    }
  }

  start(): void {
    const every = Math.max(5, Math.min(this.#leaseMs / 3, 2000))
    this.#heartbeat = setInterval(() => void this.#renewAll(), every)
    this.#heartbeat.unref()
    this.#loop = this.#run()
  }

  pause(): void {
    this.#paused = true
    this.#interrupt()
  }

  resume(): void {
    this.#paused = false
    this.#kick()
  }

  resize(concurrency: number): void {
    this.#concurrency = positive(concurrency, 'concurrency')
    this.#interrupt()
  }

  stats(): ConsumerStats {
    return {
      queue: this.queue,
      concurrency: this.#concurrency,
      active: this.#running.size,
      paused: this.#paused,
      ...this.#stats,
    }
  }

  #kick(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  // Wakes the loop and cuts a long fetch short, so pause/resize/close take effect now.
  #interrupt(): void {
    this.#fetchAbort.abort()
    this.#kick()
  }

  async #idle(ms?: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => resolve(), ms)
      this.#wake = () => {
        if (timer) clearTimeout(timer)
        resolve()
      }
    })
  }

  #rateRoom(): { room: number; waitMs: number } {
    if (!this.#rate) return { room: Infinity, waitMs: 0 }
    const now = performance.now()
    while (this.#starts.length > 0 && (this.#starts[0] as number) <= now - this.#rate.perMs) this.#starts.shift()
    const room = this.#rate.max - this.#starts.length
    return { room, waitMs: room > 0 ? 0 : (this.#starts[0] as number) + this.#rate.perMs - now }
  }

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      const free = this.#concurrency - this.#running.size
      if (this.#paused || free <= 0) {
        await this.#idle()
        continue
      }
      const { room, waitMs } = this.#rateRoom()
      if (room <= 0) {
        await this.#idle(Math.max(1, waitMs))
        continue
      }
      if (this.#fetchAbort.signal.aborted) this.#fetchAbort = new AbortController()
      let deliveries: Delivery[]
      try {
        deliveries = await this.#host.driver.fetch(this.#full, {
          max: Math.min(free, room, this.#options.prefetch ?? this.#concurrency),
          leaseMs: this.#leaseMs,
          groupLimit: this.#options.groupConcurrency,
          waitMs: this.#pollMs,
          signal: this.#fetchAbort.signal,
        })
        if (this.#lost) {
          this.#lost = false
          this.#host.onConnection('restored')
        }
        failures = 0
      } catch (error) {
        if (this.#stopped) break
        if (!this.#lost) {
          this.#lost = true
          this.#host.onConnection('lost', error)
        }
        failures++
        await this.#idle(backoffDelay(failures, { baseMs: 100, maxMs: 5000, jitter: 'equal' }))
        continue
      }
      if (this.#stopped || this.#paused) {
        // Fetched while pausing or closing: give them straight back, uncounted.
        if (deliveries.length > 0) await this.#host.driver.release(this.#full, deliveries).catch(() => undefined)
        continue
      }
      for (const d of deliveries) this.#start(d)
    }
  }

  #start(delivery: Delivery): void {
    if (this.#rate) this.#starts.push(performance.now())
    const controller = new AbortController()
    const entry: Running = { delivery, controller, leaseMs: this.#leaseMs, settled: false, done: Promise.resolve() }
    this.#running.set(delivery.id, entry)
    entry.done = this.#handle(entry).finally(() => {
      this.#running.delete(delivery.id)
      this.#kick()
    })
  }

  async #handle(entry: Running): Promise<void> {
    const { delivery: d, controller } = entry
    const host = this.#host
    if (d.attempt > d.maxAttempts) {
      // Delivered more often than allowed: its handler crashed (or hung past the lease) every time.
      await this.#settle(entry, {
        kind: 'dead',
        reason: 'attempts exhausted: the lease expired while it ran',
        error: d.lastError ?? 'lease expired',
      })
      return
    }
    let payload: T
    try {
      const raw = host.serializer.deserialize(d.payload)
      payload = this.#parse ? this.#parse(raw) : (raw as T)
    } catch (error) {
      await this.#settle(entry, {
        kind: 'dead',
        reason: `payload could not be deserialized (${host.serializer.name})`,
        error: describeError(error),
      })
      return
    }
    const message: Message<T> = Object.freeze({
      id: d.id,
      queue: this.queue,
      payload,
      headers: Object.freeze({ ...d.headers }),
      attempt: d.attempt,
      maxAttempts: d.maxAttempts,
      priority: d.priority,
      group: d.group,
      createdAt: new Date(d.createdAt),
      lastError: d.lastError,
    })
    let timer: ReturnType<typeof setTimeout> | undefined
    if (d.timeoutMs > 0) {
      timer = setTimeout(() => {
        controller.abort(
          new QueueError(
            'QUEUE_TIMEOUT',
            `The handler of message ${d.id} on "${this.queue}" ran past its ${d.timeoutMs} ms timeout.`,
            {
              details: { queue: this.queue, id: d.id, timeoutMs: d.timeoutMs },
            },
          ),
        )
      }, d.timeoutMs)
    }
    let manualOutcome: Promise<void> | undefined
    let resolveManual: (() => void) | undefined
    const manualDone = this.#manual ? new Promise<void>((resolve) => (resolveManual = resolve)) : undefined
    const context: HandlerContext = {
      signal: controller.signal,
      attempt: d.attempt,
      progress: async (value) => {
        await host.driver.progress(this.#full, d, host.serializer.serialize(value))
      },
      extendLease: async (ms) => {
        const leaseMs = ms === undefined ? this.#leaseMs : toMs(ms, 'extendLease')
        entry.leaseMs = leaseMs
        const result = await host.driver.renew(this.#full, [d], leaseMs)
        this.#applyRenew(result)
        if (result.lost.includes(d.id)) throw lostError(this.queue, d.id)
      },
      ack: async () => {
        manualOutcome ??= this.#settle(entry, 'complete')
        resolveManual?.()
        await manualOutcome
      },
      nack: async (options = {}) => {
        const error = options.error === undefined ? 'nacked' : describeError(options.error)
        manualOutcome ??=
          options.requeue === false
            ? this.#settle(entry, { kind: 'dead', reason: 'nacked without requeue', error })
            : this.#settle(entry, this.#retryOrDead(d, error, options.delay))
        resolveManual?.()
        await manualOutcome
      },
    }
    const ctx: HandleContext = { queue: this.queue, driver: host.driverName, message, context }
    const trace = {
      queue: this.queue,
      driver: host.driverName,
      id: d.id,
      attempt: d.attempt,
      outcome: undefined as string | undefined,
      traceparent: d.headers.traceparent,
      tracestate: d.headers.tracestate,
    }
    try {
      await traceAsync(
        channels.handle,
        () => trace,
        async () => {
          try {
            const run = compose(this.#layers, ctx, async () => {
              await this.#handler(message, context)
              if (manualDone) await manualDone
            })
            await raceAbort(run, { signal: controller.signal })
            if (!this.#manual) await this.#settle(entry, 'complete')
            trace.outcome = 'completed'
          } catch (error) {
            trace.outcome = await this.#onFailure(entry, message, error)
          }
        },
      )
    } finally {
      if (timer) clearTimeout(timer)
    }
  }

  async #onFailure(entry: Running, message: Message<T>, error: unknown): Promise<string> {
    const { delivery: d, controller } = entry
    const reason: unknown = controller.signal.aborted ? controller.signal.reason : error
    if (isQueueError(reason, 'QUEUE_LEASE_LOST')) return 'lost'
    if (isQueueError(reason, 'QUEUE_CLOSED')) {
      await this.#settle(entry, 'release')
      return 'released'
    }
    if (isQueueError(reason, 'QUEUE_CANCELLED')) {
      await this.#settle(entry, { kind: 'cancelled', error: describeError(reason) })
      return 'cancelled'
    }
    const text = describeError(reason)
    const retryable = !isUnrecoverable(reason) && (this.#options.retryIf?.(reason, message) ?? true)
    const failure = retryable
      ? this.#retryOrDead(d, text, undefined)
      : ({ kind: 'dead', reason: 'unrecoverable error', error: text } as const)
    await this.#settle(entry, failure)
    return failure.kind
  }

  #retryOrDead(
    d: Delivery,
    error: string,
    delay: Duration | undefined,
  ): { kind: 'retry'; runAt: number; error: string } | { kind: 'dead'; reason: string; error: string } {
    if (d.attempt >= d.maxAttempts)
      return { kind: 'dead', reason: `attempts exhausted (${d.attempt} of ${d.maxAttempts})`, error }
    const delayMs =
      delay === undefined
        ? Math.round(backoffDelay(d.attempt, { baseMs: d.backoffBaseMs, maxMs: d.backoffMaxMs }))
        : toMs(delay, 'nack delay')
    return { kind: 'retry', runAt: this.#host.now() + delayMs, error }
  }

  /** Ends a delivery once: completes (batched), fails, or releases it. */
  async #settle(entry: Running, outcome: 'complete' | 'release' | Parameters<QueueDriver['fail']>[2]): Promise<void> {
    if (entry.settled) return
    entry.settled = true
    const d = entry.delivery
    const driver = this.#host.driver
    if (outcome === 'complete') {
      this.#stats.completed++
      this.#acks.push(d)
      await this.#flushSoon()
      return
    }
    if (outcome === 'release') {
      this.#stats.released++
      await driver.release(this.#full, [d])
      return
    }
    if (outcome.kind === 'retry') {
      this.#stats.retried++
      if (channels.retry.hasSubscribers) {
        channels.retry.publish({
          queue: this.queue,
          id: d.id,
          attempt: d.attempt,
          delayMs: outcome.runAt - this.#host.now(),
          error: outcome.error,
        })
      }
    } else if (outcome.kind === 'dead') {
      this.#stats.dead++
      if (channels.dead.hasSubscribers) {
        channels.dead.publish({
          queue: this.queue,
          id: d.id,
          attempt: d.attempt,
          reason: outcome.reason,
          error: outcome.error,
        })
      }
    } else {
      this.#stats.cancelled++
    }
    await driver.fail(this.#full, d, outcome)
  }

  // Acks of one tick go to the backend in one call (one UPDATE, one script), the main reason
  // a consumer at concurrency 50 is not 50 round trips per 50 messages.
  #flushSoon(): Promise<void> {
    this.#flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.#flush())
    return this.#flushing
  }

  async #flush(): Promise<void> {
    const batch = this.#acks
    this.#acks = []
    this.#flushing = undefined
    if (batch.length === 0) return
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#host.driver.complete(this.#full, batch)
        return
      } catch (error) {
        // The backend is away: keep trying while the leases hold; after that the messages are
        // redelivered anyway (at-least-once), so the acks are dropped rather than held forever.
        if (attempt * DEFAULT_ACK_RETRY_MS * attempt > this.#leaseMs) throw error
        await sleep(DEFAULT_ACK_RETRY_MS * attempt)
      }
    }
  }

  #applyRenew(result: { cancelled: string[]; lost: string[] }): void {
    for (const id of result.cancelled) {
      const r = this.#running.get(id)
      if (r && !r.controller.signal.aborted) {
        r.controller.abort(
          new QueueError('QUEUE_CANCELLED', `Message ${id} on "${this.queue}" was cancelled.`, {
            details: { queue: this.queue, id },
          }),
        )
      }
    }
    for (const id of result.lost) {
      const r = this.#running.get(id)
      if (r && !r.settled) {
        r.settled = true
        if (channels.leaseLost.hasSubscribers) channels.leaseLost.publish({ queue: this.queue, id })
        r.controller.abort(lostError(this.queue, id))
      }
    }
  }

  async #renewAll(): Promise<void> {
    const byLease = new Map<number, Delivery[]>()
    for (const r of this.#running.values()) {
      if (r.settled) continue
      // Without auto-renewal only cancellation is checked, with a renewal that keeps the
      // lease the handler set (extendLease) rather than pushing it out.
      const list = byLease.get(this.#renew ? r.leaseMs : -1) ?? []
      list.push(r.delivery)
      byLease.set(this.#renew ? r.leaseMs : -1, list)
    }
    for (const [leaseMs, list] of byLease) {
      if (leaseMs < 0) continue
      try {
        this.#applyRenew(await this.#host.driver.renew(this.#full, list, leaseMs))
      } catch {
        // The backend is away; the next beat tries again, and the lease covers the gap.
      }
    }
  }

  close(options: { timeout?: Duration } = {}): Promise<void> {
    this.#closing ??= this.#close(options.timeout === undefined ? this.#drainMs : toMs(options.timeout, 'timeout'))
    return this.#closing
  }

  async #close(timeoutMs: number): Promise<void> {
    this.#stopped = true
    this.#interrupt()
    await this.#loop
    // Before the drain: what the drain releases must not be pushed straight back to us.
    await this.#host.driver.stopFetching?.(this.#full).catch(() => undefined)
    const pending = [...this.#running.values()].map((r) => r.done)
    if (pending.length > 0) {
      const all = Promise.allSettled(pending)
      let timer: ReturnType<typeof setTimeout> | undefined
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
      ])
      clearTimeout(timer)
      if (timedOut) {
        // Out of time: abort what still runs and hand it back at once, so another worker picks it up.
        const reason = new QueueError(
          'QUEUE_CLOSED',
          `The consumer of "${this.queue}" closed before the handler finished.`,
        )
        for (const r of this.#running.values()) r.controller.abort(reason)
        await Promise.allSettled([...this.#running.values()].map((r) => r.done))
      }
    }
    await this.#flushing
    await this.#flush()
    clearInterval(this.#heartbeat)
    this.#host.forget(this)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) {
    throw new QueueError('QUEUE_OPTIONS_INVALID', `${name} must be a positive integer; got ${String(n)}.`, {
      details: { option: name },
    })
  }
  return n
}

function lostError(queue: string, id: string): QueueError {
  return new QueueError(
    'QUEUE_LEASE_LOST',
    `The lease of message ${id} on "${queue}" expired before the handler finished; it may run again elsewhere. Extend it with extendLease() or raise leaseTime.`,
    { details: { queue, id } },
  )
}

function isQueueError(value: unknown, code: string): boolean {
  return value instanceof QueueError && value.code === code
}
