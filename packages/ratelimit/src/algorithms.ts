/**
 * The five algorithms as pure state transitions: (state, now, rule, cost, mode) → (decision,
 * next state). The memory and SQL stores run these functions; the Redis store runs the same
 * arithmetic in Lua (redis-script.ts) in the same order of operations, so a decision is the
 * same on every store (the conformance suite checks it on a fake clock).
 */

/** The algorithms a limiter can use. */
export const ALGORITHMS = ['fixed-window', 'sliding-window', 'sliding-log', 'token-bucket', 'gcra'] as const
export type Algorithm = (typeof ALGORITHMS)[number]

/** One limit: `limit` units per `windowMs`; `burst` is the bucket size of token-bucket and GCRA. */
export interface Rule {
  algorithm: Algorithm
  limit: number
  windowMs: number
  burst: number
}

/**
 * How a cost is applied:
 * - `all`: grant the whole cost or nothing (the usual check);
 * - `upTo`: grant as much of the cost as is available (token budgets);
 * - `force`: take the cost whatever is left (a penalty);
 * - `refund`: give the cost back.
 */
export type Mode = 'all' | 'upTo' | 'force' | 'refund'
export const MODE_CODE: Record<Mode, number> = { all: 0, upTo: 1, force: 2, refund: 3 }

/** The algorithm-specific state of one key; numbers only, so every store can keep it. */
export type State =
  | { kind: 'window'; start: number; count: number; previous: number }
  | { kind: 'bucket'; tokens: number; updated: number }
  | { kind: 'gcra'; tat: number }
  | { kind: 'log'; entries: number[] }

/** The outcome of applying a cost to a key (a store's result for an unblocked key, plus the next state). */
export interface Outcome {
  allowed: boolean
  /** Units taken (0 when refused; less than the cost in `upTo` mode). */
  granted: number
  remaining: number
  /** Time until the current window ends / the bucket is full again. */
  resetMs: number
  /** Time until the refused cost (or one unit in `upTo` mode) would be allowed; 0 when allowed. */
  retryAfterMs: number
  /** Always false here: a blocked key never reaches an algorithm. */
  blocked: false
  /** The state to store (unchanged when nothing was taken). */
  next: State
  /** How long the stored state matters; after that an absent key means the same. */
  ttlMs: number
}

function grant(mode: Mode, cost: number, available: number): number {
  if (mode === 'force') return cost
  if (mode === 'upTo') return Math.min(cost, Math.max(0, available))
  return cost <= available ? cost : 0
}

/** What a refused request needs before it can pass: the cost, or one unit in upTo mode. */
function needed(mode: Mode, cost: number): number {
  return mode === 'upTo' ? Math.min(1, cost) : cost
}

function fixedWindow(rule: Rule, s: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  const start = Math.floor(now / rule.windowMs) * rule.windowMs
  let count = s?.kind === 'window' && s.start === start ? s.count : 0
  const resetMs = start + rule.windowMs - now
  if (mode === 'refund') {
    count = Math.max(0, count - cost)
    const next: State = { kind: 'window', start, count, previous: 0 }
    const remaining = Math.max(0, rule.limit - count)
    return { allowed: true, granted: 0, remaining, resetMs, retryAfterMs: 0, blocked: false, next, ttlMs: resetMs }
  }
  const g = grant(mode, cost, rule.limit - count)
  count += g
  const allowed = g > 0 || cost === 0
  return {
    allowed,
    granted: g,
    remaining: Math.max(0, rule.limit - count),
    resetMs,
    retryAfterMs: allowed ? 0 : resetMs,
    blocked: false,
    next: { kind: 'window', start, count, previous: 0 },
    ttlMs: resetMs,
  }
}

function slidingWindow(rule: Rule, s: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  const w = rule.windowMs
  const start = Math.floor(now / w) * w
  let count = 0
  let previous = 0
  if (s?.kind === 'window') {
    if (s.start === start) {
      count = s.count
      previous = s.previous
    } else if (s.start === start - w) {
      previous = s.count
    }
  }
  const elapsed = now - start
  const weighted = Math.floor((previous * (w - elapsed)) / w)
  const resetMs = w - elapsed
  const ttlMs = 2 * w - elapsed
  if (mode === 'refund') {
    count = Math.max(0, count - cost)
    const next: State = { kind: 'window', start, count, previous }
    return {
      allowed: true,
      granted: 0,
      remaining: Math.max(0, rule.limit - weighted - count),
      resetMs,
      retryAfterMs: 0,
      blocked: false,
      next,
      ttlMs,
    }
  }
  const g = grant(mode, cost, rule.limit - weighted - count)
  count += g
  const allowed = g > 0 || cost === 0
  let retryAfterMs = 0
  if (!allowed) {
    // The weighted part of the previous window shrinks as this one goes on; past its end the
    // current count becomes the previous one, so waiting for the window's end is the bound.
    const room = rule.limit - needed(mode, cost) - count
    retryAfterMs = resetMs
    if (room >= 0 && previous > 0) {
      const at = Math.floor(w - ((room + 1) * w) / previous) + 1
      if (at > elapsed && at < w) retryAfterMs = at - elapsed
    }
  }
  return {
    allowed,
    granted: g,
    remaining: Math.max(0, rule.limit - weighted - count),
    resetMs,
    retryAfterMs,
    blocked: false,
    next: { kind: 'window', start, count, previous },
    ttlMs,
  }
}

