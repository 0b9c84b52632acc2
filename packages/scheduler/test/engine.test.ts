import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createQueue } from '@beaver-kit/queue'
import {
  createScheduler,
  cron,
  dispatchTo,
  every,
  type RunContext,
  type SchedulerOptions,
  type SchedulerStore,
} from '@beaver-kit/scheduler'
import { MemoryStore } from '@beaver-kit/scheduler/memory'

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

const open: Array<{ close(): Promise<void> }> = []
function make(store: SchedulerStore, options: Partial<SchedulerOptions> = {}) {
  const s = createScheduler({ store, envPrefix: false, pollInterval: '1h', ...options })
  open.push(s)
  return s
}

function listen<T>(name: string): T[] {
  const got: T[] = []
  const fn = (message: unknown): void => void got.push(message as T)
  subscribe(name, fn)
  cleanups.push(() => unsubscribe(name, fn))
  return got
}
const cleanups: Array<() => void> = []

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
})
afterEach(async () => {
  for (const c of cleanups.splice(0)) c()
  vi.useRealTimers()
  for (const s of open.splice(0)) await s.close()
})

describe('DST on a fake clock, end to end', () => {
  it('runs a time in the spring-forward gap once right after it, in New York', async () => {
    vi.setSystemTime(new Date('2026-03-07T12:00:00Z'))
    const runs: string[] = []
    make(new MemoryStore()).schedule('nightly', cron('30 2 * * *', 'America/New_York'), ({ dueAt }) => {
      runs.push(dueAt.toISOString())
    })
    await vi.advanceTimersByTimeAsync(2 * DAY)
    expect(runs).toEqual(['2026-03-08T07:00:00.000Z', '2026-03-09T06:30:00.000Z'])
  })

  it('runs a repeated fall-back time once, in Berlin', async () => {
    vi.setSystemTime(new Date('2026-10-24T12:00:00Z'))
    const runs: string[] = []
    make(new MemoryStore()).schedule('nightly', cron('0 30 2 * * *', 'Europe/Berlin'), ({ dueAt }) => {
      runs.push(dueAt.toISOString())
    })
    await vi.advanceTimersByTimeAsync(2 * DAY)
    expect(runs).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z'])
  })
})

describe('missed runs after a restart', () => {
  async function restart(missed: 'skip' | 'once' | 'all', maxCatchup = 3) {
    vi.setSystemTime(new Date('2026-01-01T00:00:30Z'))
    const store = new MemoryStore()
    const first = make(store, { grace: '10s' })
    first.schedule('minutely', every('1m'), () => undefined)
    await vi.advanceTimersByTimeAsync(MIN) // runs 00:01
    await first.close()
    vi.setSystemTime(new Date('2026-01-01T00:10:30Z')) // down for 00:02 .. 00:10
    const events = listen<{ dueAt: number; action: string }>('beaver:scheduler:missed')
    const second = make(store, { grace: '10s', missed, maxCatchup })
    const triggers: string[] = []
    second.schedule(
      'minutely',
      every('1m'),
      ({ trigger, dueAt }) => void triggers.push(`${trigger}@${dueAt.toISOString().slice(11, 16)}`),
    )
    await vi.advanceTimersByTimeAsync(MIN) // the 00:11 run
    return { triggers, history: await second.history('minutely', { limit: 50 }), events }
  }

  it('skip: records the latest missed occurrence as missed and runs none of them', async () => {
    const { triggers, history, events } = await restart('skip')
    expect(triggers).toEqual(['scheduled@00:11'])
    expect(history.filter((r) => r.outcome === 'missed').map((r) => new Date(r.dueAt).toISOString())).toEqual([
      '2026-01-01T00:10:00.000Z',
    ])
    expect(events.map((e) => e.action)).toEqual(['skipped'])
  })

  it('once: runs the latest missed occurrence', async () => {
    const { triggers } = await restart('once')
    expect(triggers).toEqual(['catchup@00:10', 'scheduled@00:11'])
  })

  it('all: runs the missed occurrences, capped by maxCatchup, oldest first', async () => {
    const { triggers, events } = await restart('all', 3)
    expect(triggers).toEqual(['catchup@00:08', 'catchup@00:09', 'catchup@00:10', 'scheduled@00:11'])
    expect(events.map((e) => e.action)).toEqual(['catchup', 'catchup', 'catchup'])
  })
})

