import type { JsMsg } from '@nats-io/jetstream'

type GiveBack = (messages: readonly JsMsg[]) => Promise<void>

interface Pending {
  promise: Promise<JsMsg[]>
  controller: AbortController
  /** Gives back what arrived when the consumer has not taken it in time. */
  expiry: ReturnType<typeof setTimeout> | undefined
}

/**
 * One pull request sent ahead while a queue's handlers run, so that when there is a backlog
 * the next message is on its way before the consumer asks (a prefetch of one): without it
 * every message costs a pull round trip on top of its ack. What arrives is given back
 * uncounted (a copy, then an ack) unless the consumer takes it within `holdMs`, kept under
 * half of ack_wait, so JetStream never redelivers a message that waited here unstarted and a
 * busy or paused consumer does not sit on work another could do.
 */
export class PullAhead {
  #pending: Pending | undefined

  /** Starts a pull unless one is in flight; `pull` resolves [] once its signal aborts. */
  start(pull: (signal: AbortSignal) => Promise<JsMsg[]>, holdMs: number, giveBack: GiveBack): void {
    if (this.#pending) return
    const controller = new AbortController()
    const pending: Pending = { promise: pull(controller.signal), controller, expiry: undefined }
    this.#pending = pending
    pending.promise.then(
      (got) => {
        if (got.length === 0 || this.#pending !== pending) return
        pending.expiry = setTimeout(() => void this.stop(giveBack), holdMs)
        pending.expiry.unref()
      },
      // Surfaces at take(); a pull nobody takes (stopped) fails unheard.
      () => undefined,
    )
  }

  /**
   * What the pull in flight brought (waiting for it), or undefined when none is in flight. An
   * abort of `signal` cuts the pull short: [] then.
   */
  async take(signal: AbortSignal): Promise<JsMsg[] | undefined> {
    const pending = this.#pending
    if (!pending) return undefined
    this.#pending = undefined
    clearTimeout(pending.expiry)
    const abort = (): void => pending.controller.abort()
    signal.addEventListener('abort', abort, { once: true })
    if (signal.aborted) abort()
    try {
      return await pending.promise
    } finally {
      signal.removeEventListener('abort', abort)
    }
  }

  /**
   * Cuts the pull in flight short: a pull still waiting gives back what it brings itself;
   * what one already brought goes back through `giveBack`, uncounted.
   */
  async stop(giveBack: GiveBack): Promise<void> {
    const pending = this.#pending
    this.#pending = undefined
    if (!pending) return
    clearTimeout(pending.expiry)
    pending.controller.abort()
    const got = await pending.promise.catch(() => [])
    if (got.length > 0) await giveBack(got).catch(() => undefined)
  }
}
