import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { eventually } from '@beaver-kit/testkit'
import { computeStats, DAILY_STATS, PURGE, type JobsReport } from '../src/jobs.ts'
import { harness, shorten, type Harness } from './helpers.ts'

const DAY_MS = 86_400_000

async function report(h: Harness): Promise<JobsReport> {
  const res = await fetch(`${h.app.url}/jobs`)
  expect(res.status).toBe(200)
  return (await res.json()) as JobsReport
}

describe('Beaver Links: scheduled jobs', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('lists both schedules on the demo database with their next runs and no history yet', async () => {
    h = await harness({ fetchTitles: false })
    const before = Date.now()
    const r = await report(h)
    expect(r.store).toBe('sqlite')
    expect(r.stats).toBeNull()
    expect(r.purged).toBeNull()
    expect(r.schedules.map((s) => s.name).sort()).toEqual([DAILY_STATS, PURGE].sort())
    const purge = r.schedules.find((s) => s.name === PURGE)
    const daily = r.schedules.find((s) => s.name === DAILY_STATS)
    // every 5 minutes on wall-clock slots; the daily one at 03:00 UTC
    const nextPurge = Date.parse(purge?.next[0] as string)
    expect(nextPurge % 300_000).toBe(0)
    expect(nextPurge).toBeGreaterThan(before)
    expect(nextPurge - before).toBeLessThanOrEqual(300_000)
    expect(daily?.next.map((d) => d.slice(10))).toEqual(['T03:00:00.000Z', 'T03:00:00.000Z'])
    expect(Date.parse(daily?.next[1] as string) - Date.parse(daily?.next[0] as string)).toBe(DAY_MS)
    expect(purge?.history).toEqual([])
  })

  it('purges the expired not-found entries the memory cache still holds when the purge runs', async () => {
    // The cache's clock, moved by hand: the not-found entries expire when the test says.
    let now = Date.now()
    const cache = createCache({ driver: 'memory', envPrefix: false, memory: { now: () => now } })
    h = await harness({ fetchTitles: false, notFoundTtl: '200ms' }, { cache })
    // Unknown codes are remembered as not found for notFoundTtl.
    for (const code of ['nosuch01', 'nosuch02']) expect((await fetch(`${h.app.url}/${code}`)).status).toBe(404)
    now += 1_000
    await h.app.jobs.scheduler.trigger(PURGE)
    const run = await eventually(
      async () => (await report(h as Harness)).schedules.find((s) => s.name === PURGE)?.history[0] ?? false,
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    expect(run).toMatchObject({ schedule: PURGE, trigger: 'manual', outcome: 'succeeded' })
    const r = await report(h)
    expect(r.purged).toBe(2)
  })

  it('computes a day of link statistics, and the daily job runs and is recorded', async () => {
    h = await harness({ fetchTitles: false })
    const a = (await shorten(h.app, 'https://example.org/a')).body as { code: string }
    await shorten(h.app, 'https://example.org/b')
    for (let i = 0; i < 3; i++) await fetch(`${h.app.url}/${a.code}`, { redirect: 'manual' })
    await h.app.idle()
    // The statistics of today, as the run at tomorrow's 03:00 computes them.
    const today = new Date().toISOString().slice(0, 10)
    const stats = await computeStats(h.deps.db, Date.now() + DAY_MS)
    expect(stats).toMatchObject({ day: today, links: 2, hits: 3, created: 2 })
    // Computing again rewrites the day's row instead of adding one.
    await computeStats(h.deps.db, Date.now() + DAY_MS)
    expect((await report(h)).stats).toMatchObject({ day: today, links: 2, hits: 3, created: 2 })

    await h.app.jobs.scheduler.trigger(DAILY_STATS)
    const run = await eventually(
      async () => (await report(h as Harness)).schedules.find((s) => s.name === DAILY_STATS)?.history[0] ?? false,
      { timeoutMs: 10_000, intervalMs: 100 },
    )
    expect(run).toMatchObject({ schedule: DAILY_STATS, trigger: 'manual', outcome: 'succeeded' })
    // A manual run now computes yesterday, when none of these links existed yet.
    const yesterday = new Date(Date.now() - DAY_MS).toISOString().slice(0, 10)
    const rows = await h.deps.db.many<{ day: string; links: number }>('SELECT day, links FROM link_stats ORDER BY day')
    expect(rows.map((r) => [r.day, Number(r.links)])).toEqual([
      [yesterday, 0],
      [today, 2],
    ])
  })
})
