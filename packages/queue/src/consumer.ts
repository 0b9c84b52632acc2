import { backoffDelay, traceAsync } from '@beaver-kit/core'
import { toMs, type Duration } from '@beaver-kit/config'
import { AckBatch } from './ack-batch.ts'
import { channels } from './channels.ts'
import type { Delivery, QueueDriver } from './driver.ts'
import { describeError, isQueueError, isUnrecoverable, QueueError } from './errors.ts'
import { HandlerAbort } from './handler-abort.ts'
import type { ConsumeOptions, Consumer, ConsumerStats, Handler, HandlerContext } from './consumer-api.ts'
import type { Message, Serializer } from './message.ts'
import { LeaseHeartbeat, type RunningDelivery } from './lease-heartbeat.ts'
import { compose, type HandleContext, type QueueMiddleware } from './middleware.ts'
import { retryOrDead } from './retry-policy.ts'
import { StartWindow } from './start-window.ts'

const NO_RATE_LIMIT = { room: Infinity, waitMs: 0 }

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
  readonly #rate: StartWindow | undefined
  readonly #running = new Map<string, RunningDelivery>()
  readonly #layers: ((ctx: HandleContext, next: () => Promise<void>) => Promise<void>)[]
  #concurrency: number
  #paused = false
  #closing: Promise<void> | undefined
  #stopped = false
  #fetchAbort = new AbortController()
  #wake: (() => void) | undefined
  #wakeSoon: ReturnType<typeof setImmediate> | undefined
  /** Deliveries whose handler returned and whose ack is queued: their slots are free. */
  #acking = 0
  #loop: Promise<void> | undefined
  readonly #heartbeat: LeaseHeartbeat
  readonly #acks: AckBatch
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
      this.#rate = new StartWindow(
        positive(options.rateLimit.max, 'rateLimit.max'),
        toMs(options.rateLimit.per, 'rateLimit.per'),
      )
    }
    this.#layers = host.middleware.flatMap((m) => (m.handle ? [m.handle.bind(m)] : []))
    if (this.#leaseMs < 10) {
      throw new QueueError('QUEUE_OPTIONS_INVALID', `leaseTime must be at least 10 ms; got ${this.#leaseMs} ms.`)
    }
    this.#heartbeat = new LeaseHeartbeat({
      queue,
      full,
      driver: host.driver,
      running: this.#running,
      renew: this.#renew,
      leaseMs: this.#leaseMs,
      now: host.now,
    })
    this.#acks = new AckBatch(host.driver, full, this.#leaseMs)
  }

  start(): void {
    this.#heartbeat.start()
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
      active: this.#running.size - this.#acking,
      paused: this.#paused,
      ...this.#stats,
    }
  }

  #kick(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }

  // Wakes the loop at the next turn of the event loop, before the ack batch's own send: every
  // handler that finished in this turn has freed its slot and queued its ack by then, so one
  // fetch carries all the acks and claims for all the slots.
  #kickSoon(): void {
    this.#wakeSoon ??= setImmediate(() => {
      this.#wakeSoon = undefined
      this.#kick()
    })
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

  async #run(): Promise<void> {
    let failures = 0
    while (!this.#stopped) {
      const free = this.#concurrency - this.#running.size + this.#acking
      if (this.#paused || free <= 0) {
        await this.#idle()
        continue
      }
      const { room, waitMs } = this.#rate?.room() ?? NO_RATE_LIMIT
      if (room <= 0) {
        await this.#idle(Math.max(1, waitMs))
        continue
      }
      if (this.#fetchAbort.signal.aborted) this.#fetchAbort = new AbortController()
      let deliveries: Delivery[]
      const driver = this.#host.driver
      const acks = driver.completeAndFetch ? this.#acks.take() : undefined
      try {
        const options = {
          max: Math.min(free, room, this.#options.prefetch ?? this.#concurrency),
          leaseMs: this.#leaseMs,
          groupLimit: this.#options.groupConcurrency,
          waitMs: this.#pollMs,
          signal: this.#fetchAbort.signal,
        }
        // With acks to send, one round trip acknowledges them and claims, without waiting for
        // work: the acks must not wait on an idle queue. Nothing claimed: the next turn waits.
        deliveries =
          acks && driver.completeAndFetch
            ? await driver.completeAndFetch(this.#full, acks.deliveries, { ...options, waitMs: 0 })
            : await driver.fetch(this.#full, options)
        acks?.sent()
        if (this.#lost) {
          this.#lost = false
          this.#host.onConnection('restored')
        }
        failures = 0
      } catch (error) {
        acks?.failed()
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
    this.#rate?.started()
    const entry: RunningDelivery = {
      delivery,
      abort: new HandlerAbort(),
      leaseMs: this.#leaseMs,
      // With renewLease: false the handler keeps its own lease (extendLease), and a lease it lets
      // run out is a loss the consumer learns of from the backend, as before.
      heldUntil: this.#renew ? delivery.leaseUntil : undefined,
      settled: false,
      done: Promise.resolve(),
    }
    this.#running.set(delivery.id, entry)
    entry.done = this.#handle(entry).finally(() => {
      this.#running.delete(delivery.id)
      this.#kick()
    })
  }

  async #handle(entry: RunningDelivery): Promise<void> {
    const { delivery: d, abort } = entry
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
        abort.abort(
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
      get signal() {
        return abort.signal
      },
      attempt: d.attempt,
      progress: async (value) => {
        await host.driver.progress(this.#full, d, host.serializer.serialize(value))
      },
      extendLease: async (ms) => {
        await this.#heartbeat.extend(entry, ms === undefined ? this.#leaseMs : toMs(ms, 'extendLease'))
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
            : this.#settle(entry, retryOrDead(d, error, options.delay, this.#host.now()))
        resolveManual?.()
        await manualOutcome
      },
    }
    const handle = async (): Promise<void> => {
      await this.#handler(message, context)
      if (manualDone) await manualDone
    }
    // Without middleware or anyone tracing, no context or trace record is built per message.
    const runOnce = async (): Promise<string> => {
      try {
        const run =
          this.#layers.length === 0
            ? handle()
            : compose(this.#layers, { queue: this.queue, driver: host.driverName, message, context }, handle)
        await abort.race(run)
        if (!this.#manual) await this.#settle(entry, 'complete', true)
        return 'completed'
      } catch (error) {
        return this.#onFailure(entry, message, error)
      }
    }
    try {
      if (!channels.handle.hasSubscribers) await runOnce()
      else {
        const trace = {
          queue: this.queue,
          driver: host.driverName,
          id: d.id,
          attempt: d.attempt,
          outcome: undefined as string | undefined,
          traceparent: d.headers.traceparent,
          tracestate: d.headers.tracestate,
        }
        await traceAsync(
          channels.handle,
          () => trace,
          async () => {
            trace.outcome = await runOnce()
          },
        )
      }
    } finally {
      if (timer) clearTimeout(timer)
    }
  }

  async #onFailure(entry: RunningDelivery, message: Message<T>, error: unknown): Promise<string> {
    const { delivery: d, abort } = entry
    const reason: unknown = abort.aborted ? abort.reason : error
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
      ? retryOrDead(d, text, undefined, this.#host.now())
      : ({ kind: 'dead', reason: 'unrecoverable error', error: text } as const)
    await this.#settle(entry, failure)
    return failure.kind
  }

  /**
   * Ends a delivery once: completes (batched), fails, or releases it. `handlerDone`: the
   * handler has returned, so its slot is free while the ack is on its way.
   */
  async #settle(
    entry: RunningDelivery,
    outcome: 'complete' | 'release' | Parameters<QueueDriver['fail']>[2],
    handlerDone = false,
  ): Promise<void> {
    if (entry.settled) return
    entry.settled = true
    const d = entry.delivery
    const driver = this.#host.driver
    if (outcome === 'complete') {
      this.#stats.completed++
      if (!handlerDone) return this.#acks.add(d)
      this.#acking++
      // No other handler runs, so none can add its ack this turn: fetch at once, and send the
      // ack at once unless that fetch carries it (completeAndFetch).
      const alone = this.#running.size === this.#acking
      if (alone) this.#kick()
      else this.#kickSoon()
      try {
        await this.#acks.add(d, alone && !driver.completeAndFetch)
      } finally {
        this.#acking--
      }
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
        for (const r of this.#running.values()) r.abort.abort(reason)
        await Promise.allSettled([...this.#running.values()].map((r) => r.done))
      }
    }
    await this.#acks.drain()
    clearImmediate(this.#wakeSoon)
    this.#heartbeat.stop()
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
