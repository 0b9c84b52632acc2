import { raceAbort } from '@beaver-kit/core'
import { REJECTED, type CircuitBreaker } from './breaker.ts'
import type { BreakerRegistry } from './breaker-registry.ts'
import { Bulkhead } from './bulkhead.ts'
import { breakerKeyOf, type Call } from './call.ts'
import type { HttpConfig } from './config.ts'
import { CircuitOpenError, HttpRequestError, isHttpRequestError } from './errors.ts'
import type { Hop } from './exchange.ts'
import type { ClientSettings } from './options.ts'
import type { HttpResponse } from './response.ts'
import { RetryBudget } from './retry-budget.ts'
import { safeUrl } from './url.ts'

/** What one host (origin) has: its retry budget, its bulkhead, and its breaker when keyed by host. */
export interface HostState {
  readonly budget: RetryBudget
  readonly bulkhead: Bulkhead | undefined
  /** The breaker keyed by this origin, looked up once. */
  breaker: CircuitBreaker | undefined
}

/**
 * The per-host guard of a client: every exchange passes its host's circuit breaker (fail fast
 * when open) and bulkhead (a bounded number in flight, a bounded queue within the deadline),
 * and reports its outcome to the breaker. Host state is made on first use.
 */
export class HostGuards {
  readonly #hosts = new Map<string, HostState>()
  readonly #config: HttpConfig
  readonly #settings: ClientSettings
  readonly #breakers: BreakerRegistry
  readonly #send: (call: Call, hop: Hop) => Promise<HttpResponse>

  constructor(
    config: HttpConfig,
    settings: ClientSettings,
    breakers: BreakerRegistry,
    send: (call: Call, hop: Hop) => Promise<HttpResponse>,
  ) {
    this.#config = config
    this.#settings = settings
    this.#breakers = breakers
    this.#send = send
  }

  /** The state of `origin`, created on first use. */
  host(origin: string): HostState {
    let host = this.#hosts.get(origin)
    if (host === undefined) {
      const { budget, bulkhead } = this.#config
      host = {
        budget: new RetryBudget({ ratio: budget.ratio, minPerSecond: budget.minPerSecond, windowMs: budget.window }),
        bulkhead: bulkhead.maxConcurrent > 0 ? new Bulkhead(bulkhead.maxConcurrent, bulkhead.maxQueue) : undefined,
        breaker: undefined,
      }
      this.#hosts.set(origin, host)
    }
    return host
  }

  /** How many hosts this client has talked to. */
  get size(): number {
    return this.#hosts.size
  }

  /** Sends `hop` through its host's breaker and bulkhead. */
  async send(call: Call, hop: Hop): Promise<HttpResponse> {
    const host = this.host(hop.origin)
    let breaker: CircuitBreaker | undefined
    let ticket = REJECTED
    let slot = false
    try {
      if (call.breakerKey !== undefined) {
        breaker =
          hop.origin === call.origin && call.breakerKey === call.origin
            ? (host.breaker ??= this.#breakers.get(hop.origin))
            : this.#breakers.get(breakerKeyOf(this.#settings, call, hop))
        ticket = breaker.acquire(Date.now())
        if (ticket === REJECTED) throw circuitOpen(call, hop, breaker)
      }
      if (host.bulkhead !== undefined) {
        slot = host.bulkhead.tryAcquire()
        if (!slot) {
          await queue(call, hop, host.bulkhead)
          slot = true
        }
      }
      const response = await this.#send(call, hop)
      if (breaker !== undefined) {
        if (response.status >= 500) breaker.failure(ticket, Date.now())
        else breaker.success(ticket, Date.now())
        ticket = REJECTED
      }
      return response
    } catch (error) {
      if (breaker !== undefined && ticket !== REJECTED) {
        // Only what says the host is sick counts; an abort, a size limit or a policy refusal does not.
        if (isHttpRequestError(error, 'HTTP_NETWORK', 'HTTP_TIMEOUT')) breaker.failure(ticket, Date.now())
        else breaker.release(ticket)
      }
      throw error
    } finally {
      if (slot) host.bulkhead!.release()
    }
  }
}

/** Waits for a bulkhead slot within the caller's signal and the call deadline, or refuses at once when the queue is full. */
async function queue(call: Call, hop: Hop, bulkhead: Bulkhead): Promise<void> {
  if (!bulkhead.canQueue()) {
    const url = safeUrl(hop.origin, hop.path)
    throw new HttpRequestError(
      'HTTP_BULKHEAD_FULL',
      `${hop.method} ${url}: ${bulkhead.maxConcurrent} requests to ${hop.origin} are in flight and ${bulkhead.queued} wait; refused at once. Raise BEAVER_HTTP_BULKHEAD_MAX_CONCURRENT or _MAX_QUEUE, or slow down.`,
      {
        details: {
          method: hop.method,
          url,
          host: hop.origin,
          maxConcurrent: bulkhead.maxConcurrent,
          maxQueue: bulkhead.maxQueue,
          attempts: call.attempt,
        },
      },
    )
  }
  if (call.deadlineAt === Infinity) return bulkhead.wait(call.signal)
  // Waiting for a slot counts against the deadline; when it passes, the waiter leaves the queue.
  const leave = new AbortController()
  const signal = call.signal === undefined ? leave.signal : AbortSignal.any([call.signal, leave.signal])
  await raceAbort(bulkhead.wait(signal), {
    timeoutMs: Math.max(1, call.deadlineAt - Date.now()),
    onTimeout: () => {
      const error = call.deadlineError()
      leave.abort(error)
      return error
    },
  })
}

function circuitOpen(call: Call, hop: Hop, breaker: CircuitBreaker): CircuitOpenError {
  const url = safeUrl(hop.origin, hop.path)
  const retryAt = breaker.openUntil
  return new CircuitOpenError(
    `${hop.method} ${url}: the circuit breaker "${breaker.key}" is ${breaker.state}; failed fast without a request. It lets trial calls through after ${new Date(retryAt).toISOString()}.`,
    breaker.key,
    retryAt,
    { details: { method: hop.method, url, key: breaker.key, state: breaker.state, retryAt, attempts: call.attempt } },
  )
}
