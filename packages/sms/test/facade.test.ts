import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startTwilioFake, type TwilioFake } from '@beaver-kit/testkit/fakes/twilio'
import { startVonageFake, type VonageFake } from '@beaver-kit/testkit/fakes/vonage'
import {
  createSms,
  defineSmsDriver,
  driverError,
  initSms,
  isE164,
  registerSmsDriver,
  resetSms,
  segmentsOf,
  sms,
  smsDriverNames,
  toE164,
  withPrefix,
  type SmsDriver,
} from '@beaver-kit/sms'
import { createSmsFailover } from '@beaver-kit/sms/failover'
import { memoryDriver } from '@beaver-kit/sms/memory'

let twilio: TwilioFake
let vonage: VonageFake
beforeAll(async () => {
  ;[twilio, vonage] = await Promise.all([startTwilioFake(), startVonageFake()])
})
afterAll(() => Promise.all([twilio.stop(), vonage.stop()]))
afterEach(() => resetSms())

const msg = { to: '+14155550100', from: '+15005550006', body: 'hello' }

describe('numbers and segments', () => {
  it('accepts E.164 as people write it, refuses what it cannot know', () => {
    expect(toE164('+1 (415) 555-0100')).toBe('+14155550100')
    expect(toE164('+44.20.7946.0958')).toBe('+442079460958')
    expect(isE164('+0123')).toBe(false)
    for (const bad of ['4155550100', '+1234567890123456', '++1', '', 12345])
      expect(() => toE164(bad)).toThrow(expect.objectContaining({ code: 'SMS_MESSAGE_INVALID' }))
  })

  it('counts segments: 160/153 GSM-7 characters, 70/67 otherwise, escapes counting double', () => {
    expect(segmentsOf('a'.repeat(160))).toBe(1)
    expect(segmentsOf('a'.repeat(161))).toBe(2)
    expect(segmentsOf('€'.repeat(80))).toBe(1)
    expect(segmentsOf('€'.repeat(81))).toBe(2)
    expect(segmentsOf('ж'.repeat(70))).toBe(1)
    expect(segmentsOf('ж'.repeat(71))).toBe(2)
  })
})

describe('the SMS facade', () => {
  it('checks fields and names them', async () => {
    await using s = createSms({ envPrefix: false, driver: 'memory', maxLength: 10 })
    const field = async (m: Parameters<typeof s.send>[0]) =>
      ((await s.send(m).catch((e: unknown) => e)) as { details: { field: string } }).details.field
    expect(await field({ ...msg, body: '' })).toBe('body')
    expect(await field({ ...msg, body: 'x'.repeat(11) })).toBe('body')
    expect(await field({ ...msg, body: 'bell\x07' })).toBe('body')
    expect(await field({ ...msg, from: 'a sender id that is long' })).toBe('from')
    expect(await field({ ...msg, idempotencyKey: 'ü' })).toBe('idempotencyKey')
    expect(await field(null as never)).toBe('message')
    expect(s.sent()).toHaveLength(0)
    const ok = await s.send({ ...msg, from: 'Beaver' })
    expect(ok).toMatchObject({ driver: 'memory', to: '+14155550100', segments: 1, status: 'queued' })
  })

  it('defaults to log in development and refuses in production', async () => {
    const lines: string[] = []
    await using dev = createSms({ env: { NODE_ENV: 'test' }, log: { write: (l) => lines.push(l) } })
    expect(dev.driver).toBe('log')
    await dev.send(msg)
    expect(lines.join('')).toContain('to +14155550100: hello')
    await using prod = createSms({ env: { NODE_ENV: 'production' } })
    await expect(prod.send(msg)).rejects.toMatchObject({ code: 'SMS_DRIVER_MISSING' })
    await expect(prod.ready()).rejects.toMatchObject({ code: 'SMS_DRIVER_MISSING' })
  })

  it('memory: expectSent, clearSent, idempotency; sent() elsewhere says what it needs', async () => {
    await using s = createSms({ envPrefix: false, driver: 'memory' })
    const a = await s.send({ ...msg, idempotencyKey: 'otp-1' })
    const b = await s.send({ ...msg, idempotencyKey: 'otp-1' })
    expect(b.messageId).toBe(a.messageId)
    expect(s.expectSent({ to: '+14155550100', body: 'hell', from: '+15005550006' }).body).toBe('hello')
    expect(() => s.expectSent({ body: /bye/ })).toThrow(/No sent message matches/)
    s.clearSent()
    expect(s.sent()).toHaveLength(0)
    await using l = createSms({ envPrefix: false, driver: 'log', log: { write: () => {} } })
    await l.send(msg)
    expect(() => l.sent()).toThrow(expect.objectContaining({ code: 'SMS_UNSUPPORTED' }))
    expect(() => l.clearSent()).toThrow(expect.objectContaining({ code: 'SMS_UNSUPPORTED' }))
  })

  it('memory keeps the newest maxMessages, and still answers the kept idempotency keys', async () => {
    const driverInstance = await memoryDriver.create({ maxMessages: 3 }, {} as never)
    await using s = createSms({ envPrefix: false, driverInstance })
    for (let i = 0; i < 8; i++) await s.send({ ...msg, body: `n${i}`, idempotencyKey: `k-${i}` })
    expect(s.sent().map((m) => m.body)).toEqual(['n5', 'n6', 'n7'])
    const kept = s.sent()[0]?.messageId
    expect((await s.send({ ...msg, body: 'again', idempotencyKey: 'k-5' })).messageId).toBe(kept)
    expect(s.sent().map((m) => m.body)).toEqual(['n5', 'n6', 'n7'])
  })

  it('batches: per-message outcome, an abort skips the rest', async () => {
    await using s = createSms({ envPrefix: false, driver: 'memory' })
    const result = await s.sendBatch([msg, { ...msg, to: 'bad' }, { ...msg, to: '+14155550101' }])
    expect(result).toMatchObject({ sent: 2, failed: 1, skipped: 0 })
    expect(result.items[1]).toMatchObject({ status: 'failed', to: 'bad' })
    const stopped = await s.sendBatch([msg, msg], { signal: AbortSignal.abort() })
    expect(stopped.skipped).toBe(2)
  })

  it('registered drivers, retried when they do not retry themselves', async () => {
    let calls = 0
    registerSmsDriver(
      'flaky-sms',
      defineSmsDriver({
        name: 'flaky-sms',
        peers: [],
        create: () => ({
          name: 'flaky-sms',
          capabilities: { retries: false, idempotencyKeys: false },
          send: async () => {
            if (++calls < 3) throw driverError('flaky-sms', 'SMS_UNAVAILABLE', 'busy', { retryAfterMs: 1 })
            return { messageId: 'ok' }
          },
          close: async () => {},
        }),
      }),
    )
    expect(smsDriverNames()).toContain('flaky-sms')
    const retries: unknown[] = []
    const listen = (m: unknown) => retries.push(m)
    subscribe('beaver:sms:retry', listen)
    try {
      await using s = createSms({ envPrefix: false, driver: 'flaky-sms', retry: { baseDelay: 1, maxDelay: 2 } })
      expect(await s.send(msg)).toMatchObject({ messageId: 'ok', driver: 'flaky-sms' })
    } finally {
      unsubscribe('beaver:sms:retry', listen)
    }
    expect(calls).toBe(3)
    expect(retries).toHaveLength(2)
    await using unknown = createSms({ env: { BEAVER_SMS_DRIVER: 'twillio' } })
    await expect(unknown.send(msg)).rejects.toThrow(/did you mean "twilio"/)
  })

  it('the default instance, withPrefix and describe with secrets masked', async () => {
    expect(sms()).toBe(sms())
    expect(() => initSms()).toThrow(expect.objectContaining({ code: 'CORE_ALREADY_INITIALIZED' }))
    await using other = withPrefix('OTHER_', { twilio: { authToken: 'hunter2' } })
    const d = other.describe()
    expect(d.envPrefix).toBe('OTHER_')
    expect(JSON.stringify(d)).not.toContain('hunter2')
    expect(d.state).toMatchObject({ built: false, suppression: 'on' })
    const closed = createSms({ envPrefix: false, driver: 'memory' })
    await closed.close()
    await closed.close()
    await expect(closed.send(msg)).rejects.toMatchObject({ code: 'SMS_CLOSED' })
  })
})

