// Keeps the local tiers of every process coherent over an invalidation bus: what this process
// changes is published; what others change is dropped from the local tiers (or, for tags,
// recorded); after a reconnect, when messages may have been missed, everything local goes.
import type { InvalidationBus, InvalidationMessage } from '../bus/bus.ts'
import { refOf } from './hot.ts'
import type { TagTimes } from './tags.ts'
import { isPromise, type Tier } from './tier.ts'

/** Counters of the bus as the tiered driver's metrics report them. */
export interface BusCounters {
  sent: number
  received: number
  reconnects: number
  rejected: number
}

/** Removes every entry of a namespace from one tier (and what the driver knows of it). */
export type ClearTier = (tier: Tier, ns: string) => Promise<void>

/** The tiered driver's side of the bus; with no bus every method is a no-op. */
export class Coherence {
  readonly #bus: InvalidationBus | undefined
  readonly #ownsBus: boolean
  readonly #tiers: readonly Tier[]
  readonly #tags: TagTimes
  readonly #clearTier: ClearTier
  /** Namespaces written by this process: what a reconnect has to drop locally. */
  readonly #namespaces = new Set<string>()
  readonly #counters = { sent: 0, received: 0, reconnects: 0 }
  readonly #unsubscribe: Array<() => void> = []

  constructor(
    bus: InvalidationBus | undefined,
    ownsBus: boolean,
    tiers: readonly Tier[],
    tags: TagTimes,
    clearTier: ClearTier,
  ) {
    this.#bus = bus
    this.#ownsBus = ownsBus
    this.#tiers = tiers
    this.#tags = tags
    this.#clearTier = clearTier
    if (bus) {
      this.#unsubscribe.push(bus.subscribe((m) => this.#onMessage(m)))
      this.#unsubscribe.push(
        bus.onReconnect(() => {
          this.#counters.reconnects++
          void this.#dropLocal().catch(() => undefined)
        }),
      )
    }
  }

  /** Remembers that this process holds entries of `ns` locally. */
  written(ns: string): void {
    this.#namespaces.add(ns)
  }

  /** Whether there is a bus to tell (no promise to await per write without one). */
  get publishes(): boolean {
    return this.#bus !== undefined
  }

  async publish(m: InvalidationMessage): Promise<void> {
    if (this.#bus === undefined) return
    this.#counters.sent++
    await this.#bus.publish(m)
  }

  counters(): BusCounters {
    return { ...this.#counters, rejected: this.#bus?.rejected ?? 0 }
  }

  /** Stops handling messages (first thing on close, before the tiers close). */
  stopListening(): void {
    for (const u of this.#unsubscribe) u()
  }

  /** Closes the bus when the driver owns it (last thing on close). */
  async close(): Promise<void> {
    this.stopListening()
    if (this.#ownsBus) await this.#bus?.close()
  }

  #onMessage(m: InvalidationMessage): void {
    this.#counters.received++
    void this.#handle(m).catch(() => undefined)
  }

  async #handle(m: InvalidationMessage): Promise<void> {
    if (m.kind === 'tags') {
      this.#tags.apply(m.namespace, m.tags, m.at, m.mode)
      return
    }
    for (const tier of this.#tiers) {
      if (!tier.local) continue
      if (m.kind === 'clear') await this.#clearTier(tier, m.namespace)
      else
        for (const key of m.keys) {
          const r = tier.driver.delete(m.namespace, key)
          if (isPromise(r)) await r
          tier.residency?.remove(refOf(m.namespace, key))
        }
    }
  }

  /** After missed messages: drop everything local (it may be outdated) and every cached tag time. */
  async #dropLocal(): Promise<void> {
    this.#tags.clear()
    for (const tier of this.#tiers) if (tier.local) for (const ns of this.#namespaces) await this.#clearTier(tier, ns)
  }
}
