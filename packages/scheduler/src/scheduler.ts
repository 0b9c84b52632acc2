import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { onBeforeShutdown, traceAsync, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { schedulerSchema, type SchedulerSettings } from './config.ts'
import { Engine } from './engine.ts'
import { createEntry, type ScheduleOptions } from './entry.ts'
import { SchedulerError } from './errors.ts'
import { hasSchedulerStore, loadSchedulerStore, unknownSchedulerStore } from './registry.ts'
import type { ScheduleHandler } from './run.ts'
import type { RunOutcome, RunRecord, SchedulerStore, SchedulerStoreDefinition } from './store.ts'
import type { ScheduleSpec } from './timing.ts'

/** Options of `createScheduler()`: every `BEAVER_SCHEDULER_*` setting, a store, and where the environment comes from. */
export interface SchedulerOptions extends Omit<SchedulerSettings, 'store' | 'db' | 'redis'>, InstanceOptions {
  /** A store name (`memory`, `sqlite`, `postgres`, `mysql`, `redis`, or a registered one), a definition, or a built store (never closed by the scheduler). */
  store?: string | SchedulerStoreDefinition<never> | SchedulerStore | undefined
  /** Options of the sqlite/postgres/mysql stores; `database` reuses a `@beaver-kit/database` instance. */
  db?: (NonNullable<SchedulerSettings['db']> & { database?: unknown }) | undefined
  /** Options of the redis store; `client` reuses an ioredis client. */
  redis?: (NonNullable<SchedulerSettings['redis']> & { client?: unknown }) | undefined
  /** This instance's name in history rows. Default `<host>:<pid>:<random>`. */
  instance?: string | undefined
}

/** What `schedule()` accepts as timing: a cron expression or preset, a Date (one-off), or a spec from every()/at()/cron(). */
export type When = string | Date | ScheduleSpec

/** A registered schedule, with its controls bound. */
export interface ScheduledJob {
  readonly name: string
  /** The next `n` occurrences from now (or from `from`), honouring start/end/maxRuns. */
  nextRuns(n: number, from?: Date): Date[]
}

/** Health of one schedule: the last run, the last success, and whether an expected occurrence is overdue. */
export interface ScheduleHealth {
  name: string
  paused: boolean
  nextRun: Date | undefined
  lastRun: RunRecord | undefined
  lastSuccess: RunRecord | undefined
  /** An occurrence due more than the grace period ago has no run (dead man's switch). */
  overdue: boolean
}

/** What `health()` reports; it never throws. */
export interface SchedulerHealth {
  ok: boolean
  store: string
  error?: string
  schedules: ScheduleHealth[]
}

/** A scheduler: create with `createScheduler()`, or use the default `scheduler()`. */
export interface Scheduler extends Instance<InstanceDescription> {
  /** The store's name. */
  readonly store: string
  /** This instance's name in history rows. */
  readonly instance: string
  /**
   * Registers a schedule; throws at once for a bad expression, zone or option, or a name
   * already registered on this instance. The loop starts with the first schedule.
   * @example scheduler.schedule('nightly-report', '0 2 * * *', async ({ signal }) => report(signal))
   */
  schedule(name: string, when: When, handler: ScheduleHandler, options?: ScheduleOptions): ScheduledJob
  /** The next `n` occurrences of a registered schedule. */
  nextRuns(name: string, n: number, from?: Date): Date[]
  /** Names registered on this instance. */
  names(): string[]
  /** Stops running a schedule on every instance (through the store) until `resume()`. */
  pause(name: string): Promise<void>
  resume(name: string): Promise<void>
  /** Runs a schedule now, once across instances (trigger `manual`); the next poll picks it up. */
  trigger(name: string): Promise<void>
  /** Removes a schedule from every instance until one registers it again. */
  remove(name: string): Promise<void>
  /** Run history, latest due first ("did last night's job run?"). */
  history(name: string, options?: { limit?: number; outcome?: RunOutcome }): Promise<RunRecord[]>
  health(): Promise<SchedulerHealth>
}

/**
 * Builds a scheduler from options, then `BEAVER_SCHEDULER_*`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using scheduler = createScheduler({ store: 'postgres' })
 * scheduler.schedule('purge', every('5m'), () => purgeExpired())
 */
export function createScheduler(options: SchedulerOptions = {}): Scheduler {
  const { envPrefix, env, store: storeOption, instance: instanceOption, db, redis, ...settings } = options
  const { database, ...dbSettings } = db ?? {}
  const { client, ...redisSettings } = redis ?? {}
  const storeName = typeof storeOption === 'string' ? storeOption : undefined
  const resolved = resolveConfig(schedulerSchema, {
    options: {
      ...settings,
      ...(storeName ? { store: storeName } : {}),
      ...(db ? { db: dbSettings } : {}),
      ...(redis ? { redis: redisSettings } : {}),
    },
    envPrefix,
    ...(env ? { env } : {}),
  })
  const values = resolved.values
  const given = typeof storeOption === 'object' && 'claim' in storeOption ? storeOption : undefined
  const definition =
    typeof storeOption === 'object' && !given ? (storeOption as SchedulerStoreDefinition<never>) : undefined
  const name = given?.name ?? definition?.name ?? values.store
  if (!given && !definition && !hasSchedulerStore(name)) throw unknownSchedulerStore(name)
  const instance = instanceOption ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`

  let opening: Promise<SchedulerStore> | undefined
  const open = (): Promise<SchedulerStore> => {
    if (closed) return Promise.reject(closedError())
    opening ??= (async () => {
      if (given) return given
      const def = definition ?? (await loadSchedulerStore(name))
      const section =
        def.section === 'db' ? { ...values.db, database } : def.section === 'redis' ? { ...values.redis, client } : {}
      return (await def.create(section as never, { namespace: values.namespace })) as SchedulerStore
    })()
    opening.catch(() => (opening = undefined))
    return opening
  }

  const engine = new Engine(open, {
    instance,
    leaseMs: values.leaseTtl,
    graceMs: values.grace,
    pollMs: values.pollInterval,
    retentionMs: values.historyRetention,
    historyMax: values.historyMax,
  })
  let closed = false
  let closing: Promise<void> | undefined
  const closedError = (): SchedulerError =>
    new SchedulerError('SCHEDULER_CLOSED', 'This scheduler is closed; create a new one.')
  const entryOf = (n: string) => {
    const entry = engine.entries.get(n)
    if (!entry) {
      throw new SchedulerError(
        'SCHEDULER_NOT_FOUND',
        `No schedule "${n}" is registered on this scheduler; registered: ${[...engine.entries.keys()].join(', ') || 'none'}.`,
        { details: { schedule: n } },
      )
    }
    return entry
  }
  const upcoming = (n: string, count: number, from = new Date()): Date[] => {
    const entry = entryOf(n)
    const out: Date[] = []
    let at = from.getTime()
    for (let i = 0; i < Math.min(count, 10_000); i++) {
      const next = entry.timing.next(at)
      if (next === undefined) break
      out.push(new Date(next))
      at = next
    }
    return out
  }
  const control = async (n: string, patch: Parameters<SchedulerStore['control']>[1]): Promise<void> => {
    const store = await open()
    await store.control(n, patch, Date.now())
    engine.kick(true)
  }
  // Before instances close, stop claiming: the runs in flight finish in close().
  const removeHook = onBeforeShutdown(() => engine.stop())

  const scheduler: Scheduler = {
    store: name,
    instance,
    schedule(n, when, handler, scheduleOptions = {}) {
      if (closed) throw closedError()
      if (engine.entries.has(n)) {
        throw new SchedulerError(
          'SCHEDULER_DUPLICATE',
          `A schedule named "${n}" is already registered on this scheduler; names identify schedules across instances, so pick another or remove() it first.`,
          { details: { schedule: n } },
        )
      }
      const entry = createEntry(
        n,
        when,
        handler,
        scheduleOptions,
        { timezone: values.timezone, missed: values.missed, maxCatchup: values.maxCatchup },
        Date.now(),
      )
      engine.entries.set(n, entry)
      engine.kick()
      return { name: n, nextRuns: (count, from) => upcoming(n, count, from) }
    },
    nextRuns: upcoming,
    names: () => [...engine.entries.keys()],
    pause: async (n) => {
      await control(n, { paused: true })
      const entry = engine.entries.get(n)
      if (entry) entry.paused = true
    },
    resume: async (n) => {
      await control(n, { paused: false })
      const entry = engine.entries.get(n)
      if (entry) entry.paused = false
    },
    trigger: (n) => control(n, { triggerAt: Date.now() }),
    remove: async (n) => {
      await control(n, { removed: true })
      engine.entries.delete(n)
    },
    async history(n, o = {}) {
      const store = await open()
      const limit = Math.max(1, Math.min(o.limit ?? 20, 1000))
      return store.history(n, { limit, outcome: o.outcome })
    },
    async health() {
      let store: SchedulerStore | undefined
      try {
        store = await open()
        await store.ping()
        const now = Date.now()
        const controls = await store.controls()
        const schedules: ScheduleHealth[] = []
        for (const entry of engine.entries.values()) {
          const [lastRun] = await store.history(entry.name, { limit: 1 })
          const [lastSuccess] = await store.history(entry.name, { limit: 1, outcome: 'succeeded' })
          const expected = entry.timing.previous(now - values.grace, 1)[0]
          const anchor = entry.anchorAt ?? now
          const overdue =
            expected !== undefined &&
            expected >= anchor &&
            !(lastRun && lastRun.dueAt >= expected && lastRun.outcome !== 'missed')
          const paused = controls.get(entry.name)?.paused ?? entry.paused
          schedules.push({
            name: entry.name,
            paused,
            nextRun: paused ? undefined : upcoming(entry.name, 1)[0],
            lastRun,
            lastSuccess,
            overdue: overdue && !paused,
          })
        }
        return { ok: !schedules.some((s) => s.overdue), store: store.name, schedules }
      } catch (error) {
        return { ok: false, store: name, error: (error as Error).message, schedules: [] }
      }
    },
    ready: () =>
      traceAsync(
        channels.ready,
        () => ({ store: name }),
        async () => {
          const store = await open()
          await store.ping()
        },
      ),
    describe: () =>
      describeInstance('scheduler', envPrefix, resolved.entries, {
        store: name,
        instance,
        // The memory store is per process: say so where operators look.
        scope: name === 'memory' ? 'this process only' : 'every instance sharing the store',
        schedules: engine.entries.size,
        running: engine.active.size,
      }),
    close() {
      closing ??= (async () => {
        closed = true
        removeHook()
        engine.stop()
        let timer: ReturnType<typeof setTimeout> | undefined
        const timedOut = new Promise<'timeout'>(
          (resolve) => (timer = setTimeout(() => resolve('timeout'), values.drainTimeout)),
        )
        // Claims in flight first (a run one of them starts joins engine.active), all within the
        // drain timeout: a store that does not answer must not hold close() past it.
        const claimed = await Promise.race([engine.claimsSettled(), timedOut])
        const result =
          claimed === 'timeout' ? claimed : await Promise.race([Promise.allSettled([...engine.active]), timedOut])
        clearTimeout(timer)
        if (result === 'timeout') engine.shutdown.abort()
        await Promise.allSettled([...engine.active])
        engine.shutdown.abort()
        if (opening && !given) await (await opening.catch(() => undefined))?.close()
      })()
      return closing
    },
    [Symbol.asyncDispose]: () => scheduler.close(),
  }
  return scheduler
}
