// The SMS driver conformance suite: every @beaver-kit/sms driver runs all of it against its
// local server (the Twilio, SNS and Vonage API stand-ins), reading back what the server
// received. The sender is typed structurally so the testkit does not depend on the package.
import { beforeEach, expect, it } from 'vitest'
import { isBeaverError } from '@beaver-kit/core'
import { defineConformanceSuite } from './conformance.ts'

/** A message as a provider received it. */
export interface ReceivedSms {
  readonly to: string
  readonly from: string | undefined
  readonly body: string
}

export interface ConformanceSms {
  send(message: {
    to: string
    body: string
    from?: string
  }): Promise<{ messageId: string; to: string; segments: number }>
  sendBatch(messages: ReadonlyArray<{ to: string; body: string }>): Promise<{ sent: number; failed: number }>
  close(): Promise<void>
}

export interface SmsConformanceOptions {
  received(): Promise<readonly ReceivedSms[]> | readonly ReceivedSms[]
  reset(): void | Promise<void>
  failNextTemporarily?: (() => void) | undefined
  rejectNext?: (() => void) | undefined
  withBadCredentials?: (() => ConformanceSms) | undefined
  skipReason?: string | undefined
}

/**
 * Runs every SMS driver case against a sender built by `factory`.
 * @example describeSmsDriver('twilio', () => createSms({ driver: 'twilio', twilio }), { received, reset })
 */
export const describeSmsDriver = defineConformanceSuite<ConformanceSms, SmsConformanceOptions>('sms', (ctx) => {
  const o = ctx.options
  beforeEach(async () => {
    await o.reset()
  })

  it('sends a message and answers the provider id', async () => {
    const result = await ctx.subject().send({ to: '+14155550100', from: '+15005550006', body: 'Your code is 123456' })
    expect(result.messageId).toMatch(/\S/)
    expect(result.to).toBe('+14155550100')
    expect(result.segments).toBe(1)
    expect(await o.received()).toEqual([{ to: '+14155550100', from: '+15005550006', body: 'Your code is 123456' }])
  })

  it('normalizes a written number to E.164 and carries non-GSM text intact', async () => {
    const result = await ctx
      .subject()
      .send({ to: '+44 (20) 7946-0958', from: '+15005550006', body: 'Grüße 👋 — ваш код 42' })
    expect(result.to).toBe('+442079460958')
    expect(result.segments).toBe(1)
    const [got] = await o.received()
    expect(got?.to).toBe('+442079460958')
    expect(got?.body).toBe('Grüße 👋 — ваш код 42')
  })

  it('refuses a number that is not E.164, naming the field, before sending', async () => {
    const error = await ctx
      .subject()
      .send({ to: '4155550100', from: '+15005550006', body: 'x' })
      .catch((e: unknown) => e)
    expect(isBeaverError(error, 'SMS_MESSAGE_INVALID')).toBe(true)
    expect((error as { details: { field: string } }).details.field).toBe('to')
    expect(await o.received()).toHaveLength(0)
  })

  it('sends a batch, each message once', async () => {
    const batch = await ctx
      .subject()
      .sendBatch(Array.from({ length: 4 }, (_, i) => ({ to: `+1415555010${i}`, from: '+15005550006', body: `n${i}` })))
    expect(batch).toMatchObject({ sent: 4, failed: 0 })
    expect((await o.received()).map((m) => m.to).sort()).toEqual([
      '+14155550100',
      '+14155550101',
      '+14155550102',
      '+14155550103',
    ])
  })

  it('retries a temporary failure and sends the message once', async (t) => {
    if (!o.failNextTemporarily) return t.skip(o.skipReason ?? 'the server cannot script a temporary failure')
    o.failNextTemporarily()
    await ctx.subject().send({ to: '+14155550100', from: '+15005550006', body: 'retried' })
    expect((await o.received()).map((m) => m.body)).toEqual(['retried'])
  })

  it('does not retry a message the provider refuses for good', async (t) => {
    if (!o.rejectNext) return t.skip(o.skipReason ?? 'the server cannot script a rejection')
    o.rejectNext()
    const error = await ctx
      .subject()
      .send({ to: '+14155550100', from: '+15005550006', body: 'refused' })
      .catch((e: unknown) => e)
    expect(isBeaverError(error, 'SMS_REJECTED')).toBe(true)
    await ctx.subject().send({ to: '+14155550100', from: '+15005550006', body: 'after' })
    expect((await o.received()).map((m) => m.body)).toEqual(['after'])
  })

  it('reports refused credentials as SMS_AUTH', async (t) => {
    if (!o.withBadCredentials) return t.skip(o.skipReason ?? 'the server checks no credentials')
    const bad = o.withBadCredentials()
    try {
      const error = await bad.send({ to: '+14155550100', from: '+15005550006', body: 'x' }).catch((e: unknown) => e)
      expect(isBeaverError(error, 'SMS_AUTH')).toBe(true)
    } finally {
      await bad.close()
    }
    expect(await o.received()).toHaveLength(0)
  })
})
