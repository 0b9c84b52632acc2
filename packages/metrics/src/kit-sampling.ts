import { observeOperations, type OperationOutcome } from '@beaver-kit/core'

type Finish = (ctx: Record<string, unknown>, outcome: OperationOutcome) => void

interface Gate {
  readonly subscribe: () => void
  left: number
  off: (() => void) | undefined
}

/**
 * Times at most `perSecond` operations of each hot channel (a cache read, a query) per second:
 * the channel is subscribed while the second's budget lasts and unsubscribed for the rest, so
 * the operation is back on its unobserved path (one property read) under load, and every
 * operation is timed when there are fewer than `perSecond`. Only an operation that started
 * while subscribed is timed (one that was already running when the budget came back is not).
 * Counts never come from here: they are the instances' own (kit-sources.ts).
 */
export class TimingBudget {
  readonly #perSecond: number
  readonly #gates = new Set<Gate>()
  #timer: NodeJS.Timeout | undefined

  constructor(perSecond: number) {
    this.#perSecond = perSecond
  }

  /** Calls `finish` for the timed operations of channel `name`. Returns the unsubscribe. */
  observe(name: string, finish: Finish): () => void {
    if (this.#perSecond <= 0) return () => undefined
    const started = new WeakSet<object>()
    const gate: Gate = {
      left: this.#perSecond,
      off: undefined,
      subscribe: () => {
        gate.off = observeOperations<Record<string, unknown>>(name, {
          start: (ctx) => {
            started.add(ctx)
          },
          finish: (ctx, outcome) => {
            if (!started.delete(ctx)) return
            finish(ctx, outcome)
            if (--gate.left > 0 || gate.off === undefined) return
            gate.off()
            gate.off = undefined
            this.#tick()
          },
        })
      },
    }
    gate.subscribe()
    this.#gates.add(gate)
    return () => {
      this.#gates.delete(gate)
      gate.off?.()
      gate.off = undefined
    }
  }

  /** Starts the once-a-second refill (it does not keep the process alive). */
  #tick(): void {
    if (this.#timer !== undefined) return
    this.#timer = setInterval(() => this.refill(), 1000)
    this.#timer.unref()
  }

  /** Gives every channel its budget again (each second; tests call it to step a second). */
  refill(): void {
    for (const gate of this.#gates) {
      gate.left = this.#perSecond
      if (gate.off === undefined) gate.subscribe()
    }
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const gate of this.#gates) gate.off?.()
    this.#gates.clear()
  }
}
