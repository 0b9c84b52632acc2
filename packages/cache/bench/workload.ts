// The skewed workload behind the strategy test and the strategy benchmark: a seeded PRNG, a
// Zipf sampler, and a two-tier run that reports the top tier's hit ratio.
import { seededRandom } from '@beaver-kit/testkit'
import { MemoryStore } from '../src/drivers/memory.ts'
import { TieredDriver } from '../src/tiered/driver.ts'
import type { TierStrategy } from '../src/tiered/strategy.ts'

/** Deterministic PRNG (mulberry32), so a run is the same every time. */
export const rng = seededRandom

/** Zipf(s) sampler over n ranks by inverse CDF. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1) ** s
    cdf[i] = sum
  }
  return () => {
    const u = random() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((cdf[mid] as number) < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

export interface SkewedRun {
  /** Entries the top tier may hold. */
  capacity: number
  /** Distinct Zipf(0.9) keys. */
  keyCount: number
  reads: number
  /** Share of reads that are one-off keys never seen again (a scan). */
  scanShare: number
  seed: number
}

/**
 * Reads through a memory-over-memory tiered driver (set on miss) and returns the top tier's
 * hit ratio: how well a strategy keeps the hot set on top.
 */
export async function topTierHitRatio(strategy: TierStrategy, run: SkewedRun): Promise<number> {
  const evictNothing = { storage: 'reference' as const, onEvict: () => undefined }
  const top = new MemoryStore({ maxItems: run.capacity + 1, sweepInterval: 0 }, evictNothing)
  const bottom = new MemoryStore({ maxItems: 10_000_000, sweepInterval: 0 }, evictNothing)
  const driver = new TieredDriver({ tiers: [{ driver: top, capacity: run.capacity }, { driver: bottom }], strategy })
  const random = rng(run.seed)
  const next = zipf(run.keyCount, 0.9, random)
  const payload = new Uint8Array([1])
  let scan = 0
  for (let i = 0; i < run.reads; i++) {
    const key = random() < run.scanShare ? `scan-${scan++}` : `k${next()}`
    if ((await driver.read('z', key)) === undefined) await driver.set('z', key, payload, undefined)
  }
  const m = driver.metrics().tiers[0]?.totals
  await driver.close()
  if (!m) throw new Error('the tiered driver reported no metrics for its top tier')
  return m.hits / (m.hits + m.misses)
}