function slidingLog(rule: Rule, s: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  const w = rule.windowMs
  const entries = (s?.kind === 'log' ? s.entries : []).filter((t) => t > now - w)
  if (mode === 'refund') {
    entries.splice(Math.max(0, entries.length - cost))
  } else {
    const g = grant(mode, cost, rule.limit - entries.length)
    const before = entries.length
    for (let i = 0; i < g; i++) entries.push(now)
    const allowed = g > 0 || cost === 0
    let retryAfterMs = 0
    if (!allowed) {
      const k = before - (rule.limit - needed(mode, cost))
      retryAfterMs = k >= 1 && k <= before ? (entries[k - 1] as number) + w - now : w
    }
    return {
      allowed,
      granted: g,
      remaining: Math.max(0, rule.limit - entries.length),
      resetMs: entries.length > 0 ? (entries[0] as number) + w - now : 0,
      retryAfterMs,
      blocked: false,
      next: { kind: 'log', entries },
      ttlMs: w,
    }
  }
  return {
    allowed: true,
    granted: 0,
    remaining: Math.max(0, rule.limit - entries.length),
    resetMs: entries.length > 0 ? (entries[0] as number) + w - now : 0,
    retryAfterMs: 0,
    blocked: false,
    next: { kind: 'log', entries },
    ttlMs: w,
  }
}

function tokenBucket(rule: Rule, s: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  const capacity = rule.burst
  let tokens = capacity
  if (s?.kind === 'bucket') tokens = Math.min(capacity, s.tokens + ((now - s.updated) * rule.limit) / rule.windowMs)
  let g = 0
  if (mode === 'refund') tokens = Math.min(capacity, tokens + cost)
  else {
    g = grant(mode, cost, Math.floor(tokens))
    tokens -= g
  }
  const allowed = mode === 'refund' || g > 0 || cost === 0
  const fullMs = Math.ceil(((capacity - tokens) * rule.windowMs) / rule.limit)
  return {
    allowed,
    granted: g,
    remaining: Math.max(0, Math.floor(tokens)),
    resetMs: fullMs,
    retryAfterMs: allowed ? 0 : Math.ceil(((needed(mode, cost) - tokens) * rule.windowMs) / rule.limit),
    blocked: false,
    next: { kind: 'bucket', tokens, updated: now },
    ttlMs: Math.max(1, fullMs),
  }
}

function gcra(rule: Rule, s: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  const interval = rule.windowMs / rule.limit
  const tolerance = rule.burst * interval
  let tat = Math.max(s?.kind === 'gcra' ? s.tat : now, now)
  let g = 0
  if (mode === 'refund') tat = Math.max(now, tat - cost * interval)
  else {
    const available = Math.floor((now + tolerance - tat) / interval)
    g = grant(mode, cost, available)
    tat += g * interval
  }
  const allowed = mode === 'refund' || g > 0 || cost === 0
  const resetMs = Math.ceil(tat - now)
  return {
    allowed,
    granted: g,
    remaining: Math.max(0, Math.floor((now + tolerance - tat) / interval)),
    resetMs,
    retryAfterMs: allowed ? 0 : Math.ceil(tat + needed(mode, cost) * interval - tolerance - now),
    blocked: false,
    next: { kind: 'gcra', tat },
    ttlMs: Math.max(1, resetMs),
  }
}

const IMPLEMENTATIONS: Record<Algorithm, typeof fixedWindow> = {
  'fixed-window': fixedWindow,
  'sliding-window': slidingWindow,
  'sliding-log': slidingLog,
  'token-bucket': tokenBucket,
  gcra,
}

/** Applies `cost` to a key's state at `now` under `rule`. */
export function apply(rule: Rule, state: State | undefined, now: number, cost: number, mode: Mode): Outcome {
  return IMPLEMENTATIONS[rule.algorithm](rule, state, now, cost, mode)
}
