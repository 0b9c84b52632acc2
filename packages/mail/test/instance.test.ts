import { afterEach, describe, expect, it } from 'vitest'
import { createMailer, mailer, initMailer, resetMailer, withPrefix } from '@beaver-kit/mail'

describe('the mailer instance surface', () => {
  afterEach(() => resetMailer())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = mailer()
    expect(mailer()).toBe(first)
    expect(() => initMailer()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createMailer({ envPrefix: false }).describe()
    expect(d.package).toBe('mail')
    expect(d.settings.map((s) => s.name)).toContain('MAIL_DRIVER')
  })
})