describe('overlap, timeout, jitter and shutdown', () => {
  const deferred = () => {
    let resolve!: () => void
    const promise = new Promise<void>((r) => (resolve = r))
    return { promise, resolve }
  }

  it('overlap skip records the occurrence as skipped while the previous run goes on', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const gate = deferred()
    const s = make(new MemoryStore())
    let calls = 0
    s.schedule('slow', every('1s'), () => (++calls, gate.promise))
    await vi.advanceTimersByTimeAsync(3000)
    gate.resolve()
    await vi.advanceTimersByTimeAsync(10)
    const history = await s.history('slow')
    expect(calls).toBe(1)
    expect(history.map((r) => r.outcome).sort()).toEqual(['skipped', 'skipped', 'succeeded'])
  })

  it('overlap queue runs the next occurrence after the previous one; allow runs them together', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const gate = deferred()
    const s = make(new MemoryStore())
    let queued = 0
    let allowed = 0
    let concurrent = 0
    let peak = 0
    s.schedule('queued', every('1s'), () => (++queued, gate.promise), {
      overlap: 'queue',
      maxRuns: 2,
      startAt: Date.now(),
    })
    s.schedule(
      'allowed',
      every('1s'),
      async () => {
        allowed++
        peak = Math.max(peak, ++concurrent)
        await gate.promise
        concurrent--
      },
      { overlap: 'allow', maxRuns: 2, startAt: Date.now() },
    )
    await vi.advanceTimersByTimeAsync(3000)
    expect(queued).toBe(1)
    expect(peak).toBe(2)
    gate.resolve()
    await vi.advanceTimersByTimeAsync(10)
    expect(queued).toBe(2)
    expect(allowed).toBe(2)
  })

  it('a timeout aborts the handler signal and records the run as timeout, even when the handler ignores it', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const s = make(new MemoryStore())
    let reason: unknown
    s.schedule(
      'polite',
      every('1s'),
      ({ signal }) =>
        new Promise<void>((_, reject) =>
          signal.addEventListener('abort', () => {
            reason = signal.reason
            reject(signal.reason as Error)
          }),
        ),
      { timeout: '200ms', maxRuns: 1, startAt: Date.now() },
    )
    s.schedule('rude', every('1s'), () => new Promise(() => undefined), {
      timeout: '200ms',
      maxRuns: 1,
      startAt: Date.now(),
    })
    await vi.advanceTimersByTimeAsync(2000)
    expect(reason).toMatchObject({ code: 'SCHEDULER_TIMEOUT' })
    for (const name of ['polite', 'rude']) {
      const [run] = await s.history(name)
      expect(run).toMatchObject({ outcome: 'timeout' })
      expect(run?.error).toContain('SCHEDULER_TIMEOUT')
    }
  })

  it('jitter delays the start within its bound, and the run channel reports the lag', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const starts = listen<{ schedule: string; lagMs: number; trigger: string }>('tracing:beaver:scheduler:run:start')
    const s = make(new MemoryStore())
    const lags: number[] = []
    s.schedule('spread', every('1m'), ({ dueAt }) => void lags.push(Date.now() - dueAt.getTime()), {
      jitter: '10s',
      maxRuns: 3,
      startAt: Date.now(),
    })
    await vi.advanceTimersByTimeAsync(4 * MIN)
    expect(lags).toHaveLength(3)
    for (const lag of lags) {
      expect(lag).toBeGreaterThanOrEqual(0)
      expect(lag).toBeLessThan(10_000 + 1000)
    }
    expect(starts.map((e) => e.schedule)).toEqual(['spread', 'spread', 'spread'])
    expect(starts[0]?.trigger).toBe('scheduled')
  })

  it('close() waits for running handlers, then aborts them after the drain timeout', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const gate = deferred()
    const store = new MemoryStore()
    const s = make(store, { drainTimeout: '1m' })
    let finished = false
    s.schedule(
      'work',
      every('1s'),
      async () => {
        await gate.promise
        finished = true
      },
      { maxRuns: 1, startAt: Date.now() },
    )
    await vi.advanceTimersByTimeAsync(1000)
    let closed = false
    const closing = s.close().then(() => (closed = true))
    await vi.advanceTimersByTimeAsync(5000)
    expect(closed).toBe(false)
    gate.resolve()
    await closing
    expect(finished).toBe(true)
    expect((await store.history('work', { limit: 1 }))[0]?.outcome).toBe('succeeded')

    const stuck = make(store, { drainTimeout: '2s' })
    let aborted: unknown
    stuck.schedule(
      'stuck',
      every('1s'),
      ({ signal }) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject((aborted = signal.reason) as Error))),
      { maxRuns: 1, startAt: Date.now() },
    )
    await vi.advanceTimersByTimeAsync(1000)
    const stopping = stuck.close()
    await vi.advanceTimersByTimeAsync(2500)
    await stopping
    expect(aborted).toMatchObject({ code: 'SCHEDULER_SHUTDOWN' })
    expect((await store.history('stuck', { limit: 1 }))[0]?.outcome).toBe('cancelled')
  })
})

