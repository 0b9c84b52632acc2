import { RollingCounter } from './rolling-counter.ts'

/** `closed`: calls flow; `open`: calls fail fast; `half-open`: a few trial calls decide. */
export type BreakerState = 'closed' | 'open' | 'half-open'

/** How a breaker trips and recovers. Durations in ms. */
export interface BreakerOptions {
  /** Trips after this many failures in a row. */
  consecutiveFailures: number
  /** Trips when this share of the calls in the window failed... */
  failureRate: number
  /** ...and the window holds at least this many calls. */
  minimumRequests: number
  windowMs: number
  /** Open time of the first trip; each repeated trip doubles it. */
  openMs: number
  maxOpenMs: number
  /** Trial calls allowed at once when half-open; this many successes close the breaker. */
  halfOpenTrials: number
}

/** A breaker's state as plain JSON, for `export()`/`restore()` and dashboards. */
export interface BreakerSnapshot {
  state: BreakerState
  /** Until when it stays open (ms since epoch); 0 when closed. */
  openUntil: number
  /** Trips since it last closed after a successful half-open period. */
  trips: number
  consecutiveFailures: number
}

/** One state transition, as published on `beaver:http:breaker` and given to `onStateChange`. */
export interface BreakerStateChange {
  key: string
  from: BreakerState
  to: BreakerState
  /** Why: `consecutive-failures`, `failure-rate`, `trial-failed`, `open-elapsed`, `trials-succeeded`, `restored`, `reset`. */
  reason: string
  /** When the open period ends, for a transition to `open`. */
  openUntil: number
  at: number
}

/** A call refused by the breaker. */
export const REJECTED = -1

/**
 * A circuit breaker for one key. `acquire()` returns a ticket (or REJECTED) and the caller
 * reports the outcome with that ticket: results of calls admitted under an earlier state are
 * ignored, so a slow call that started before a trip can neither close nor re-trip it.
 * Transitions from open to half-open happen lazily on the next call, so no timer runs.
 */
export class CircuitBreaker {
  readonly key: string
  readonly #o: BreakerOptions
  readonly #onChange: (change: BreakerStateChange) => void
  readonly #window: RollingCounter
  #state: BreakerState = 'closed'
  #generation = 0
  #consecutive = 0
  #trips = 0
  #openUntil = 0
  #trialsInFlight = 0
  #trialSuccesses = 0

  constructor(key: string, options: BreakerOptions, onChange: (change: BreakerStateChange) => void) {
    this.key = key
    this.#o = options
    this.#onChange = onChange
    this.#window = new RollingCounter(options.windowMs)
  }

  /** The current state; an open breaker whose time is up reads as half-open. */
  get state(): BreakerState {
    if (this.#state === 'open' && Date.now() >= this.#openUntil) return 'half-open'
    return this.#state
  }

  /** When an open breaker lets trial calls through (ms since epoch); 0 when closed. */
  get openUntil(): number {
    return this.#openUntil
  }

  /** Admits a call: a ticket to report its outcome with, or REJECTED to fail fast. */
  acquire(now: number): number {
    if (this.#state === 'closed') return this.#generation * 2
    if (this.#state === 'open') {
      if (now < this.#openUntil) return REJECTED
      this.#transition('half-open', 'open-elapsed', now)
    }
    if (this.#trialsInFlight + this.#trialSuccesses >= this.#o.halfOpenTrials) return REJECTED
    this.#trialsInFlight++
    return this.#generation * 2 + 1
  }

  /** Reports a success of the call admitted with `ticket`. */
  success(ticket: number, now: number): void {
    if (ticket >> 1 !== this.#generation || ticket < 0) return
    if ((ticket & 1) === 0) {
      this.#consecutive = 0
      this.#window.add(1, 0, now)
      return
    }
    this.#trialsInFlight--
    this.#trialSuccesses++
    if (this.#trialSuccesses >= this.#o.halfOpenTrials) {
      this.#trips = 0
      this.#transition('closed', 'trials-succeeded', now)
    }
  }

  /** Reports a failure (network error, timeout, failure status) of the call admitted with `ticket`. */
  failure(ticket: number, now: number): void {
    if (ticket >> 1 !== this.#generation || ticket < 0) return
    if ((ticket & 1) === 1) {
      this.#trialsInFlight--
      this.#trip('trial-failed', now)
      return
    }
    this.#consecutive++
    this.#window.add(1, 1, now)
    if (this.#consecutive >= this.#o.consecutiveFailures) return this.#trip('consecutive-failures', now)
    const calls = this.#window.sumA(now)
    if (calls >= this.#o.minimumRequests && this.#window.sumB(now) / calls >= this.#o.failureRate) {
      this.#trip('failure-rate', now)
    }
  }

  /** Reports a call that ended without a verdict (aborted by its caller): frees a trial slot. */
  release(ticket: number): void {
    if (ticket >> 1 !== this.#generation || ticket < 0) return
    if ((ticket & 1) === 1) this.#trialsInFlight--
  }

  snapshot(): BreakerSnapshot {
    return {
      state: this.#state,
      openUntil: this.#openUntil,
      trips: this.#trips,
      consecutiveFailures: this.#consecutive,
    }
  }

  /** Takes over an exported state; a half-open one comes back open until now, so trials start afresh. */
  restore(snapshot: BreakerSnapshot, now: number): void {
    if (snapshot.state === 'closed') {
      this.#transition('closed', 'restored', now)
    } else {
      this.#openUntil = snapshot.state === 'open' ? snapshot.openUntil : now
      this.#transition('open', 'restored', now)
    }
    this.#trips = snapshot.trips
    this.#consecutive = snapshot.consecutiveFailures
  }

  /** Closes the breaker and forgets its history. */
  reset(now: number): void {
    this.#trips = 0
    this.#consecutive = 0
    this.#transition('closed', 'reset', now)
  }

  #trip(reason: string, now: number): void {
    this.#trips++
    const ms = Math.min(this.#o.maxOpenMs, this.#o.openMs * 2 ** (this.#trips - 1))
    this.#openUntil = now + ms
    this.#transition('open', reason, now)
  }

  #transition(to: BreakerState, reason: string, now: number): void {
    const from = this.#state
    this.#state = to
    this.#generation++
    this.#trialsInFlight = 0
    this.#trialSuccesses = 0
    if (to === 'closed') {
      this.#consecutive = 0
      this.#openUntil = 0
      this.#window.reset()
    }
    if (from !== to || reason === 'restored') {
      this.#onChange({ key: this.key, from, to, reason, openUntil: this.#openUntil, at: now })
    }
  }
}
