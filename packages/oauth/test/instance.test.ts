import { afterEach, describe, expect, it } from 'vitest'
import { createOAuth, oauth, initOAuth, resetOAuth, withPrefix } from '@beaver-kit/oauth'

describe('the oauth instance surface', () => {
  afterEach(() => resetOAuth())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = oauth()
    expect(oauth()).toBe(first)
    expect(() => initOAuth()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createOAuth({ envPrefix: false }).describe()
    expect(d.package).toBe('oauth')
    expect(d.settings.map((s) => s.name)).toContain('OAUTH_STATE_TTL')
  })
})
