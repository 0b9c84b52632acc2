import type { SpanProcessor } from '@opentelemetry/sdk-trace'

/** A subscription the gate makes while open: returns the function that undoes it. */
export type GatedSubscription = () => () => void

/**
 * Open while at least one span is recording in this process, and closed `lingerMs` after the last
 * one ended. Kit operations that can only ever be recorded as children of a recording span (under
 * a parent-based sampler that drops roots, or a package traced only inside a trace) subscribe to
 * their channels only while it is open, so outside any sampled trace they run unobserved and pay
 * nothing, not even the channel's publish.
 *
 * It is a span processor of the kit's provider: the SDK calls `onStart` only for recording spans,
 * synchronously inside `startSpan`, so the gate is open before any operation under the new span
 * begins. It closes only when no span records, so no operation it traced is still in flight.
 */
export class RecordingGate implements SpanProcessor {
  readonly #lingerMs: number
  readonly #subscriptions: GatedSubscription[] = []
  #undo: Array<() => void> = []
  #subscribed = false
  #recording = 0
  #started = 0
  #timer: NodeJS.Timeout | undefined

  constructor(lingerMs: number) {
    this.#lingerMs = lingerMs
  }

  /** Whether the gated channels are subscribed now (for tests and `describe()`). */
  get open(): boolean {
    return this.#subscribed
  }

  /** Adds a subscription, made at once when the gate is open. Returns the function that drops it. */
  add(subscription: GatedSubscription): () => void {
    this.#subscriptions.push(subscription)
    let undo = this.#subscribed ? subscription() : undefined
    if (undo) this.#undo.push(undo)
    return () => {
      const at = this.#subscriptions.indexOf(subscription)
      if (at >= 0) this.#subscriptions.splice(at, 1)
      if (undo) {
        this.#undo = this.#undo.filter((u) => u !== undo)
        undo()
        undo = undefined
      }
    }
  }

  // Spans start and end back to back (a loop of traced reads): the gate arms at most one timer
  // per linger period instead of one per span. `#started` counts starts; a timer that finds a
  // start since it was armed and nothing recording now arms again, so the gate closes between
  // one and two lingers after the last span ended.
  onStart(): void {
    this.#started++
    if (this.#recording++ > 0 || this.#subscribed) return
    this.#subscribed = true
    this.#undo = this.#subscriptions.map((subscribe) => subscribe())
  }

  onEnd(): void {
    if (--this.#recording > 0) return
    this.#recording = 0
    if (this.#timer === undefined && this.#subscribed) this.#arm()
  }

  #arm(): void {
    const startedThen = this.#started
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      if (this.#recording > 0) return
      if (this.#started !== startedThen) this.#arm()
      else this.#unsubscribe()
    }, this.#lingerMs)
    this.#timer.unref()
  }

  #unsubscribe(): void {
    this.#subscribed = false
    for (const undo of this.#undo.splice(0)) undo()
  }

  forceFlush(): Promise<void> {
    return Promise.resolve()
  }

  shutdown(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#recording = 0
    this.#unsubscribe()
    return Promise.resolve()
  }
}
