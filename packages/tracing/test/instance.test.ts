import { afterEach, describe, expect, it } from 'vitest'
import { createTracing, tracing, initTracing, resetTracing, withPrefix } from '@beaver-kit/tracing'

describe('the tracing instance surface', () => {
  afterEach(() => resetTracing())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = tracing()
    expect(tracing()).toBe(first)
    expect(() => initTracing()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createTracing({ envPrefix: false }).describe()
    expect(d.package).toBe('tracing')
    expect(d.settings.map((s) => s.name)).toContain('TRACING_DRIVER')
  })
})
