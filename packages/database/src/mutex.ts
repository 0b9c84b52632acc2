/** A FIFO lock: `lock()` resolves with the function that releases it. */
export class Mutex {
  #locked = false
  readonly #queue: Array<(unlock: () => void) => void> = []

  get free(): boolean {
    return !this.#locked
  }

  get waiting(): number {
    return this.#queue.length
  }

  lock(): Promise<() => void> {
    if (!this.#locked) {
      this.#locked = true
      return Promise.resolve(this.#unlocker())
    }
    return new Promise((resolve) => this.#queue.push(resolve))
  }

  #unlocker(): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      const next = this.#queue.shift()
      if (next) next(this.#unlocker())
      else this.#locked = false
    }
  }
}
