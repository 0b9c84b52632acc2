import { createHash } from 'node:crypto'
import { describeInstance, resolveConfig, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { raceAbort, redisTopologyProblem, traceAsync, type Instance } from '@beaver-kit/core'
import type { Algorithm, Mode, Rule } from './algorithms.ts'
import { channels } from './channels.ts'
import { limiterSchema, type LimiterSettings } from './config.ts'
import { isRateLimitError, RateLimitError } from './errors.ts'
import type { LimitRequest, StoreResult } from './evaluate.ts'
import type { RateLimitStore } from './store.ts'
import { MemoryStore } from './stores/memory.ts'
import { buildStore } from './stores/build.ts'
import { clientIp, compileTrusted, ipKey } from './client-ip.ts'

export interface LimiterOptions extends LimiterSettings, InstanceOptions {
  /** A built store (yours, or one shared by several limiters); overrides `store`. */
  storeInstance?: RateLimitStore
  /** Milliseconds since the epoch; a fake clock in tests. Default `Date.now`. */
  clock?: () => number
}

/** Where a decision came from. */
export type DecisionSource = 'store' | 'insurance' | 'unavailable'

/** What `limit()` answers: a decision, never an exception for a refused request or a store outage. */
export interface Decision {
  allowed: boolean
  /** Units taken: the cost, 0 when refused, or what was available with `upTo`. */
  granted: number
  limit: number
  remaining: number
  /** Milliseconds until the window ends or the bucket is full again. */
  resetMs: number
  /** Milliseconds until this cost would be allowed; 0 when allowed. */
  retryAfterMs: number
  /** The key is blocked (block() or a penalty), whatever its counters. */
  blocked: boolean
  /** Refused by the rule but let through because the limiter is in shadow mode. */
  shadowed: boolean
  source: DecisionSource
}

/** Per-call choices of `limit()`. */
export interface LimitCallOptions {
  /** Units this request costs. Default 1. */
  cost?: number
  /** Grant as much of the cost as is left instead of all-or-nothing (token budgets). */
  upTo?: boolean
}

/** One limit of an atomic `limitAll()`: its key and, optionally, its own rule. */
export interface LimitSpec {
  key: string
  cost?: number
  limit?: number
  window?: string | number
  algorithm?: Algorithm
  burst?: number
}

/** What `limitAll()` answers: allowed only when every limit allows; then all of them are taken. */
export interface MultiDecision {
  allowed: boolean
  decisions: Decision[]
  /** Indexes of the limits that refused. */
  refusedBy: number[]
  retryAfterMs: number
}

/** A rate limiter: create with `createLimiter()`, or use the default `limiter()`. */
export interface Limiter extends Instance<InstanceDescription> {
  readonly store: string
  readonly rule: Readonly<Rule>
  /** Applies `cost` to `key` and answers whether the request may go. */
  limit(key: string, options?: LimitCallOptions): Promise<Decision>
  /** Checks several limits (user, route, global) in one atomic step: all are taken, or none. */
  limitAll(limits: readonly LimitSpec[]): Promise<MultiDecision>
  /** Gives units back (a request that turned out not to count). */
  refund(key: string, cost?: number): Promise<void>
  /** Takes units whatever is left (a failed login costs more). */
  penalty(key: string, cost: number): Promise<void>
  /** Refuses `key` for a duration (`'15m'`, ms); 0 lifts it. */
  block(key: string, duration: string | number): Promise<void>
  /** Forgets `key`'s counters and block. */
  reset(key: string): Promise<void>
  /**
   * The key of a request's client under this limiter's trusted proxies and IPv6 subnet
   * (`BEAVER_RATELIMIT_TRUSTED_PROXIES`, `_IPV6_SUBNET`): `ip:203.0.113.9`, `ip:2001:db8:0:ff00:0:0:0:0/56`.
   */
  clientKey(remoteAddress: string | undefined, headers: Record<string, string | string[] | undefined>): string
}

const MAX_KEY = 200

function ms(value: string | number, what: string): number {
  if (typeof value === 'number') return value
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim())
  if (!m)
    throw new RateLimitError(
      'RATELIMIT_OPTIONS_INVALID',
      `${what} must be a duration such as "30s" or 1500, got "${value}"`,
    )
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms') as 'ms']
  return Number(m[1]) * unit
}

