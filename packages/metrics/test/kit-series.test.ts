// The kit's own counter and histogram cells: what the registry renders from them, children
// that survive a reset, and prom-client's refusals kept.
import client from 'prom-client'
import { describe, expect, it } from 'vitest'
import { KitCounter, KitHistogram } from '../src/kit-series.ts'

async function render(...metrics: Array<KitCounter | KitHistogram>): Promise<string[]> {
  const registry = new client.Registry()
  for (const m of metrics) registry.registerMetric(m as unknown as client.Metric)
  return (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#'))
}

describe('kit series', () => {
  it('renders a histogram as prom-client would: cumulative buckets, +Inf, sum and count', async () => {
    const h = new KitHistogram('op_seconds', 'Ops', ['op'], [1, 0.01, 0.1])
    const fast = h.labels({ op: 'get' })
    fast.observe(0.005)
    fast.observe(0.01)
    fast.observe(0.5)
    h.observe({ op: 'set' }, 2)
    const twin = new client.Histogram({
      name: 'op_seconds',
      help: 'Ops',
      labelNames: ['op'],
      buckets: [0.01, 0.1, 1],
      registers: [],
    })
    for (const v of [0.005, 0.01, 0.5]) twin.observe({ op: 'get' }, v)
    twin.observe({ op: 'set' }, 2)
    const registry = new client.Registry()
    registry.registerMetric(twin)
    expect(await render(h)).toEqual(
      (await registry.metrics()).split('\n').filter((l) => l !== '' && !l.startsWith('#')),
    )
    expect(await render(h)).toContain('op_seconds_bucket{le="0.01",op="get"} 2')
  })

  it('uses prom-client’s default buckets when none are given, and takes a value without labels', async () => {
    const h = new KitHistogram('plain_seconds', 'Plain', [], undefined)
    h.observe(0.3)
    const lines = await render(h)
    expect(lines.filter((l) => l.startsWith('plain_seconds_bucket'))).toHaveLength(12)
    expect(lines).toContain('plain_seconds_bucket{le="0.5"} 1')
    expect(lines).toContain('plain_seconds_sum 0.3')
  })

  it('counts through bound children, and a child keeps counting after reset', async () => {
    const c = new KitCounter('reads_total', 'Reads', ['result'])
    const hit = c.labels({ result: 'hit' })
    hit.inc()
    hit.inc(2)
    c.inc({ result: 'miss' })
    c.inc(4)
    expect(await render(c)).toEqual(['reads_total{result="hit"} 3', 'reads_total{result="miss"} 1', 'reads_total 4'])
    c.reset()
    expect(await render(c)).toEqual([])
    hit.inc()
    expect(await render(c)).toEqual(['reads_total{result="hit"} 1'])
    const h = new KitHistogram('t_seconds', 'T', ['op'], [1])
    const child = h.labels({ op: 'a' })
    child.observe(0.5)
    h.reset()
    child.observe(2)
    expect(await render(h)).toEqual([
      't_seconds_bucket{le="1",op="a"} 0',
      't_seconds_bucket{le="+Inf",op="a"} 1',
      't_seconds_sum{op="a"} 2',
      't_seconds_count{op="a"} 1',
    ])
  })

  it('refuses what prom-client refuses: unknown labels, a negative count, a value that is not a number', () => {
    const c = new KitCounter('x_total', 'X', ['a'])
    expect(() => c.inc({ b: '1' } as never)).toThrow('"b" is not included')
    expect(() => c.inc({ a: '1' }, -1)).toThrow('not possible to decrease')
    expect(() => c.inc({ a: '1' }, Number.NaN)).toThrow('not a valid number')
    const h = new KitHistogram('y_seconds', 'Y', ['a'], [1])
    expect(() => h.observe({ a: '1' }, Number.POSITIVE_INFINITY)).toThrow('not a valid number')
  })

  it('reports its aggregator for cluster mode (sum unless told)', async () => {
    expect((await new KitCounter('s_total', 'S', []).get()).aggregator).toBe('sum')
    expect((await new KitHistogram('m_seconds', 'M', [], [1], 'max').get()).aggregator).toBe('max')
  })
})
