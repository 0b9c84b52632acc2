import { afterEach, describe, expect, it } from 'vitest'
import { createMetrics, metrics, initMetrics, resetMetrics, withPrefix } from '@beaver-kit/metrics'

describe('the metrics instance surface', () => {
  afterEach(() => resetMetrics())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = metrics()
    expect(metrics()).toBe(first)
    expect(() => initMetrics()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_', { runtime: false, kit: false })
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createMetrics({ envPrefix: false, runtime: false, kit: false }).describe()
    expect(d.package).toBe('metrics')
    expect(d.settings.map((s) => s.name)).toContain('METRICS_MAX_LABEL_VALUES')
  })

  it('names the variable and the accepted values of a bad setting', () => {
    expect(() => createMetrics({ env: { BEAVER_METRICS_FORMAT: 'json' } })).toThrow(
      /BEAVER_METRICS_FORMAT[\s\S]*prometheus, openmetrics/,
    )
    expect(() => createMetrics({ env: { BEAVER_METRICS_LABELS: '{"bad-name":"x"}' } })).toThrow(/BEAVER_METRICS_LABELS/)
  })

  it('refuses to render or declare once closed, and closes twice', async () => {
    const m = createMetrics({ runtime: false, kit: false })
    await m.close()
    await m.close()
    await expect(m.render()).rejects.toMatchObject({ code: 'METRICS_CLOSED' })
    await expect(m.ready()).rejects.toMatchObject({ code: 'METRICS_CLOSED' })
    expect(() => m.counter({ name: 'x_total', help: 'x' })).toThrow(expect.objectContaining({ code: 'METRICS_CLOSED' }))
  })

  it('in cluster mode outside a cluster (a primary without workers) renders its own registry', async () => {
    await using m = createMetrics({ envPrefix: false, runtime: false, kit: false, cluster: true })
    m.counter({ name: 'solo_total', help: 'Solo' }).inc()
    expect(await m.render()).toContain('solo_total 1')
  })

  it('collects runtime metrics with the prefix and adds the default labels to every series', async () => {
    await using m = createMetrics({ prefix: 'app_', labels: { service: 'api' }, kit: false })
    m.counter({ name: 'hits_total', help: 'Hits' }).inc()
    const text = await m.render()
    expect(text).toMatch(/^app_nodejs_eventloop_lag_seconds\{service="api"\} /m)
    expect(text).toMatch(/^app_process_cpu_user_seconds_total\{service="api"\} /m)
    expect(text).toMatch(/^app_hits_total\{service="api"\} 1$/m)
  })
})