function checkRule(rule: Rule, where: string): Rule {
  if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < 1) {
    throw new RateLimitError(
      'RATELIMIT_OPTIONS_INVALID',
      `${where}: the window must be at least 1 ms, got ${rule.windowMs}`,
    )
  }
  if (rule.algorithm === 'sliding-log' && rule.limit > 10_000) {
    throw new RateLimitError(
      'RATELIMIT_OPTIONS_INVALID',
      `${where}: sliding-log keeps one entry per unit, so its limit is at most 10000 (got ${rule.limit}); use sliding-window for larger limits`,
    )
  }
  return rule
}

/**
 * Builds a limiter from options, then `BEAVER_RATELIMIT_*`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using limiter = createLimiter({ limit: 5, window: '1m' })
 * const d = await limiter.limit(`login:${ip}`)
 * if (!d.allowed) reply429(d.retryAfterMs)
 */
export function createLimiter(options: LimiterOptions = {}): Limiter {
  const { envPrefix, env, storeInstance, clock = Date.now, ...settings } = options
  const resolved = resolveConfig(limiterSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const v = resolved.values
  const prefix = envPrefix === false ? '' : (envPrefix ?? 'BEAVER_')
  const rule = checkRule(
    { algorithm: v.algorithm, limit: v.limit, windowMs: v.window, burst: v.burst ?? v.limit },
    `${prefix}RATELIMIT_* (or the options)`,
  )
  const topologyProblem =
    !storeInstance && v.store === 'redis' && redisTopologyProblem(v.redis, `${prefix}RATELIMIT_REDIS_`)
  if (topologyProblem) throw new RateLimitError('RATELIMIT_OPTIONS_INVALID', topologyProblem)
  const store = storeInstance ?? buildStore(v)
  const insurance = new MemoryStore({ maxKeys: v.maxKeys })
  let trustedList
  try {
    trustedList = v.trustedProxies.length > 0 ? compileTrusted(v.trustedProxies) : undefined
  } catch (error) {
    throw new RateLimitError(
      'RATELIMIT_OPTIONS_INVALID',
      `${prefix}RATELIMIT_TRUSTED_PROXIES: ${(error as Error).message}`,
    )
  }
  const timeoutMs = v.timeout
  let closed = false
  // The first call may connect and create the table: it gets a longer bound than a check.
  let prepared: Promise<void> | undefined
  const prepare = (): Promise<void> => {
    prepared ??= raceAbort(store.ready(), {
      timeoutMs: Math.max(timeoutMs, 5000),
      onTimeout: () =>
        new RateLimitError('RATELIMIT_STORE_UNAVAILABLE', `The ${store.name} store was not ready within 5 s`),
    }).catch((error: unknown) => {
      prepared = undefined
      throw error
    })
    return prepared
  }

  // A memory store this limiter built for itself holds this one namespace: its keys need no
  // prefix. That saves a string concatenation per call and, above all, hashing the new string
  // for the Map lookup (the caller's key is usually a string whose hash V8 has cached), which
  // was most of the cost of a memory decision. A shared store (storeInstance) and every remote
  // store keep `${namespace}:${key}`.
  const unprefixed = storeInstance === undefined && store instanceof MemoryStore

  function storedKey(key: string): string {
    if (typeof key !== 'string' || key.length === 0) {
      throw new RateLimitError('RATELIMIT_KEY_INVALID', 'A rate-limit key must be a non-empty string')
    }
    // The namespace has no ':' (its pattern), so `${namespace}:${key}` never aliases another
    // namespace's key; long keys are hashed so every store bounds its key size.
    const k = key.length > MAX_KEY ? `#${createHash('sha256').update(key).digest('base64url')}` : key
    return unprefixed ? k : `${v.namespace}:${k}`
  }

  /** The key as observers see it, whatever the store holds: `${namespace}:${key}`. */
  function reportedKey(stored: string): string {
    return unprefixed ? `${v.namespace}:${stored}` : stored
  }

  function checkCost(cost: number, r: Rule, upTo: boolean): number {
    if (!Number.isSafeInteger(cost) || cost < 1) {
      throw new RateLimitError('RATELIMIT_COST_INVALID', `A cost is a whole number of at least 1, got ${cost}`)
    }
    if (!upTo && cost > Math.max(r.limit, r.burst)) {
      throw new RateLimitError(
        'RATELIMIT_COST_INVALID',
        `A cost of ${cost} can never fit a limit of ${Math.max(r.limit, r.burst)}; use { upTo: true } to take what is left`,
      )
    }
    return cost
  }

  function open(): void {
    if (closed) throw new RateLimitError('RATELIMIT_CLOSED', 'This limiter is closed; create a new one.')
  }

  // The memory store answers synchronously and cannot hang: no timer, no readiness wait.
  const local = store instanceof MemoryStore ? store : undefined
  // A store that bounds its own calls (the Redis store's command timeout) needs no timer per call.
  const selfTimed = store.callTimeoutMs !== undefined && store.callTimeoutMs <= timeoutMs
  let isPrepared = false

  function bounded<T>(work: Promise<T>): Promise<T> {
    if (selfTimed) return work
    return raceAbort(work, {
      timeoutMs,
      onTimeout: () =>
        new RateLimitError(
          'RATELIMIT_STORE_UNAVAILABLE',
          `The ${store.name} store did not answer within ${timeoutMs} ms`,
        ),
    })
  }

  function storeFailed(error: unknown): void {
    if (channels.storeError.hasSubscribers) {
      channels.storeError.publish({ store: store.name, error, policy: v.failPolicy })
    }
  }

  function refusedWhileAway(): StoreResult {
    const retry = Math.min(1000, rule.windowMs)
    return { allowed: false, granted: 0, remaining: 0, resetMs: retry, retryAfterMs: retry, blocked: false }
  }

  async function run(
    requests: LimitRequest[],
    mode: Mode,
  ): Promise<{ results: StoreResult[]; source: DecisionSource }> {
    if (local && !channels.limit.hasSubscribers)
      return { results: local.applySync(requests, clock(), mode), source: 'store' }
    try {
      await prepare()
      isPrepared = true
      const now = clock()
      const results = await traceAsync(
        channels.limit,
        () => ({ store: store.name, keys: requests.length, cost: requests.reduce((s, r) => s + r.cost, 0) }),
        () => bounded(store.apply(requests, now, mode)),
      )
      return { results, source: 'store' }
    } catch (error) {
      if (isRateLimitError(error, 'RATELIMIT_OPTIONS_INVALID')) throw error // a usage error, not the store away
      storeFailed(error)
      if (v.failPolicy === 'open') return { results: insurance.applySync(requests, clock(), mode), source: 'insurance' }
      return { results: requests.map(refusedWhileAway), source: 'unavailable' }
    }
  }

  function decide(r: StoreResult, key: string, limit: number, source: DecisionSource): Decision {
    const refused = !r.allowed
    if (refused && channels.denied.hasSubscribers) {
      channels.denied.publish({ key: reportedKey(key), retryAfterMs: r.retryAfterMs, shadow: v.shadow })
    }
    return {
      allowed: r.allowed || v.shadow,
      granted: r.granted,
      limit,
      remaining: r.remaining,
      resetMs: r.resetMs,
      retryAfterMs: v.shadow ? 0 : r.retryAfterMs,
      blocked: r.blocked,
      shadowed: refused && v.shadow,
      source,
    }
  }

  /**
   * One limit, as `limit()` asks it: on the memory store a synchronous evaluation, on a store
   * with `applyOne` (Redis) one call with no await before it and no timer when the store times
   * itself; the multi-limit path (arrays, tracing) only when someone traces `limit`.
   */
  function limitOne(key: string, cost: number, mode: Mode): Promise<Decision> {
    const traced = channels.limit.hasSubscribers
    if (local !== undefined && !traced) {
      return Promise.resolve(decide(local.applyOneSync(key, rule, cost, mode, clock()), key, rule.limit, 'store'))
    }
    if (isPrepared && !traced && store.applyOne !== undefined) {
      return bounded(store.applyOne(key, rule, cost, mode, clock())).then(
        (r) => decide(r, key, rule.limit, 'store'),
        (error: unknown) => {
          storeFailed(error)
          if (v.failPolicy === 'open') {
            return decide(insurance.applyOneSync(key, rule, cost, mode, clock()), key, rule.limit, 'insurance')
          }
          return decide(refusedWhileAway(), key, rule.limit, 'unavailable')
        },
      )
    }
    return run([{ key, rule, cost }], mode).then(({ results, source }) =>
      decide(results[0] as StoreResult, key, rule.limit, source),
    )
  }

  const limiter: Limiter = {
    store: store.name,
    rule,
    limit(key, call) {
      try {
        open()
        const stored = storedKey(key)
        if (call === undefined) return limitOne(stored, 1, 'all')
        const upTo = call.upTo ?? false
        return limitOne(stored, checkCost(call.cost ?? 1, rule, upTo), upTo ? 'upTo' : 'all')
      } catch (error) {
        return Promise.reject(error as Error)
      }
    },
    async limitAll(limits) {
      open()
      if (limits.length === 0)
        throw new RateLimitError('RATELIMIT_OPTIONS_INVALID', 'limitAll() needs at least one limit')
      const requests = limits.map((l, i) => {
        const r = checkRule(
          {
            algorithm: l.algorithm ?? rule.algorithm,
            limit: l.limit ?? rule.limit,
            windowMs: l.window === undefined ? rule.windowMs : ms(l.window, `limitAll()[${i}].window`),
            burst: l.burst ?? l.limit ?? rule.burst,
          },
          `limitAll()[${i}]`,
        )
        return { key: storedKey(l.key), rule: r, cost: checkCost(l.cost ?? 1, r, false) }
      })
      const { results, source } = await run(requests, 'all')
      const decisions = results.map((r, i) =>
        decide(r, (requests[i] as LimitRequest).key, (requests[i] as LimitRequest).rule.limit, source),
      )
      const refusedBy = results.flatMap((r, i) => (r.allowed ? [] : [i]))
      return {
        allowed: refusedBy.length === 0 || v.shadow,
        decisions,
        refusedBy,
        retryAfterMs: v.shadow ? 0 : Math.max(0, ...refusedBy.map((i) => (results[i] as StoreResult).retryAfterMs)),
      }
    },
    async refund(key, cost = 1) {
      open()
      await run([{ key: storedKey(key), rule, cost: checkCost(cost, rule, true) }], 'refund')
    },
    async penalty(key, cost) {
      open()
      await run([{ key: storedKey(key), rule, cost: checkCost(cost, rule, true) }], 'force')
    },
    async block(key, duration) {
      open()
      const k = storedKey(key)
      const d = ms(duration, 'block() duration')
      await store.block(k, d, clock())
      await insurance.block(k, d, clock())
    },
    async reset(key) {
      open()
      const k = storedKey(key)
      await store.reset(k)
      await insurance.reset(k)
    },
    clientKey: (remoteAddress, headers) => ipKey(clientIp(remoteAddress, headers, trustedList), v.ipv6Subnet),
    ready: () => store.ready(),
    describe: () =>
      describeInstance('ratelimit', envPrefix, resolved.entries, {
        store: store.name,
        algorithm: rule.algorithm,
        closed,
      }),
    async close() {
      if (closed) return
      closed = true
      await insurance.close()
      if (!storeInstance) await store.close()
    },
    [Symbol.asyncDispose]: () => limiter.close(),
  }
  return limiter
}
