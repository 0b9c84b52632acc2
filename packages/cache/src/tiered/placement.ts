import type { StoredValue } from '../driver.ts'
import { encodeEnvelope, type Envelope } from './envelope.ts'
import { HotEnvelope, refOf, splitRef } from './hot.ts'
import type { TierStrategy } from './strategy.ts'
import { countOf, decodeRaw, isPromise, physicalTtl, type Tier } from './tier.ts'

/** The form the hot top tier keeps (the same object when it already is one for this entry). */
export function hot(e: Envelope, ref: string): HotEnvelope {
  return e instanceof HotEnvelope && e.ref === ref ? e : new HotEnvelope(e, ref)
}

/**
 * Where entries go in the tiers: writes into a tier through the strategy's admission when the
 * tier is bounded (evicting, and under `writes: top` demoting, its victim), in the form each
 * tier keeps (a hot envelope on a hot top tier, the envelope by reference, or its bytes).
 */
export class Placement {
  readonly #tiers: readonly Tier[]
  readonly #strategy: TierStrategy
  readonly #writes: 'all' | 'top'
  readonly #hotTop: boolean

  constructor(tiers: readonly Tier[], strategy: TierStrategy, writes: 'all' | 'top', hotTop: boolean) {
    this.#tiers = tiers
    this.#strategy = strategy
    this.#writes = writes
    this.#hotTop = hotTop
  }

  /**
   * `#place` without a promise for a synchronous by-reference tier when no demotion write is
   * needed (writes = all); undefined when the asynchronous path must run.
   */
  placeSync(index: number, ref: string, ns: string, key: string, e: Envelope): boolean | undefined {
    const tier = this.#tiers[index] as Tier
    if (!tier.driver.capabilities.sync || !tier.byReference || this.#writes !== 'all') return undefined
    const res = tier.residency
    if (res !== undefined && !res.has(ref)) {
      while (res.full) {
        const victim = res.victimMark()
        if (victim === undefined) break
        if (!this.#strategy.admit(ref, victim.ref, index)) {
          countOf(tier, ns).rejections++
          return false
        }
        const [vns, vkey] = victim.ns !== undefined ? [victim.ns, victim.key as string] : splitRef(victim.ref)
        res.remove(victim.ref)
        // A synchronous tier: nothing to await.
        void tier.driver.delete(vns, vkey)
        countOf(tier, vns).evictions++
      }
      res.enter(ref, ns, key)
    }
    const ttl = physicalTtl(e)
    if (ttl === 0) return false
    void tier.driver.set(ns, key, index === 0 ? hot(e, ref) : e, ttl)
    countOf(tier, ns).writes++
    return true
  }

  /** Writes `e` into tier `index` as it is, with the physical TTL grace needs. False when already past grace. */
  async #write(index: number, ns: string, key: string, e: Envelope, bytes?: Uint8Array): Promise<boolean> {
    const tier = this.#tiers[index] as Tier
    const ttl = physicalTtl(e)
    if (ttl === 0) return false
    const r = tier.driver.set(ns, key, this.storedForm(index, ns, key, e, bytes), ttl)
    if (isPromise(r)) await r
    countOf(tier, ns).writes++
    return true
  }

  /** What tier `index` stores for `e`: the hot form on a hot top tier, the envelope by reference, or its bytes. */
  storedForm(index: number, ns: string, key: string, e: Envelope, bytes?: Uint8Array): StoredValue {
    const tier = this.#tiers[index] as Tier
    if (!tier.byReference) return bytes ?? encodeEnvelope(e)
    return index === 0 && this.#hotTop ? hot(e, refOf(ns, key)) : e
  }

  /** Writes into tier `index`, through admission when it is bounded; false when left out. */
  async place(index: number, ref: string, ns: string, key: string, e: Envelope, bytes?: Uint8Array): Promise<boolean> {
    const tier = this.#tiers[index] as Tier
    const res = tier.residency
    if (res !== undefined && !res.has(ref)) {
      while (res.full) {
        const victim = res.victimMark()
        if (victim === undefined) break
        if (!this.#strategy.admit(ref, victim.ref, index)) {
          countOf(tier, ns).rejections++
          return false
        }
        await this.#evict(index, victim.ref, victim.ns, victim.key)
      }
      res.enter(ref, ns, key)
    }
    return this.#write(index, ns, key, e, bytes)
  }

  /** Removes `ref` from bounded tier `index`, demoting it to the tier below when the strategy says so. */
  async #evict(index: number, ref: string, knownNs?: string, knownKey?: string): Promise<void> {
    const tier = this.#tiers[index] as Tier
    const [ns, key] = knownNs !== undefined ? [knownNs, knownKey as string] : splitRef(ref)
    tier.residency?.remove(ref)
    const below = index + 1 < this.#tiers.length ? index + 1 : undefined
    if (below !== undefined && this.#writes === 'top' && this.#strategy.shouldDemote(ref, index)) {
      const raw = tier.driver.get(ns, key)
      const e = decodeRaw(tier, isPromise(raw) ? await raw : raw)
      if (e !== undefined && (await this.place(below, ref, ns, key, e))) countOf(tier, ns).demotions++
    }
    const r = tier.driver.delete(ns, key)
    if (isPromise(r)) await r
    countOf(tier, ns).evictions++
  }
}