describe('failover', () => {
  it('moves from a failing driver to the next, and rotates with round-robin', async () => {
    twilio.clear()
    vonage.clear()
    const env = {
      BEAVER_SMS_FAILOVER_DRIVERS: 'twilio,vonage',
      BEAVER_SMS_ROUND_ROBIN_DRIVERS: 'twilio,vonage',
      BEAVER_SMS_TWILIO_ACCOUNT_SID: twilio.accountSid,
      BEAVER_SMS_TWILIO_AUTH_TOKEN: twilio.authToken,
      BEAVER_SMS_TWILIO_BASE_URL: twilio.url,
      BEAVER_SMS_VONAGE_API_KEY: vonage.apiKey,
      BEAVER_SMS_VONAGE_API_SECRET: vonage.apiSecret,
      BEAVER_SMS_VONAGE_BASE_URL: vonage.url,
      BEAVER_SMS_RETRY_ATTEMPTS: '1',
    }
    await using failover = createSms({ env: { ...env, BEAVER_SMS_DRIVER: 'failover' } })
    twilio.script({ status: 503, body: { code: 20500, message: 'Internal Server Error', status: 503 } })
    expect((await failover.send(msg)).driver).toBe('vonage')
    expect((await failover.send(msg)).driver).toBe('twilio')
    twilio.script(twilio.error(400, 21211, "Invalid 'To' Phone Number"))
    await expect(failover.send(msg)).rejects.toMatchObject({ code: 'SMS_REJECTED' })
    await using rr = createSms({ env: { ...env, BEAVER_SMS_DRIVER: 'round-robin' } })
    const used = [(await rr.send(msg)).driver, (await rr.send(msg)).driver, (await rr.send(msg)).driver]
    expect(used).toEqual(['twilio', 'vonage', 'twilio'])
    await using empty = createSms({ envPrefix: false, driver: 'failover' })
    await expect(empty.send(msg)).rejects.toMatchObject({ code: 'SMS_OPTIONS_INVALID' })
  })

  it('takes built drivers, reports every failure when all fail, and closes them', async () => {
    const closed: string[] = []
    const down = (name: string): SmsDriver => ({
      name,
      capabilities: { retries: true, idempotencyKeys: false },
      send: async () => Promise.reject(driverError(name, 'SMS_UNAVAILABLE', 'down')),
      verify: async () => {},
      close: async () => void closed.push(name),
    })
    const set = createSmsFailover([down('a'), down('b')], { failures: 1 })
    await using s = createSms({ envPrefix: false, driverInstance: set })
    await s.ready()
    await expect(s.send(msg)).rejects.toMatchObject({ code: 'SMS_ALL_DRIVERS_FAILED' })
    expect(set.state().map((x) => x.state)).toEqual(['open', 'open'])
    await set.close()
    expect(closed.sort()).toEqual(['a', 'b'])
    expect(() => createSmsFailover([])).toThrow(expect.objectContaining({ code: 'SMS_OPTIONS_INVALID' }))
  })
})
