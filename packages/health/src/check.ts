import { raceAbort } from '@beaver-kit/core'
import { channels, type CheckStatus } from './channels.ts'
import { HealthError } from './errors.ts'

/** What a check may return: nothing (up), or a status with a short detail. Throwing means it failed. */
export interface CheckResult {
  status?: 'up' | 'degraded'
  detail?: string
}

/** A check: resolves (up), returns `{ status: 'degraded' }`, or throws/rejects (failed). Stop on `signal`. */
export type CheckFn = (signal: AbortSignal) => Promise<CheckResult | void> | CheckResult | void

/** Per-check settings; each one defaults to the instance's `BEAVER_HEALTH_*` value. */
export interface CheckOptions {
  /** A critical check that is down fails the probe (503); a non-critical one only degrades it (200). Default true. */
  critical?: boolean
  /** `readiness` (default: can this instance take traffic?) or `liveness` (should it be restarted?). */
  probe?: 'readiness' | 'liveness'
  timeoutMs?: number
  intervalMs?: number
  failureThreshold?: number
}

/** The last known state of one check, as probes report it. */
export interface CheckState {
  status: CheckStatus
  critical: boolean
  probe: 'readiness' | 'liveness'
  /** Consecutive failures so far. */
  failures: number
  durationMs?: number
  /** When it last ran (ms since the epoch). */
  checkedAt?: number
  detail?: string
  /** The last failure's message (shown by probes only with BEAVER_HEALTH_VERBOSE). */
  error?: string
}

type Resolved = Required<Pick<CheckOptions, 'critical' | 'probe' | 'timeoutMs' | 'intervalMs' | 'failureThreshold'>>

/**
 * Runs one check in the background on its interval (the next run is scheduled when the last one
 * ends, so a slow dependency never piles runs up) and keeps its last result, so a probe never
 * waits on a dependency. A check that had passed goes down only after `failureThreshold`
 * consecutive failures; one that never passed is down at its first failure.
 */
export class CheckRunner {
  readonly name: string
  readonly #fn: CheckFn
  readonly #options: Resolved
  #state: CheckState
  #passed = false
  #timer: NodeJS.Timeout | undefined
  #running: Promise<void> | undefined
  #stopped = true
  #controller: AbortController | undefined

  constructor(name: string, fn: CheckFn, options: Resolved) {
    this.name = name
    this.#fn = fn
    this.#options = options
    this.#state = { status: 'pending', critical: options.critical, probe: options.probe, failures: 0 }
  }

  get state(): Readonly<CheckState> {
    return this.#state
  }

  /** Starts the background runs (the first at once); idempotent. */
  start(): void {
    if (!this.#stopped) return
    this.#stopped = false
    void this.run()
  }

  stop(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#controller?.abort(
      new HealthError('HEALTH_CLOSED', `Check "${this.name}" stopped: the health instance closed.`),
    )
  }

  /** Runs the check now (sharing a run in progress) and resolves when its result is recorded. */
  run(): Promise<void> {
    this.#running ??= this.#runOnce().finally(() => {
      this.#running = undefined
      if (!this.#stopped) {
        clearTimeout(this.#timer)
        this.#timer = setTimeout(() => void this.run(), this.#options.intervalMs)
        this.#timer.unref()
      }
    })
    return this.#running
  }

  async #runOnce(): Promise<void> {
    const { timeoutMs, failureThreshold } = this.#options
    const controller = (this.#controller = new AbortController())
    const started = performance.now()
    let next: CheckState
    try {
      const result = await raceAbort(
        Promise.resolve().then(() => this.#fn(controller.signal)),
        {
          timeoutMs,
          onTimeout: () => {
            const error = new HealthError(
              'HEALTH_CHECK_TIMEOUT',
              `Check "${this.name}" did not answer within ${timeoutMs} ms.`,
              {
                details: { check: this.name, timeoutMs },
              },
            )
            controller.abort(error)
            return error
          },
        },
      )
      this.#passed = true
      next = {
        ...this.#base(),
        status: result?.status === 'degraded' ? 'degraded' : 'up',
        failures: 0,
        ...(result?.detail === undefined ? {} : { detail: result.detail }),
      }
    } catch (error) {
      const failures = this.#state.failures + 1
      const down = !this.#passed || failures >= failureThreshold
      next = {
        ...this.#base(),
        status: down ? 'down' : this.#state.status,
        failures,
        error: error instanceof Error ? error.message : String(error),
      }
    }
    next.durationMs = Math.round((performance.now() - started) * 100) / 100
    next.checkedAt = Date.now()
    this.#state = next
    if (channels.check.hasSubscribers)
      channels.check.publish({
        check: this.name,
        status: next.status,
        critical: next.critical,
        durationMs: next.durationMs,
      })
  }

  #base(): CheckState {
    return { status: this.#state.status, critical: this.#options.critical, probe: this.#options.probe, failures: 0 }
  }
}
