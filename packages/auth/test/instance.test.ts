import { afterEach, describe, expect, it } from 'vitest'
import { createAuth, auth, initAuth, resetAuth, withPrefix } from '@beaver-kit/auth'

describe('the auth instance surface', () => {
  afterEach(() => resetAuth())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = auth()
    expect(auth()).toBe(first)
    expect(() => initAuth()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createAuth({ envPrefix: false }).describe()
    expect(d.package).toBe('auth')
    expect(d.settings.map((s) => s.name)).toContain('AUTH_STORE')
  })
})
