import type { Mode, Rule } from './algorithms.ts'
import type { LimitRequest, StoreResult } from './evaluate.ts'

/**
 * Where limiter state lives. Every store applies a set of limits atomically (all-or-nothing)
 * with the same arithmetic, so a decision does not depend on the store.
 */
export interface RateLimitStore {
  /** `memory`, `redis`, `database`, or a custom name. */
  readonly name: string
  /** Applies every request at `now` in one atomic step. */
  apply(requests: readonly LimitRequest[], now: number, mode: Mode): Promise<StoreResult[]>
  /**
   * Optional hot path for one limit (what `limit()` does): the same decision as
   * `apply([{ key, rule, cost }], now, mode)`, without the arrays of the multi-limit path.
   */
  applyOne?(key: string, rule: Rule, cost: number, mode: Mode, now: number): Promise<StoreResult>
  /**
   * Set when the store bounds every call itself within this many ms (a client-side command
   * timeout): the limiter then adds no timer of its own per call when its timeout is not shorter.
   */
  readonly callTimeoutMs?: number | undefined
  /** Refuses the key for `ms` (0 lifts a block). */
  block(key: string, ms: number, now: number): Promise<void>
  /** Forgets the key's state and block. */
  reset(key: string): Promise<void>
  /** Connects and prepares (creates the table); rejects when the backend is away. */
  ready(): Promise<void>
  close(): Promise<void>
}
