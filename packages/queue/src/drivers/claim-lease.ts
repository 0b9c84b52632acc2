import type { Delivery, RenewResult } from '../driver.ts'

/** Renewals a slow claim may try before it gives its messages back. */
const MAX_RENEWALS = 3

/** What keeping a claim's leases needs from its driver, bound to one queue. */
export interface LeaseKeeper {
  renew(deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult>
  release(deliveries: readonly Delivery[]): Promise<void>
}

/**
 * A claim writes its lease as "the clock read before the round trip + leaseMs". When the round
 * trip was slow (a SQLite writer waiting out another process's lock, a process starved of CPU,
 * commands held while the client reconnected), that lease has run out, or nearly, by the time
 * the handler would start, and another worker's reclaim hands the same messages out again: the
 * loss test saw whole batches run twice with no worker killed. So a claim that took more than
 * half its lease renews what it got before handing it over and keeps only what is still its
 * own; one that cannot hold a lease after a few renewals gives the messages back, uncounted.
 */
export async function keepFreshLeases(
  deliveries: Delivery[],
  claimedAt: number,
  leaseMs: number,
  now: () => number,
  keeper: LeaseKeeper,
): Promise<Delivery[]> {
  let held = deliveries
  let since = claimedAt
  for (let renewals = 0; held.length > 0 && now() - since > leaseMs / 2; renewals++) {
    if (renewals === MAX_RENEWALS) {
      await keeper.release(held)
      return []
    }
    since = now()
    const { lost } = await keeper.renew(held, leaseMs)
    if (lost.length > 0) {
      const gone = new Set(lost)
      held = held.filter((d) => !gone.has(d.id))
    }
    for (const d of held) d.leaseUntil = since + leaseMs
  }
  return held
}
