import { afterEach, describe, expect, it } from 'vitest'
import dc from 'node:diagnostics_channel'
import { createMetrics, isMetricsError, type Metrics } from '@beaver-kit/metrics'

let m: Metrics
const make = (options: Parameters<typeof createMetrics>[0] = {}): Metrics =>
  (m = createMetrics({ envPrefix: false, runtime: false, kit: false, ...options }))
afterEach(() => m?.close())

describe('custom metrics', () => {
  it('counts, gauges, observes and summarises with typed labels', async () => {
    make()
    const orders = m.counter({ name: 'orders_total', help: 'Orders placed', labelNames: ['channel'] })
    orders.inc({ channel: 'web' })
    orders.inc({ channel: 'web' }, 2)
    orders.labels({ channel: 'app' }).inc()
    const queue = m.gauge({ name: 'queue_depth', help: 'Jobs waiting', labelNames: ['queue'] })
    queue.set({ queue: 'mail' }, 5)
    queue.inc({ queue: 'mail' })
    queue.dec({ queue: 'mail' }, 3)
    queue.labels({ queue: 'sms' }).set(7)
    const plain = m.gauge({ name: 'temperature', help: 'Degrees' })
    plain.set(21)
    plain.inc()
    const latency = m.histogram({ name: 'work_seconds', help: 'Work', labelNames: ['kind'], buckets: [0.1, 1] })
    latency.observe({ kind: 'a' }, 0.05)
    latency.labels({ kind: 'a' }).observe(0.5)
    const stop = latency.startTimer({ kind: 'b' })
    expect(stop()).toBeGreaterThanOrEqual(0)
    const sizes = m.summary({ name: 'payload_bytes', help: 'Sizes', percentiles: [0.5] })
    sizes.observe(10)
    sizes.observe(30)
    const text = await m.render()
    expect(text).toContain('orders_total{channel="web"} 3')
    expect(text).toContain('orders_total{channel="app"} 1')
    expect(text).toContain('queue_depth{queue="mail"} 3')
    expect(text).toContain('queue_depth{queue="sms"} 7')
    expect(text).toContain('temperature 22')
    expect(text).toContain('work_seconds_bucket{le="0.1",kind="a"} 1')
    expect(text).toContain('work_seconds_bucket{le="1",kind="a"} 2')
    expect(text).toContain('work_seconds_count{kind="b"} 1')
    expect(text).toContain('payload_bytes_count 2')
    orders.reset()
    expect(await m.render()).not.toContain('orders_total{')
  })

  it('returns the same metric for the same declaration and refuses a conflicting one', () => {
    make()
    const a = m.counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] })
    expect(m.counter({ name: 'jobs_total', help: 'Jobs', labelNames: ['queue'] })).toBe(a)
    const conflict = (() => {
      try {
        m.gauge({ name: 'jobs_total', help: 'Jobs' })
      } catch (error) {
        return error
      }
    })()
    expect(isMetricsError(conflict, 'METRICS_METRIC_CONFLICT')).toBe(true)
    expect(() => m.counter({ name: 'bad name', help: 'x' })).toThrow(
      expect.objectContaining({ code: 'METRICS_METRIC_INVALID', message: expect.stringContaining('bad name') }),
    )
  })
})

describe('label values', () => {
  it('takes numbers, leaves a missing label empty, and times with start and end labels', async () => {
    make({ maxLabelValues: 1 })
    const c = m.counter({ name: 'codes_total', help: 'Codes', labelNames: ['code', 'kind'] })
    c.inc({ code: 200 })
    c.inc({ code: 200, kind: undefined })
    c.inc({ code: 500 })
    const g = m.gauge({ name: 'level', help: 'Level', labelNames: ['kind'] })
    g.dec()
    g.labels({ kind: 'a' }).inc(2)
    const h = m.histogram({ name: 'step_seconds', help: 'Steps', labelNames: ['step', 'result'] })
    h.startTimer({ step: 'load' })({ result: 'ok' })
    h.startTimer()({ step: 'save' })
    const s = m.summary({ name: 'sizes', help: 'Sizes', labelNames: ['kind'] })
    s.labels({ kind: 'a' }).observe(1)
    s.startTimer({ kind: 'a' })()
    const text = await m.render()
    expect(text).toContain('codes_total{code="200"} 2')
    expect(text).toContain('codes_total{code="other"} 1')
    expect(text).toContain('level -1')
    expect(text).toContain('level{kind="a"} 2')
    expect(text).toContain('step_seconds_count{step="load",result="ok"} 1')
    expect(text).toContain('step_seconds_count{step="other"} 1')
    expect(text).toContain('sizes_count{kind="a"} 2')
  })
})

describe('the cardinality guard', () => {
  it('keeps 100,000 distinct attacker-chosen values to the cap, records the rest as "other" and counts them', async () => {
    make({ maxLabelValues: 50 })
    const announced: unknown[] = []
    const listener = (message: unknown): void => void announced.push(message)
    dc.subscribe('beaver:metrics:labelOverflow', listener)
    try {
      const requests = m.counter({ name: 'requests_total', help: 'Requests', labelNames: ['path', 'method'] })
      const latency = m.histogram({ name: 'latency_seconds', help: 'Latency', labelNames: ['path'] })
      for (let i = 0; i < 100_000; i++) {
        requests.inc({ path: `/u/${i}`, method: 'GET' })
        latency.labels({ path: `/u/${i}` }).observe(0.01)
      }
      const json = await m.registry.getMetricsAsJSON()
      const series = (name: string) => json.find((x) => x.name === name)?.values ?? []
      expect(series('requests_total')).toHaveLength(51)
      const other = series('requests_total').find((v) => v.labels.path === 'other')
      expect(other?.value).toBe(100_000 - 50)
      expect(
        series('latency_seconds').filter((v) => (v as { metricName?: string }).metricName === 'latency_seconds_count'),
      ).toHaveLength(51)
      const overflow = series('beaver_metrics_label_overflow_total')
      expect(overflow.find((v) => v.labels.metric === 'requests_total')?.value).toBe(100_000 - 50)
      expect(overflow.find((v) => v.labels.metric === 'latency_seconds')?.value).toBe(100_000 - 50)
      expect(announced).toEqual([
        { metric: 'requests_total', label: 'path', max: 50 },
        { metric: 'latency_seconds', label: 'path', max: 50 },
      ])
    } finally {
      dc.unsubscribe('beaver:metrics:labelOverflow', listener)
    }
  })
})

describe('OpenMetrics with exemplars', () => {
  it('serves the OpenMetrics content type and leaves exemplars out without an active span', async () => {
    make({ format: 'openmetrics' })
    m.histogram({ name: 'op_seconds', help: 'Ops', labelNames: ['op'] }).observe({ op: 'a' }, 0.2)
    expect(m.contentType).toContain('application/openmetrics-text')
    const text = await m.render()
    expect(text).toContain('op_seconds_count{op="a"} 1')
    expect(text.trimEnd().endsWith('# EOF')).toBe(true)
  })
})
