import {
  resolveConfig,
  describeInstance,
  toMs,
  type InstanceDescription,
  type InstanceOptions,
  type Duration,
} from '@beaver-kit/config'
import { onShutdownDrain, sleep, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { CheckRunner, type CheckFn, type CheckOptions, type CheckState } from './check.ts'
import { healthSchema, type HealthSettings } from './config.ts'
import { HealthError } from './errors.ts'
import { createHealthHandler, type HealthHandler } from './handler.ts'
import { watchKitInstances } from './kit.ts'
import { summarize, type ProbeName, type ProbeReport } from './report.ts'

export interface HealthOptions extends HealthSettings, InstanceOptions {}

/** Options of one registered check; durations accept `'5s'` or milliseconds. */
export interface RegisterOptions extends Omit<CheckOptions, 'timeoutMs' | 'intervalMs'> {
  timeout?: Duration
  interval?: Duration
}

/** Liveness, readiness and startup probes over cached background checks: create with `createHealth()` or use `health()`. */
export interface Health extends Instance<InstanceDescription> {
  /** Adds a check (readiness and critical unless told otherwise); returns the function that removes it. */
  register(name: string, check: CheckFn, options?: RegisterOptions): () => void
  /** Runs every check now and resolves with the readiness report (for CLIs and tests; probes never wait). */
  checkNow(): Promise<ProbeReport>
  /** A probe's answer from the cached results. */
  probe(name: ProbeName): ProbeReport
  /** node:http (and Express/Connect) handler for the three probe paths. */
  handler(): HealthHandler
  /** Fails readiness from now on (what SIGTERM does through core's drain phase); liveness stays up. */
  drain(): void
  /** Starts the background checks; `handler()` and `ready()` start them too. Idempotent. */
  start(): void
  /** The checks' current states by name. */
  states(): Record<string, Readonly<CheckState>>
}

const NAME = /^[A-Za-z0-9_.:-]{1,100}$/

/**
 * Builds the health probes from options, then `BEAVER_HEALTH_*`, then defaults. Creating does no
 * I/O: checks start with `start()`, `handler()` or `ready()`. Every kit default instance is
 * checked (its `ready()`) unless `kit: false`; SIGTERM through `installShutdownSignals()` fails
 * readiness at once and waits `drainDelay` before the kit stops accepting work and closes.
 * @example
 * const server = createServer(health().handler()).listen(8080)
 */
export function createHealth(options: HealthOptions = {}): Health {
  const { envPrefix, env, ...settings } = options
  const resolved = resolveConfig(healthSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const config = resolved.values
  const runners = new Map<string, CheckRunner>()
  let started = false
  let closed = false
  let draining = false
  let everStarted = false

  function register(name: string, check: CheckFn, opts: RegisterOptions = {}): () => void {
    if (closed)
      throw new HealthError('HEALTH_CLOSED', `Cannot register check "${name}": this health instance is closed.`)
    if (!NAME.test(name))
      throw new TypeError(`Health check names are 1-100 letters, digits, _ . : or -; got ${JSON.stringify(name)}`)
    if (runners.has(name))
      throw new HealthError(
        'HEALTH_CHECK_DUPLICATE',
        `A health check named "${name}" is already registered; pick another name or remove it first.`,
        {
          details: { check: name },
        },
      )
    const runner = new CheckRunner(name, check, {
      critical: opts.critical ?? true,
      probe: opts.probe ?? 'readiness',
      timeoutMs: opts.timeout === undefined ? config.timeout : toMs(opts.timeout, 'timeout'),
      intervalMs: opts.interval === undefined ? config.interval : toMs(opts.interval, 'interval'),
      failureThreshold: opts.failureThreshold ?? config.failureThreshold,
    })
    runners.set(name, runner)
    if (started) runner.start()
    return function unregister() {
      if (runners.get(name) !== runner) return
      runner.stop()
      runners.delete(name)
    }
  }

  function probe(name: ProbeName): ProbeReport {
    const of = (kind: 'readiness' | 'liveness') =>
      [...runners].filter(([, r]) => r.state.probe === kind).map(([n, r]) => [n, r.state] as const)
    if (name === 'liveness') return { probe: name, ...summarize(of('liveness'), config.verbose) }
    const ready = summarize(of('readiness'), config.verbose)
    if (name === 'startup') {
      // Startup passes once every critical readiness check has passed, and stays passed.
      if (ready.ok) everStarted = true
      return everStarted
        ? { probe: name, ...ready, ok: true }
        : { probe: name, ...ready, ok: false, status: 'starting' }
    }
    if (draining) return { probe: name, ...ready, ok: false, status: 'draining' }
    return { probe: name, ...ready }
  }

  function start(): void {
    if (started || closed) return
    started = true
    for (const runner of runners.values()) runner.start()
  }

  function drain(): void {
    if (draining) return
    draining = true
    if (channels.draining.hasSubscribers) channels.draining.publish({ drainDelayMs: config.drainDelay })
  }

  const unwatch = config.kit ? watchKitInstances(register) : () => undefined
  const removeDrain = onShutdownDrain(async function healthDrain() {
    drain()
    await sleep(config.drainDelay)
  })

  const health: Health = {
    register,
    probe,
    start,
    drain,
    states: () => Object.fromEntries([...runners].map(([n, r]) => [n, r.state])),
    async checkNow() {
      start()
      await Promise.all([...runners.values()].map((r) => r.run()))
      return probe('readiness')
    },
    handler() {
      start()
      return createHealthHandler(
        { liveness: config.livePath, readiness: config.readyPath, startup: config.startupPath },
        probe,
      )
    },
    async ready() {
      if (closed) throw new HealthError('HEALTH_CLOSED', 'This health instance is closed; create a new one.')
      start()
    },
    describe: () =>
      describeInstance('health', envPrefix, resolved.entries, { checks: runners.size, started, draining, closed }),
    async close() {
      if (closed) return
      closed = true
      unwatch()
      removeDrain()
      for (const runner of runners.values()) runner.stop()
      runners.clear()
    },
    [Symbol.asyncDispose]: () => health.close(),
  }
  return health
}
