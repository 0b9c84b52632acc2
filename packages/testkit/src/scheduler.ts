// The scheduler conformance suite: every @beaver-kit/scheduler store runs all of it against its
// real backend. Subjects are typed structurally so the testkit does not depend on the package.
import { expect, it } from 'vitest'
import { defineConformanceSuite } from './conformance.ts'
import { eventually } from './eventually.ts'

type Outcome = 'running' | 'succeeded' | 'failed' | 'timeout' | 'skipped' | 'abandoned' | 'missed' | 'cancelled'
type Trigger = 'scheduled' | 'catchup' | 'manual'

interface Run {
  schedule: string
  slot: string
  dueAt: number
  trigger: Trigger
  instance: string
  token: number
  startedAt: number
  endedAt: number | undefined
  durationMs: number | undefined
  outcome: Outcome
  error: string | undefined
}

interface Claim {
  schedule: string
  slot: string
  dueAt: number
  trigger: Trigger
  instance: string
  now: number
  leaseMs: number
  outcome?: Outcome
}

interface Control {
  paused: boolean
  triggerAt: number | undefined
  removed: boolean
  createdAt: number
}

/** The store contract, as @beaver-kit/scheduler's SchedulerStore declares it. */
export interface ConformanceStore {
  readonly name: string
  readonly distributed: boolean
  register(schedule: string, now: number): Promise<Control>
  claim(request: Claim): Promise<number | undefined>
  renew(schedule: string, slot: string, token: number, until: number): Promise<boolean>
  finish(
    schedule: string,
    slot: string,
    token: number,
    end: { outcome: Exclude<Outcome, 'running'>; endedAt: number; error: string | undefined },
  ): Promise<void>
  running(schedule: string, now: number, exceptToken: number): Promise<number>
  lastDue(schedule: string): Promise<number | undefined>
  history(schedule: string, options: { limit: number; outcome?: Outcome }): Promise<Run[]>
  controls(): Promise<Map<string, Control>>
  control(
    schedule: string,
    patch: { paused?: boolean; triggerAt?: number; removed?: boolean },
    now: number,
  ): Promise<void>
  sweep(now: number): Promise<number>
  prune(schedule: string, before: number, keep: number): Promise<number>
  ping(): Promise<void>
  close(): Promise<void>
}

interface RunContext {
  schedule: string
  dueAt: Date
  trigger: Trigger
  token: number
  instance: string
  signal: AbortSignal
}

/** The scheduler surface the facade cases drive. */
export interface ConformanceScheduler {
  schedule(
    name: string,
    when: unknown,
    handler: (ctx: RunContext) => unknown,
    options?: Record<string, unknown>,
  ): unknown
  pause(name: string): Promise<void>
  resume(name: string): Promise<void>
  trigger(name: string): Promise<void>
  history(name: string, options?: { limit?: number; outcome?: Outcome }): Promise<Run[]>
  close(): Promise<void>
}

export interface SchedulerSuiteOptions {
  /** A scheduler over a built store (never closed by it), with test-friendly settings. */
  scheduler(
    store: ConformanceStore,
    settings: { instance: string; grace?: string; missed?: string },
  ): ConformanceScheduler
}

const claimOf = (slot: number, extra: Partial<Claim> = {}): Claim => ({
  schedule: 'job',
  slot: String(slot),
  dueAt: slot,
  trigger: 'scheduled',
  instance: 'test',
  now: Date.now(),
  leaseMs: 30_000,
  ...extra,
})

/**
 * Every scheduler store runs this whole suite: atomic claims with increasing fencing tokens,
 * leases, history and retention, shared controls, and several schedulers sharing one store
 * running each occurrence once.
 * @example describeSchedulerStore('redis', (ns) => new RedisStore({ url }, { namespace: ns }), { scheduler })
 */