describe('controls, health and faults', () => {
  it('pause stops runs (not counted as missed), resume restarts them, remove unregisters', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const store = new MemoryStore()
    const a = make(store, { pollInterval: '1s' })
    const b = make(store, { pollInterval: '1s' })
    const runs: string[] = []
    for (const [s, id] of [
      [a, 'a'],
      [b, 'b'],
    ] as const)
      s.schedule('job', every('1m'), () => void runs.push(id))
    await vi.advanceTimersByTimeAsync(MIN)
    expect(runs).toHaveLength(1)
    await b.pause('job')
    await vi.advanceTimersByTimeAsync(3 * MIN)
    expect(runs).toHaveLength(1)
    await a.resume('job')
    await vi.advanceTimersByTimeAsync(MIN)
    expect(runs).toHaveLength(2)
    expect((await a.history('job', { limit: 10 })).map((r) => r.outcome)).toEqual(['succeeded', 'succeeded'])
    await b.remove('job')
    await vi.advanceTimersByTimeAsync(2 * MIN)
    expect(a.names()).toEqual([])
    expect(runs).toHaveLength(2)
  })

  it('health reports the last success, the next run, and an overdue occurrence (dead man’s switch)', async () => {
    vi.setSystemTime(new Date('2026-01-01T02:00:00Z'))
    const store = new MemoryStore()
    const first = make(store, { grace: '5m' })
    first.schedule('nightly', '0 3 * * *', () => undefined)
    await vi.advanceTimersByTimeAsync(10)
    await first.close()
    vi.setSystemTime(new Date('2026-01-01T05:00:00Z'))
    const overdue = listen<{ schedule: string; dueAt: number }>('beaver:scheduler:overdue')
    const second = make(store, { grace: '5m', missed: 'skip' })
    second.schedule('nightly', '0 3 * * *', () => undefined)
    second.schedule('often', every('1m'), () => undefined)
    await vi.advanceTimersByTimeAsync(2 * MIN)
    const health = await second.health()
    expect(health.ok).toBe(false)
    const nightly = health.schedules.find((s) => s.name === 'nightly')
    expect(nightly).toMatchObject({ overdue: true, paused: false })
    expect(nightly?.lastRun?.outcome).toBe('missed')
    expect(nightly?.nextRun?.toISOString()).toBe('2026-01-02T03:00:00.000Z')
    const often = health.schedules.find((s) => s.name === 'often')
    expect(often?.overdue).toBe(false)
    expect(often?.lastSuccess?.outcome).toBe('succeeded')
    expect(overdue.map((e) => new Date(e.dueAt).toISOString())).toEqual(['2026-01-01T03:00:00.000Z'])
  })

  it('pauses while the store is away and resumes without double runs', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const memory = new MemoryStore()
    let down = false
    const flaky = new Proxy(memory, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown
        if (typeof value !== 'function') return value
        return (...args: unknown[]) =>
          down ? Promise.reject(new Error('ECONNREFUSED')) : (value as (...a: unknown[]) => unknown).apply(target, args)
      },
    }) as SchedulerStore
    const states = listen<{ state: string }>('beaver:scheduler:store')
    const s = make(flaky, { grace: '30s', missed: 'once' })
    const dues: number[] = []
    s.schedule('tick', every('10s'), ({ dueAt }) => void dues.push(dueAt.getTime()))
    await vi.advanceTimersByTimeAsync(25_000)
    expect(dues).toHaveLength(2)
    down = true
    await vi.advanceTimersByTimeAsync(60_000)
    expect(dues).toHaveLength(2)
    down = false
    await vi.advanceTimersByTimeAsync(15_000)
    expect(states.map((e) => e.state)).toEqual(['lost', 'restored'])
    expect(new Set(dues).size).toBe(dues.length)
    const history = await memory.history('tick', { limit: 50 })
    expect(history.some((r) => r.trigger === 'catchup')).toBe(true)
  })

  it('trigger runs once now (trigger manual) and describe says the memory store is per process', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:01Z'))
    const s = make(new MemoryStore(), { pollInterval: '1s' })
    const triggers: string[] = []
    s.schedule('yearly', '@yearly', ({ trigger }) => void triggers.push(trigger))
    await s.trigger('yearly')
    await vi.advanceTimersByTimeAsync(1500)
    expect(triggers).toEqual(['manual'])
    expect(s.describe().state).toMatchObject({ store: 'memory', scope: 'this process only', schedules: 1 })
    await s.ready()
  })
})

