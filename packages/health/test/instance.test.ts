import { afterEach, describe, expect, it } from 'vitest'
import { createHealth, health, initHealth, resetHealth, withPrefix } from '@beaver-kit/health'

describe('the health instance surface', () => {
  afterEach(() => resetHealth())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = health()
    expect(health()).toBe(first)
    expect(() => initHealth()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_', { kit: false })
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createHealth({ envPrefix: false, kit: false }).describe()
    expect(d.package).toBe('health')
    expect(d.settings.map((s) => s.name)).toContain('HEALTH_DRAIN_DELAY')
  })

  it('names the variable of a bad setting and refuses bad or duplicate check names', async () => {
    expect(() => createHealth({ env: { BEAVER_HEALTH_FAILURE_THRESHOLD: '0' } })).toThrow(
      /BEAVER_HEALTH_FAILURE_THRESHOLD/,
    )
    await using h = createHealth({ envPrefix: false, kit: false })
    h.register('db', async () => undefined)
    expect(() => h.register('db', async () => undefined)).toThrow(
      expect.objectContaining({ code: 'HEALTH_CHECK_DUPLICATE' }),
    )
    expect(() => h.register('bad name', async () => undefined)).toThrow(TypeError)
    await h.close()
    await h.close()
    await expect(h.ready()).rejects.toMatchObject({ code: 'HEALTH_CLOSED' })
    expect(() => h.register('late', async () => undefined)).toThrow(expect.objectContaining({ code: 'HEALTH_CLOSED' }))
  })
})
