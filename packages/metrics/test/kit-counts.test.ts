import dc from 'node:diagnostics_channel'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { uniqueNamespace } from '@beaver-kit/testkit'
import { createMetrics, type Metrics } from '@beaver-kit/metrics'

// Counts come from the instances themselves (read when scraped) and are exact at any rate;
// durations are timed for at most `timedPerSecond` operations per second and operation, and the
// hot channels go back to having no subscriber once that budget is spent. The once-a-second
// refill runs on a fake setInterval, stepped by hand: nothing here waits on the clock.

const opened: Metrics[] = []
function open(options: Parameters<typeof createMetrics>[0] = {}): Metrics {
  const m = createMetrics({ envPrefix: false, runtime: false, ...options })
  opened.push(m)
  return m
}
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
})
afterEach(async () => {
  for (const m of opened.splice(0)) await m.close()
  vi.useRealTimers()
})

async function sample(m: Metrics, series: string): Promise<number | undefined> {
  const line = (await m.render()).split('\n').find((l) => l.startsWith(`${series} `))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}
const observed = (name: string): boolean => dc.tracingChannel(name).hasSubscribers

describe('kit counts read from the instances when scraped', () => {
  it('counts every cache read and write exactly while timing only the budget', async () => {
    const m = open({ timedPerSecond: 5 })
    const namespace = uniqueNamespace('counts')
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace })
    await cache.set('a', 1)
    await cache.set('b', 2)
    for (let i = 0; i < 1000; i++) await cache.get(i % 5 < 3 ? 'a' : 'nope')
    cache.getSync('b')
    await cache.getMany(['a', 'b', 'c'])
    await cache.delete('a')
    const series = (name: string, extra: string): string => `${name}{driver="memory",namespace="${namespace}",${extra}}`
    expect(await sample(m, series('beaver_cache_requests_total', 'result="hit"'))).toBe(600 + 1 + 2)
    expect(await sample(m, series('beaver_cache_requests_total', 'result="miss"'))).toBe(400 + 1)
    expect(await sample(m, series('beaver_cache_writes_total', 'operation="set"'))).toBe(2)
    expect(await sample(m, series('beaver_cache_writes_total', 'operation="delete"'))).toBe(1)
    const gets = `beaver_cache_operation_duration_seconds_count{operation="get",driver="memory",namespace="${namespace}",outcome="ok"}`
    expect(await sample(m, gets)).toBe(5)
    // The budget is spent: a read is back on its unobserved path.
    expect(observed('beaver:cache:get')).toBe(false)
    vi.advanceTimersByTime(1000)
    expect(observed('beaver:cache:get')).toBe(true)
    for (let i = 0; i < 20; i++) await cache.get('b')
    expect(await sample(m, gets)).toBe(10)
    expect(await sample(m, series('beaver_cache_requests_total', 'result="hit"'))).toBe(603 + 20)
  })

  it('counts every statement and failure exactly while timing only the budget', async () => {
    const m = open({ timedPerSecond: 3 })
    await using db = createDatabase({ envPrefix: false, url: 'sqlite::memory:' })
    await db.exec('create table notes (id integer primary key, body text)')
    const ok = 'beaver_database_queries_total{driver="sqlite",dialect="sqlite",outcome="ok"}'
    const failed = 'beaver_database_queries_total{driver="sqlite",dialect="sqlite",outcome="error"}'
    const okBefore = (await sample(m, ok)) ?? 0
    const failedBefore = (await sample(m, failed)) ?? 0
    for (let i = 0; i < 500; i++) await db.execute('insert into notes (body) values (?)', [`n${i}`])
    for (let i = 0; i < 500; i++) await db.query('select body from notes where id = ?', [i + 1])
    for (let i = 0; i < 7; i++) await expect(db.query('select * from missing_table')).rejects.toThrow()
    await db.transaction(async (tx) => {
      await tx.query('select 1')
      await tx.query('select 2')
    })
    let streamed = 0
    for await (const _row of db.stream('select id from notes', [], { batchSize: 100 })) streamed++
    expect(streamed).toBe(500)
    // 1,000 statements, the transaction's two selects (its BEGIN and COMMIT are the driver's, as on
    // the channel) and the stream.
    expect((await sample(m, ok)) ?? 0).toBe(okBefore + 1000 + 2 + 1)
    expect((await sample(m, failed)) ?? 0).toBe(failedBefore + 7)
    const text = await m.render()
    const timed = [...text.matchAll(/^beaver_database_query_duration_seconds_count\{[^}]*\} (\d+)$/gm)]
    expect(timed.reduce((n, [, v]) => n + Number(v), 0)).toBe(3)
    expect(observed('beaver:database:query')).toBe(false)
  })

  it('keeps the counts of a closed cache, sums caches of one namespace, and bounds namespaces', async () => {
    const m = open({ maxLabelValues: 3 })
    const namespace = uniqueNamespace('shared')
    const first = createCache({ envPrefix: false, driver: 'memory', namespace })
    const second = createCache({ envPrefix: false, driver: 'memory', namespace })
    await first.set('k', 1)
    await second.set('k', 1)
    await first.get('k')
    await second.get('k')
    await second.get('k')
    const hits = `beaver_cache_requests_total{driver="memory",namespace="${namespace}",result="hit"}`
    expect(await sample(m, hits)).toBe(3)
    await first.close()
    expect(await sample(m, hits)).toBe(3)
    await second.close()
    expect(await sample(m, hits)).toBe(3)

    // Two more namespaces reach the cap of three (with the one above); the rest are `other`.
    const many = Array.from({ length: 6 }, () =>
      createCache({ envPrefix: false, driver: 'memory', namespace: uniqueNamespace('many') }),
    )
    for (const c of many) await c.get('missing')
    const text = await m.render()
    const misses = [...text.matchAll(/^beaver_cache_requests_total\{([^}]*)result="miss"\} (\d+)$/gm)]
    expect(
      misses.map(([, labels]) => String(labels).match(/namespace="([^"]*)"/)?.[1]).filter((n) => n !== namespace),
    ).toEqual([expect.stringMatching(/^many/), expect.stringMatching(/^many/), 'other'])
    expect(misses.reduce((n, [, , v]) => n + Number(v), 0)).toBe(6)
    expect(
      await sample(m, `beaver_metrics_label_overflow_total{metric="beaver_cache_requests_total",label="namespace"}`),
    ).toBe(1)
    for (const c of many) await c.close()
  })

  it('counts the entries a full memory cache evicted', async () => {
    const m = open()
    const namespace = uniqueNamespace('evict')
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace, memory: { maxItems: 2 } })
    for (let i = 0; i < 5; i++) await cache.set(`k${i}`, i)
    expect(await sample(m, `beaver_cache_evictions_total{driver="memory",namespace="${namespace}"}`)).toBe(3)
  })

  it('with timedPerSecond 0 never subscribes to a hot channel, and still counts', async () => {
    const m = open({ timedPerSecond: 0 })
    const namespace = uniqueNamespace('untimed')
    await using cache = createCache({ envPrefix: false, driver: 'memory', namespace })
    expect(observed('beaver:cache:get')).toBe(false)
    expect(observed('beaver:database:query')).toBe(false)
    await cache.get('x')
    expect(await sample(m, `beaver_cache_requests_total{driver="memory",namespace="${namespace}",result="miss"}`)).toBe(
      1,
    )
    expect(await m.render()).not.toMatch(/^beaver_cache_operation_duration_seconds_count/m)
  })
})
