import { afterEach, describe, expect, it } from 'vitest'
import { createSms, sms, initSms, resetSms, withPrefix } from '@beaver-kit/sms'

describe('the sms instance surface', () => {
  afterEach(() => resetSms())

  it('builds the default lazily and refuses init once it exists', async () => {
    const first = sms()
    expect(sms()).toBe(first)
    expect(() => initSms()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await first.ready()
  })

  it('reads another env prefix with withPrefix and describes its settings', async () => {
    await using other = withPrefix('OTHER_')
    expect(other.describe().envPrefix).toBe('OTHER_')
    const d = createSms({ envPrefix: false }).describe()
    expect(d.package).toBe('sms')
    expect(d.settings.map((s) => s.name)).toContain('SMS_DRIVER')
  })
})
