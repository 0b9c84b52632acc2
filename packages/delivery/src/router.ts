import { throwIfAborted } from '@beaver-kit/core'

/** Anything a router can pick: a built mail transport, an SMS driver, a webhook target. */
export interface RouterTarget {
  readonly name: string
}

export interface RouterOptions {
  /** `failover`: always the first healthy target, the next on failure; `round-robin`: rotate the first choice per call. */
  strategy: 'failover' | 'round-robin'
  /** Consecutive failures that open a target's breaker (it is then tried last until the cooldown ends); 0 never opens. Default 3. */
  failureThreshold?: number
  /** How long an open target stays at the back of the line. Default 30 s. */
  cooldownMs?: number
  /**
   * Whether a failure means "try the next target" (the provider is down, throttling, refusing
   * credentials) rather than "this message is wrong" (a rejected recipient), which no other
   * provider would accept either and is thrown as it is.
   */
  shouldFailover: (error: unknown) => boolean
  /** The error thrown when every target failed; gets each target's failure in the order tried. */
  exhausted: (failures: ReadonlyArray<{ target: string; error: unknown }>) => Error
  /** Called when a call moves on from a failed target to the next one. */
  onFailover?: (event: { from: string; to: string; error: unknown }) => void
  /** Called when a target's breaker opens or closes again. */
  onBreakerChange?: (event: { target: string; state: 'open' | 'closed' }) => void
  now?: () => number
}

/** A target's health as `state()` reports it. */
export interface TargetState {
  readonly name: string
  readonly state: 'closed' | 'open' | 'half-open'
  readonly consecutiveFailures: number
  /** When an open breaker lets the target back to its place in the line (ms since epoch). */
  readonly openUntil: number | undefined
}

/** Runs a call on one target after another until one succeeds. */
export interface Router<T extends RouterTarget> {
  readonly targets: readonly T[]
  /** Calls `fn` with targets in the strategy's order (open breakers last); resolves with the first success and its target. */
  run<R>(fn: (target: T) => Promise<R>, options?: { signal?: AbortSignal }): Promise<{ value: R; target: T }>
  state(): TargetState[]
}

interface Health {
  failures: number
  openUntil: number | undefined
}

/**
 * Provider failover and round-robin over built targets with a small consecutive-failure
 * breaker per target, shared by the mail and SMS composite drivers. An open target is not
 * refused outright: it is tried after every healthy one, because a late message beats a lost one.
 * @example
 * const router = createRouter([ses, smtp], { strategy: 'failover', shouldFailover: isTransient, exhausted: (f) => new AggregateError(f.map((x) => x.error)) })
 * const { value, target } = await router.run((t) => t.send(message))
 */
export function createRouter<T extends RouterTarget>(targets: readonly T[], options: RouterOptions): Router<T> {
  if (targets.length === 0) throw new TypeError('A router needs at least one target')
  const { strategy, shouldFailover, exhausted, onFailover, onBreakerChange, now = Date.now } = options
  const threshold = options.failureThreshold ?? 3
  const cooldownMs = options.cooldownMs ?? 30_000
  const health = new Map<T, Health>(targets.map((t) => [t, { failures: 0, openUntil: undefined }]))
  let cursor = 0

  const isOpen = (t: T, at: number): boolean => {
    const h = health.get(t) as Health
    return h.openUntil !== undefined && h.openUntil > at
  }

  function order(): T[] {
    const start = strategy === 'round-robin' ? cursor++ % targets.length : 0
    if (cursor >= Number.MAX_SAFE_INTEGER) cursor = 0
    const rotated = [...targets.slice(start), ...targets.slice(0, start)]
    const at = now()
    return [...rotated.filter((t) => !isOpen(t, at)), ...rotated.filter((t) => isOpen(t, at))]
  }

  function succeeded(t: T): void {
    const h = health.get(t) as Health
    const wasOpen = h.openUntil !== undefined
    h.failures = 0
    h.openUntil = undefined
    if (wasOpen) onBreakerChange?.({ target: t.name, state: 'closed' })
  }

  function failed(t: T): void {
    const h = health.get(t) as Health
    h.failures++
    if (threshold > 0 && h.failures >= threshold) {
      const wasOpen = h.openUntil !== undefined
      h.openUntil = now() + cooldownMs
      if (!wasOpen) onBreakerChange?.({ target: t.name, state: 'open' })
    }
  }

  return {
    targets,
    async run(fn, runOptions = {}) {
      const failures: Array<{ target: string; error: unknown }> = []
      const line = order()
      for (let i = 0; i < line.length; i++) {
        const target = line[i] as T
        throwIfAborted(runOptions.signal)
        try {
          const value = await fn(target)
          succeeded(target)
          return { value, target }
        } catch (error) {
          if (!shouldFailover(error)) {
            // The target answered: it is healthy, the message is what failed.
            succeeded(target)
            throw error
          }
          failed(target)
          failures.push({ target: target.name, error })
          const next = line[i + 1]
          if (next && !runOptions.signal?.aborted) onFailover?.({ from: target.name, to: next.name, error })
        }
      }
      throw exhausted(failures)
    },
    state() {
      const at = now()
      return targets.map((t) => {
        const h = health.get(t) as Health
        const state = h.openUntil === undefined ? 'closed' : h.openUntil > at ? 'open' : 'half-open'
        return { name: t.name, state, consecutiveFailures: h.failures, openUntil: h.openUntil }
      })
    },
  }
}

/**
 * Builds the members of a composite in order; when one fails to build, the ones already built
 * are closed before the error is thrown, so a half-made set leaks no connection.
 */
export async function buildMembers<T extends { close(): Promise<void> }>(
  names: readonly string[],
  build: (name: string) => Promise<T>,
): Promise<T[]> {
  const members: T[] = []
  try {
    for (const name of names) members.push(await build(name))
  } catch (err) {
    await Promise.allSettled(members.map((m) => m.close()))
    throw err
  }
  return members
}

/** Closes every member, all of them even when some fail; the failures come back as one AggregateError. */
export async function closeMembers(members: ReadonlyArray<{ close(): Promise<void> }>, what: string): Promise<void> {
  const failed = (await Promise.allSettled(members.map((m) => m.close()))).filter(
    (r): r is PromiseRejectedResult => r.status === 'rejected',
  )
  if (failed.length)
    throw new AggregateError(
      failed.map((f) => f.reason as unknown),
      `Closing ${what} failed`,
    )
}