describe('dispatch to @beaver-kit/queue', () => {
  it('enqueues each occurrence once, with an id per occurrence and the fencing token', async () => {
    vi.setSystemTime(new Date('2026-01-01T00:00:00.500Z'))
    const q = createQueue({ driver: 'memory', envPrefix: false })
    open.push(q)
    const s = make(new MemoryStore())
    s.schedule('stats', every('1s'), dispatchTo(q, 'daily-stats'), { maxRuns: 2, startAt: Date.now() })
    await vi.advanceTimersByTimeAsync(3000)
    const runs = await s.history('stats')
    expect(runs.map((r) => r.outcome)).toEqual(['succeeded', 'succeeded'])
    const message = await q.get('daily-stats', `stats:${runs[0]?.dueAt}`)
    // get() answers the stored message: its payload is the JSON text the queue keeps.
    expect(JSON.parse(message?.payload as string)).toEqual({
      schedule: 'stats',
      dueAt: new Date(runs[0]?.dueAt as number).toISOString(),
      trigger: 'scheduled',
      token: expect.any(Number),
    })
    expect((await q.counts('daily-stats')).waiting).toBe(2)
    const custom: unknown[] = []
    const handler = dispatchTo(
      { publish: async (_q, payload) => (custom.push(payload), 'id') },
      'x',
      (ctx: RunContext) => ({ at: ctx.dueAt.getTime() }),
    )
    await handler({
      schedule: 's',
      dueAt: new Date(5),
      trigger: 'manual',
      token: 1,
      instance: 'i',
      signal: new AbortController().signal,
    })
    expect(custom).toEqual([{ at: 5 }])
  })
})
