import type { FlowContext } from './context.ts'
import type { FailureCounter } from './store.ts'

/** The counters a login attempt is judged by: the account tried, and the client IP if known. */
export function lockoutKeys(email: string, ip: string | undefined): { account: string; ip: string | undefined } {
  return { account: `acct:${email}`, ip: ip === undefined ? undefined : `ip:${ip.slice(0, 64)}` }
}

function live(ctx: FlowContext, c: FailureCounter | undefined, now: number): FailureCounter | undefined {
  return c && now - c.updatedAt < ctx.settings.lockout.forgetAfter ? c : undefined
}

/** True when the account or the IP is inside a backoff delay now. */
export async function isDelayed(ctx: FlowContext, keys: { account: string; ip: string | undefined }): Promise<boolean> {
  const now = ctx.now()
  const [a, i] = await Promise.all([
    ctx.store.getFailures(keys.account),
    keys.ip === undefined ? undefined : ctx.store.getFailures(keys.ip),
  ])
  return (live(ctx, a, now)?.lockedUntil ?? 0) > now || (live(ctx, i, now)?.lockedUntil ?? 0) > now
}

/**
 * Counts a failure. Past the threshold the key is delayed for baseDelay, doubling with each
 * further failure up to maxDelay: a backoff that always ends, never a permanent lock that
 * anyone could set on a victim. Attempts made during a delay are refused without counting,
 * so hammering a delayed account does not lengthen it; counts are forgotten after
 * `forgetAfter` without failures. Returns true when this failure started a delay.
 */
export async function recordFailure(ctx: FlowContext, key: string, threshold: number): Promise<boolean> {
  const { baseDelay, maxDelay } = ctx.settings.lockout
  let started = false
  await ctx.store.updateFailures(key, (previous) => {
    const now = ctx.now()
    const current = live(ctx, previous, now)
    if (current && current.lockedUntil > now) return current
    const count = (current?.count ?? 0) + 1
    const over = count - threshold
    if (over < 0) return { count, lockedUntil: 0, updatedAt: now }
    started = true
    const delay = Math.min(maxDelay, baseDelay * 2 ** Math.min(over, 30))
    return { count, lockedUntil: now + delay, updatedAt: now }
  })
  return started
}
