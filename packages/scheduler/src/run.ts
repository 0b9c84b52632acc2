import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { describeError, SchedulerError } from './errors.ts'
import type { RunEnd, RunTrigger, SchedulerStore } from './store.ts'

/** What a handler receives for one occurrence. */
export interface RunContext {
  /** The schedule's name. */
  readonly schedule: string
  /** When the occurrence was due (not when it started: see `lagMs` on the channel). */
  readonly dueAt: Date
  readonly trigger: RunTrigger
  /**
   * The fencing token of this claim: strictly greater than every earlier claim's. Pass it to
   * the systems you write to and have them refuse a smaller one, so a run whose lease expired
   * (a paused VM, a long GC) cannot overwrite the work of the run that replaced it.
   */
  readonly token: number
  /** The instance running it. */
  readonly instance: string
  /** Aborts on the run's timeout, on a lost lease, and when close() gives up waiting. */
  readonly signal: AbortSignal
}

/** A schedule's handler; a rejection is recorded as a failed run (and never crashes the process). */
export type ScheduleHandler = (context: RunContext) => unknown

/** One claimed occurrence, ready to run. */
export interface Occurrence {
  schedule: string
  slot: string
  dueAt: number
  trigger: RunTrigger
  token: number
}

/** What one run needs from its scheduler. */
export interface RunEnvironment {
  store: SchedulerStore
  instance: string
  leaseMs: number
  timeoutMs: number | undefined
  jitterMs: number
  /** Aborts every run (close() after the drain timeout). */
  shutdown: AbortSignal
  handler: ScheduleHandler
  /** Store failures while finishing or renewing: reported, never thrown into the loop. */
  onStoreError(error: unknown): void
}

const waitFor = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    signal.addEventListener('abort', done, { once: true })
  })

/**
 * Runs one claimed occurrence: jitter, the handler under a renewed lease and a timeout, then
 * its history row. Resolves when the row is written (or the write failed and was reported).
 */
export async function executeRun(o: Occurrence, env: RunEnvironment): Promise<void> {
  const controller = new AbortController()
  const onShutdown = (): void =>
    controller.abort(
      new SchedulerError('SCHEDULER_SHUTDOWN', `The scheduler closed while "${o.schedule}" was running.`),
    )
  if (env.shutdown.aborted) onShutdown()
  else env.shutdown.addEventListener('abort', onShutdown, { once: true })
  const renewEvery = Math.max(250, Math.floor(env.leaseMs / 3))
  const renewer = setInterval(() => {
    env.store.renew(o.schedule, o.slot, o.token, Date.now() + env.leaseMs).then(
      (ok) => {
        if (ok || controller.signal.aborted) return
        if (channels.leaseLost.hasSubscribers) channels.leaseLost.publish({ schedule: o.schedule, token: o.token })
        controller.abort(
          new SchedulerError(
            'SCHEDULER_LEASE_LOST',
            `The lease of "${o.schedule}" (token ${o.token}) was lost; another instance may take over.`,
          ),
        )
      },
      (error: unknown) => env.onStoreError(error),
    )
  }, renewEvery)
  renewer.unref()
  let timer: ReturnType<typeof setTimeout> | undefined
  if (env.timeoutMs !== undefined && env.timeoutMs > 0) {
    timer = setTimeout(
      () =>
        controller.abort(
          new SchedulerError(
            'SCHEDULER_TIMEOUT',
            `"${o.schedule}" ran longer than its timeout of ${env.timeoutMs} ms.`,
            {
              details: { schedule: o.schedule, timeoutMs: env.timeoutMs },
            },
          ),
        ),
      env.timeoutMs,
    )
  }
  let end: RunEnd = { outcome: 'succeeded', endedAt: 0, error: undefined }
  const startedAt = Date.now()
  const context = () => ({
    schedule: o.schedule,
    store: env.store.name,
    trigger: o.trigger,
    dueAt: o.dueAt,
    lagMs: Date.now() - o.dueAt,
    token: o.token,
  })
  try {
    await traceAsync(channels.run, context, async () => {
      if (env.jitterMs > 0) await waitFor(Math.floor(Math.random() * env.jitterMs), controller.signal)
      const ctx: RunContext = {
        schedule: o.schedule,
        dueAt: new Date(o.dueAt),
        trigger: o.trigger,
        token: o.token,
        instance: env.instance,
        signal: controller.signal,
      }
      try {
        if (controller.signal.aborted) throw controller.signal.reason
        // The race stops waiting on abort: a handler that ignores its signal cannot hold the
        // schedule (or close()) forever; it goes on detached and its result is not recorded.
        await raceSignal(
          Promise.resolve().then(() => env.handler(ctx)),
          controller.signal,
        )
      } catch (error) {
        end = { outcome: outcomeOf(error), endedAt: 0, error: describeError(error) }
        throw error
      }
    })
  } catch {
    // recorded in `end`; the channel has published the error
  } finally {
    clearInterval(renewer)
    if (timer !== undefined) clearTimeout(timer)
    env.shutdown.removeEventListener('abort', onShutdown)
  }
  end.endedAt = Math.max(Date.now(), startedAt)
  try {
    await env.store.finish(o.schedule, o.slot, o.token, end)
  } catch (error) {
    env.onStoreError(error)
  }
}

function outcomeOf(error: unknown): RunEnd['outcome'] {
  const code = (error as { code?: unknown } | undefined)?.code
  if (code === 'SCHEDULER_TIMEOUT') return 'timeout'
  if (code === 'SCHEDULER_SHUTDOWN' || code === 'SCHEDULER_LEASE_LOST') return 'cancelled'
  return 'failed'
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