export const describeSchedulerStore = defineConformanceSuite<ConformanceStore, SchedulerSuiteOptions>(
  'scheduler',
  (ctx) => {
    it('gives each (schedule, slot) to exactly one of many concurrent claims, with increasing tokens', async () => {
      const a = ctx.subject()
      const b = await ctx.another()
      const claims = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).claim(claimOf(1000, { instance: `i${i}` }))),
      )
      const won = claims.filter((t) => t !== undefined)
      expect(won).toHaveLength(1)
      const next = await b.claim(claimOf(2000))
      const third = await a.claim(claimOf(3000, { schedule: 'other' }))
      expect(next).toBeGreaterThan(won[0] as number)
      expect(third).toBeGreaterThan(next as number)
      expect(await a.claim(claimOf(2000))).toBeUndefined()
    })

    it('renews and finishes only with the current token; a finished run is no longer renewable', async () => {
      const s = ctx.subject()
      const token = (await s.claim(claimOf(1000))) as number
      expect(await s.renew('job', '1000', token + 1000, Date.now() + 60_000)).toBe(false)
      expect(await s.renew('job', '1000', token, Date.now() + 60_000)).toBe(true)
      await s.finish('job', '1000', token + 1000, { outcome: 'failed', endedAt: Date.now(), error: 'stale' })
      await s.finish('job', '1000', token, { outcome: 'succeeded', endedAt: Date.now() + 5, error: undefined })
      expect(await s.renew('job', '1000', token, Date.now() + 60_000)).toBe(false)
      const [run] = await s.history('job', { limit: 5 })
      expect(run).toMatchObject({ outcome: 'succeeded', token, slot: '1000', dueAt: 1000, trigger: 'scheduled' })
      expect(run?.error).toBeUndefined()
      expect(run?.durationMs).toBeGreaterThanOrEqual(0)
    })

    it('counts other live runs of a schedule, not its own, not expired ones', async () => {
      const s = ctx.subject()
      const now = Date.now()
      const mine = (await s.claim(claimOf(1000, { now }))) as number
      await s.claim(claimOf(2000, { now }))
      await s.claim(claimOf(3000, { now: now - 60_000, leaseMs: 1000 }))
      expect(await s.running('job', now, mine)).toBe(1)
      expect(await s.running('job', now, -1)).toBe(2)
      expect(await s.running('else', now, -1)).toBe(0)
    })

    it('keeps history latest first, with outcome, error and trigger; lastDue ignores manual runs', async () => {
      const s = ctx.subject()
      const t1 = (await s.claim(claimOf(1000))) as number
      await s.finish('job', '1000', t1, { outcome: 'failed', endedAt: Date.now(), error: 'Error: boom' })
      const t2 = (await s.claim(claimOf(2000, { trigger: 'catchup' }))) as number
      await s.finish('job', '2000', t2, { outcome: 'succeeded', endedAt: Date.now(), error: undefined })
      await s.claim(claimOf(9000, { slot: 'manual:9000', trigger: 'manual' }))
      await s.claim(claimOf(1500, { outcome: 'missed' }))
      const all = await s.history('job', { limit: 10 })
      expect(all.map((r) => r.slot)).toEqual(['manual:9000', '2000', '1500', '1000'])
      expect(all[0]).toMatchObject({ outcome: 'running', trigger: 'manual', endedAt: undefined })
      expect(all[2]).toMatchObject({ outcome: 'missed' })
      expect(all[3]).toMatchObject({ outcome: 'failed', error: 'Error: boom' })
      expect((await s.history('job', { limit: 10, outcome: 'failed' })).map((r) => r.slot)).toEqual(['1000'])
      expect(await s.history('job', { limit: 2 })).toHaveLength(2)
      expect(await s.lastDue('job')).toBe(2000)
      expect(await s.lastDue('nothing')).toBeUndefined()
    })

    it('marks runs whose lease expired as abandoned (a killed process), and leaves live ones', async () => {
      const s = ctx.subject()
      const now = Date.now()
      await s.claim(claimOf(1000, { now: now - 10_000, leaseMs: 1000 }))
      await s.claim(claimOf(2000, { now }))
      expect(await s.sweep(now)).toBe(1)
      const runs = await s.history('job', { limit: 5 })
      expect(runs.find((r) => r.slot === '1000')).toMatchObject({ outcome: 'abandoned', endedAt: now - 9000 })
      expect(runs.find((r) => r.slot === '2000')?.outcome).toBe('running')
      expect(await s.sweep(now)).toBe(0)
    })

    it('prunes by age and by count, never the latest row', async () => {
      const s = ctx.subject()
      for (const due of [1000, 2000, 3000, 4000, 5000]) {
        const token = (await s.claim(claimOf(due))) as number
        await s.finish('job', String(due), token, { outcome: 'succeeded', endedAt: Date.now(), error: undefined })
      }
      expect(await s.prune('job', 2500, 100)).toBe(2)
      expect((await s.history('job', { limit: 10 })).map((r) => r.dueAt)).toEqual([5000, 4000, 3000])
      expect(await s.prune('job', 0, 2)).toBe(1)
      expect((await s.history('job', { limit: 10 })).map((r) => r.dueAt)).toEqual([5000, 4000])
      expect(await s.prune('job', Number.MAX_SAFE_INTEGER, 100)).toBe(1)
      expect((await s.history('job', { limit: 10 })).map((r) => r.dueAt)).toEqual([5000])
      expect(await s.lastDue('job')).toBe(5000)
    })

    it('shares controls: register keeps the first createdAt and clears removed; patches are seen by others', async () => {
      const a = ctx.subject()
      const b = await ctx.another()
      const first = await a.register('job', 1000)
      expect(first).toMatchObject({ paused: false, removed: false, createdAt: 1000 })
      await b.control('job', { paused: true, triggerAt: 5000, removed: true }, 9000)
      expect((await a.controls()).get('job')).toMatchObject({
        paused: true,
        triggerAt: 5000,
        removed: true,
        createdAt: 1000,
      })
      expect(await b.register('job', 7000)).toMatchObject({ paused: true, removed: false, createdAt: 1000 })
      await a.control('new', { paused: false }, 3000)
      expect((await b.controls()).get('new')).toMatchObject({ paused: false, createdAt: 3000 })
      await a.ping()
    })

    it('runs each occurrence once across three schedulers sharing the store', async () => {
      const stores = [ctx.subject(), await ctx.another(), await ctx.another()]
      const seen: Array<{ due: number; token: number; instance: string }> = []
      const schedulers = stores.map((store, i) => ctx.options.scheduler(store, { instance: `node-${i}` }))
      try {
        for (const s of schedulers) {
          s.schedule('tick', '* * * * * *', ({ dueAt, token, instance }) => {
            seen.push({ due: dueAt.getTime(), token, instance })
          })
        }
        await eventually(() => new Set(seen.map((r) => r.due)).size >= 3, { timeoutMs: 20_000 })
      } finally {
        for (const s of schedulers) await s.close()
      }
      const dues = seen.map((r) => r.due)
      expect(new Set(dues).size).toBe(dues.length)
      const tokens = seen.map((r) => r.token)
      expect(new Set(tokens).size).toBe(tokens.length)
      const history = await stores[0]?.history('tick', { limit: 100 })
      expect(history?.filter((r) => r.outcome === 'succeeded').length).toBe(seen.length)
    }, 30_000)

    it('pauses, resumes and triggers from another instance, once across the fleet', async () => {
      const a = ctx.options.scheduler(ctx.subject(), { instance: 'a' })
      const b = ctx.options.scheduler(await ctx.another(), { instance: 'b' })
      const runs: Trigger[] = []
      try {
        // Far in the future: only the manual trigger runs it.
        for (const s of [a, b]) s.schedule('report', '0 0 1 1 *', ({ trigger }) => void runs.push(trigger))
        await b.trigger('report')
        await eventually(() => runs.length === 1, { timeoutMs: 10_000 })
        await a.pause('report')
        await expect(b.history('report')).resolves.toHaveLength(1)
        await a.resume('report')
      } finally {
        await a.close()
        await b.close()
      }
      expect(runs).toEqual(['manual'])
      const [run] = await ctx.subject().history('report', { limit: 5 })
      expect(run).toMatchObject({ trigger: 'manual', outcome: 'succeeded' })
    }, 20_000)

    it('records a failing handler as failed with its error', async () => {
      const s = ctx.options.scheduler(ctx.subject(), { instance: 'a' })
      try {
        s.schedule('fails', '* * * * * *', () => {
          throw new Error('disk full')
        })
        const rows = await eventually(
          async () => {
            const found = await s.history('fails', { outcome: 'failed' })
            return found.length > 0 ? found : null
          },
          { timeoutMs: 10_000 },
        )
        const [run] = rows ?? []
        expect(run?.error).toContain('disk full')
      } finally {
        await s.close()
      }
    }, 20_000)
  },
)
