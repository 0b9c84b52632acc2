import { BEAVER_ERROR } from './errors.ts'

/** Anything that holds a resource the kit must release on shutdown. */
export interface Closable {
  close(): Promise<void> | void
}

interface Entry {
  name: string
  target: Closable
}

interface Registry {
  entries: Entry[]
  beforeHooks: Array<() => unknown>
  /** Absent in a registry made by an older copy of core; created on first use. */
  drainHooks?: Array<() => unknown>
  running: Promise<void> | undefined
}

// One registry per process even when two copies of core are installed.
const KEY = Symbol.for('beaver-kit.shutdown-registry')
const globalStore = globalThis as typeof globalThis & { [KEY]?: Registry }
const registry: Registry = (globalStore[KEY] ??= { entries: [], beforeHooks: [], running: undefined })

/** Registers a resource for `shutdown()`; returns the function that unregisters it. */
export function registerForShutdown(name: string, target: Closable): () => void {
  const entry: Entry = { name, target }
  registry.entries.push(entry)
  return function unregister() {
    const i = registry.entries.indexOf(entry)
    if (i >= 0) registry.entries.splice(i, 1)
  }
}

/**
 * Registers a "stop accepting work" hook (close the HTTP server, pause consumers) that
 * `shutdown()` runs before it closes any resource. Returns the function that removes it.
 */
export function onBeforeShutdown(hook: () => unknown): () => void {
  registry.beforeHooks.push(hook)
  return function remove() {
    const i = registry.beforeHooks.indexOf(hook)
    if (i >= 0) registry.beforeHooks.splice(i, 1)
  }
}

/**
 * Registers a drain hook: the first thing a draining shutdown (`shutdown({ drain: true })`, which
 * `installShutdownSignals()` starts) runs, before the "stop accepting work" hooks and outside the
 * close deadline. Health uses it to fail readiness at once and wait for load balancers to stop
 * sending traffic while the server still serves. The hook bounds its own wait. Returns the
 * function that removes it.
 */
export function onShutdownDrain(hook: () => unknown): () => void {
  const hooks = (registry.drainHooks ??= [])
  hooks.push(hook)
  return function remove() {
    const i = hooks.indexOf(hook)
    if (i >= 0) hooks.splice(i, 1)
  }
}

/** Thrown by `shutdown()`: every close that failed or missed the deadline, in one error. */
export class ShutdownError extends AggregateError {
  readonly code: 'CORE_SHUTDOWN_FAILED' | 'CORE_SHUTDOWN_TIMEOUT'
  readonly details: Readonly<Record<string, unknown>>
  constructor(code: ShutdownError['code'], errors: unknown[], message: string, details: Record<string, unknown>) {
    super(errors, message)
    this.name = 'ShutdownError'
    this.code = code
    this.details = Object.freeze(details)
    Object.defineProperty(this, BEAVER_ERROR, { value: true })
  }
}

export interface ShutdownOptions {
  /** Time allowed for hooks and closes together (the drain phase comes before it). Default 10 s. */
  timeoutMs?: number
  /**
   * Run the drain hooks first (`onShutdownDrain`): readiness fails, traffic drains. Default false
   * for `shutdown()` (a script or test ends at once), true for `installShutdownSignals()`.
   */
  drain?: boolean
}

/**
 * Runs the drain hooks when asked (`drain: true`), then the before-shutdown hooks, then closes every registered resource in reverse order of
 * registration, within one deadline. Idempotent: concurrent calls share one run. Failures
 * are collected into one `ShutdownError` (an AggregateError) after everything was tried.
 */
export function shutdown(options: ShutdownOptions = {}): Promise<void> {
  registry.running ??= runShutdown(options.timeoutMs ?? 10_000, options.drain === true).finally(() => {
    registry.running = undefined
  })
  return registry.running
}

async function runShutdown(timeoutMs: number, drain: boolean): Promise<void> {
  const errors: unknown[] = []
  const drainHooks = registry.drainHooks?.splice(0) ?? []
  if (drain) {
    for (const r of await Promise.allSettled(drainHooks.map(async (hook) => hook())))
      if (r.status === 'rejected') errors.push(r.reason)
  }
  const deadline = Date.now() + timeoutMs
  const pending: string[] = []
  const hooks = registry.beforeHooks.splice(0)
  const hookResults = await withDeadline(Promise.allSettled(hooks.map(async (hook) => hook())), deadline)
  if (hookResults === TIMED_OUT) pending.push('before-shutdown hooks')
  else for (const r of hookResults) if (r.status === 'rejected') errors.push(r.reason)

  const entries = registry.entries.splice(0).reverse()
  for (const [i, entry] of entries.entries()) {
    if (Date.now() >= deadline) {
      // Out of time: start the remaining closes anyway (best effort) and report them.
      for (const rest of entries.slice(i)) {
        pending.push(rest.name)
        void Promise.resolve()
          .then(() => rest.target.close())
          .catch(() => undefined)
      }
      break
    }
    try {
      const result = await withDeadline(
        Promise.resolve().then(() => entry.target.close()),
        deadline,
      )
      if (result === TIMED_OUT) pending.push(entry.name)
    } catch (err) {
      errors.push(err)
    }
  }
  if (pending.length > 0) {
    throw new ShutdownError(
      'CORE_SHUTDOWN_TIMEOUT',
      errors,
      `Shutdown did not finish within ${timeoutMs} ms; still closing: ${pending.join(', ')}` +
        (errors.length ? `; ${errors.length} close(s) failed` : ''),
      { pending, timeoutMs },
    )
  }
  if (errors.length > 0) {
    throw new ShutdownError(
      'CORE_SHUTDOWN_FAILED',
      errors,
      `Shutdown finished, but ${errors.length} close(s) failed: ${errors.map(describeError).join('; ')}`,
      {},
    )
  }
}

const TIMED_OUT = Symbol('timed out')

async function withDeadline<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), Math.max(0, deadline - Date.now()))
    timer.unref()
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export interface SignalOptions extends ShutdownOptions {
  signals?: NodeJS.Signals[]
  /** Exit once shutdown is done (code 0, or 1 on failure). Default true. */
  exit?: boolean
  onError?: (error: unknown) => void
}

/**
 * Wires SIGTERM/SIGINT to a draining `shutdown()` (drain hooks, then stop accepting, then close;
 * `drain: false` skips the drain). A second signal while shutting down exits at once.
 * Returns the function that removes the handlers.
 */
export function installShutdownSignals(options: SignalOptions = {}): () => void {
  const { signals = ['SIGTERM', 'SIGINT'], exit = true, onError = (e: unknown) => console.error(e) } = options
  let started = false
  const handler = (): void => {
    if (started) {
      process.exit(1)
    }
    started = true
    shutdown({ drain: true, ...options }).then(
      () => {
        if (exit) process.exit(0)
      },
      (err: unknown) => {
        onError(err)
        if (exit) process.exit(1)
      },
    )
  }
  for (const s of signals) process.on(s, handler)
  return function uninstall() {
    for (const s of signals) process.off(s, handler)
  }
}
