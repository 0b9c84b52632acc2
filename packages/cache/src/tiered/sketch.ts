/**
 * A count-min sketch of 4-bit-saturating access counts with periodic aging (every counter
 * halved after `sampleSize` increments), as used for TinyLFU admission: it estimates how
 * often a key was seen recently in a few bytes per tracked key, never under-counting
 * (hash collisions can only over-estimate).
 * @example
 * const sketch = new FrequencySketch(10_000)
 * sketch.increment('users:42'); sketch.estimate('users:42') // 1
 */
export class FrequencySketch {
  readonly #table: Uint8Array
  readonly #mask: number
  readonly #sampleSize: number
  #additions = 0

  /** @param capacity roughly how many distinct keys matter (the top tier's size is a good value). */
  constructor(capacity: number) {
    const width = 2 ** Math.max(4, Math.ceil(Math.log2(Math.max(1, capacity) * 2)))
    this.#table = new Uint8Array(width * 4)
    this.#mask = width - 1
    this.#sampleSize = width * 10
  }

  /** Increments since the last aging. */
  get additions(): number {
    return this.#additions
  }

  /** Records one access of `key`; pass `h = sketchHash(key)` when it is already known (saves hashing on hot paths). */
  increment(key: string, h: number = sketchHash(key)): void {
    let grew = false
    for (let row = 0; row < 4; row++) {
      const i = this.#index(h, row)
      const v = this.#table[i] as number
      if (v < 15) {
        this.#table[i] = v + 1
        grew = true
      }
    }
    if (grew && ++this.#additions >= this.#sampleSize) this.#age()
  }

  /** The estimated recent access count of `key` (0..15). */
  estimate(key: string): number {
    const h = sketchHash(key)
    let min = 15
    for (let row = 0; row < 4; row++) {
      const v = this.#table[this.#index(h, row)] as number
      if (v < min) min = v
    }
    return min
  }

  #index(h: number, row: number): number {
    // Four independent-enough indices from one 32-bit hash (double hashing, odd multipliers).
    const mixed = Math.imul(h ^ (h >>> 15), SEEDS[row] as number)
    return row * (this.#mask + 1) + ((mixed ^ (mixed >>> 13)) & this.#mask)
  }

  /** Halves every counter: old popularity fades, so a formerly hot key can be displaced. */
  #age(): void {
    const t = this.#table
    for (let i = 0; i < t.length; i++) t[i] = (t[i] as number) >>> 1
    this.#additions = Math.floor(this.#additions / 2)
  }
}

const SEEDS = [0x9e3779b1, 0x85ebca77, 0xc2b2ae3d, 0x27d4eb2f]

/** The hash the sketch uses for `key` (FNV-1a over UTF-16 code units, 32-bit), for callers that keep it. */
export function sketchHash(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
