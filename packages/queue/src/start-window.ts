/** A consumer's `rateLimit`: at most `max` handler starts in any window of `perMs`. */
export class StartWindow {
  readonly #max: number
  readonly #perMs: number
  /** When the starts of the current window happened (performance.now()), oldest first. */
  readonly #starts: number[] = []

  constructor(max: number, perMs: number) {
    this.#max = max
    this.#perMs = perMs
  }

  /** How many handlers may start now, and, when none may, how long until one can. */
  room(): { room: number; waitMs: number } {
    const now = performance.now()
    while (this.#starts.length > 0 && (this.#starts[0] as number) <= now - this.#perMs) this.#starts.shift()
    const room = this.#max - this.#starts.length
    return { room, waitMs: room > 0 ? 0 : (this.#starts[0] as number) + this.#perMs - now }
  }

  started(): void {
    this.#starts.push(performance.now())
  }
}
