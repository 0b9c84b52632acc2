import { apply, type Mode, type Outcome, type Rule, type State } from './algorithms.ts'

/** One limit to check: a stored key, its rule and the cost to apply. */
export interface LimitRequest {
  key: string
  rule: Rule
  cost: number
}

/** What a store answers for one limit. */
export interface StoreResult {
  allowed: boolean
  granted: number
  remaining: number
  resetMs: number
  retryAfterMs: number
  /** True when the key is blocked (block() or a penalty box), whatever its state. */
  blocked: boolean
}

/** A key's stored record as the JS-evaluating stores (memory, SQL) keep it. */
export interface StoredRecord {
  state: State | undefined
  blockedUntil: number
}

/** What to write back after an evaluation: per request, the next state and its lifetime, or nothing. */
export interface Evaluation {
  results: StoreResult[]
  writes: Array<{ state: State; ttlMs: number } | undefined>
}

/**
 * Evaluates one or more limits all-or-nothing (the same rule the Redis script follows): the
 * new states are written when every limit allows, or for a single limit in a mode other than
 * `all`; otherwise nothing changes and the limits that would have allowed report granted 0.
 */
export function evaluate(
  requests: readonly LimitRequest[],
  records: readonly StoredRecord[],
  now: number,
  mode: Mode,
): Evaluation {
  const results: StoreResult[] = []
  const outcomes: Array<Outcome | undefined> = []
  let all = true
  requests.forEach((r, i) => {
    const record = records[i] as StoredRecord
    const blockedMs = record.blockedUntil - now
    if (blockedMs > 0 && (mode === 'all' || mode === 'upTo')) {
      results.push({
        allowed: false,
        granted: 0,
        remaining: 0,
        resetMs: blockedMs,
        retryAfterMs: blockedMs,
        blocked: true,
      })
      outcomes.push(undefined)
      all = false
      return
    }
    const o = apply(r.rule, record.state, now, r.cost, mode)
    if (!o.allowed) all = false
    outcomes.push(o)
    results.push({
      allowed: o.allowed,
      granted: o.granted,
      remaining: o.remaining,
      resetMs: o.resetMs,
      retryAfterMs: o.retryAfterMs,
      blocked: false,
    })
  })
  const write = all || (requests.length === 1 && mode !== 'all')
  if (!write) {
    for (const r of results) {
      if (r.allowed) {
        r.remaining += r.granted
        r.granted = 0
      }
    }
  }
  return {
    results,
    writes: outcomes.map((o) => (write && o ? { state: o.next, ttlMs: o.ttlMs } : undefined)),
  }
}
