import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSnsPublisher, svixSecret, svixSigned, type SnsPublisher } from '@beaver-kit/testkit/fakes/webhook-signers'
import {
  checkTimestamp,
  headerValue,
  isAwsSnsUrl,
  parseSnsMessage,
  safeEqual,
  snsStringToSign,
  verifyHmac,
  verifySnsMessage,
  verifySvix,
  type SnsMessage,
} from '@beaver-kit/delivery'

describe('signature helpers', () => {
  it('reads headers case-insensitively, first of repeated', () => {
    expect(headerValue({ 'X-Thing': 'a' }, 'x-thing')).toBe('a')
    expect(headerValue({ 'x-list': ['1', '2'] }, 'X-LIST')).toBe('1')
    expect(headerValue({}, 'missing')).toBeUndefined()
  })

  it('compares in constant time, and checks HMACs in hex and base64', () => {
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
    const hex = createHmac('sha256', 'k').update('p').digest('hex')
    expect(
      verifyHmac({ algorithm: 'sha256', key: 'k', payload: 'p', signature: hex.toUpperCase(), encoding: 'hex' }).ok,
    ).toBe(true)
    const b64 = createHmac('sha1', 'k').update('p').digest('base64')
    expect(verifyHmac({ algorithm: 'sha1', key: 'k', payload: 'p', signature: b64, encoding: 'base64' }).ok).toBe(true)
    expect(verifyHmac({ algorithm: 'sha1', key: 'k', payload: 'p', signature: undefined, encoding: 'base64' })).toEqual(
      { ok: false, reason: 'the signature is missing' },
    )
    expect(verifyHmac({ algorithm: 'sha1', key: 'x', payload: 'p', signature: b64, encoding: 'base64' }).ok).toBe(false)
  })

  it('checks timestamps both ways', () => {
    const now = 1_700_000_000_000
    expect(checkTimestamp(now / 1000 - 10, 300, now).ok).toBe(true)
    expect(checkTimestamp(now / 1000 + 400, 300, now).ok).toBe(false)
    expect(checkTimestamp(Number.NaN, 300, now).ok).toBe(false)
  })

  it('verifies Svix signatures: any v1 of several, webhook-* header names, the secret with or without whsec_', () => {
    const secret = svixSecret()
    const signed = svixSigned(secret, { hello: 'world' })
    expect(verifySvix({ secret, headers: signed.headers, body: signed.body }).ok).toBe(true)
    expect(verifySvix({ secret: secret.slice(6), headers: signed.headers, body: signed.body }).ok).toBe(true)
    const several = { ...signed.headers, 'svix-signature': `v1,bogus v2,x ${signed.headers['svix-signature']}` }
    expect(verifySvix({ secret, headers: several, body: signed.body }).ok).toBe(true)
    const standard = {
      'webhook-id': signed.headers['svix-id'] as string,
      'webhook-timestamp': signed.headers['svix-timestamp'] as string,
      'webhook-signature': signed.headers['svix-signature'] as string,
    }
    expect(verifySvix({ secret, headers: standard, body: signed.body }).ok).toBe(true)
    expect(verifySvix({ secret, headers: {}, body: signed.body }).ok).toBe(false)
    expect(verifySvix({ secret, headers: signed.headers, body: Buffer.from('{}') })).toEqual({
      ok: false,
      reason: 'no v1 signature matches',
    })
  })
})

describe('sns', () => {
  let sns: SnsPublisher
  beforeAll(async () => {
    sns = await startSnsPublisher()
  })
  afterAll(() => sns.stop())
  const topic = 'arn:aws:sns:eu-west-1:111122223333:t'

  it('accepts only https sns.<region>.amazonaws.com URLs by default', () => {
    expect(isAwsSnsUrl(new URL('https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem'))).toBe(true)
    expect(isAwsSnsUrl(new URL('https://sns.cn-north-1.amazonaws.com.cn/x.pem'))).toBe(true)
    expect(isAwsSnsUrl(new URL('http://sns.eu-west-1.amazonaws.com/x.pem'))).toBe(false)
    expect(isAwsSnsUrl(new URL('https://sns.eu-west-1.amazonaws.com.evil.example/x.pem'))).toBe(false)
  })

  it('parses only SNS messages', () => {
    expect(parseSnsMessage('not json')).toBeUndefined()
    expect(parseSnsMessage('[]')).toBeUndefined()
    expect(parseSnsMessage('{"Type":"Other"}')).toBeUndefined()
    const good = JSON.parse(sns.notification(topic, 'x').body.toString()) as Record<string, unknown>
    expect(parseSnsMessage(JSON.stringify({ ...good, SignatureVersion: '3' }))).toBeUndefined()
    expect(parseSnsMessage(JSON.stringify(good))?.TopicArn).toBe(topic)
  })

  it('verifies versions 1 and 2, and refuses what it cannot trust', async () => {
    const trust = { trustCertificateUrl: (u: URL) => sns.trust(u) }
    for (const version of ['1', '2'] as const) {
      const m = parseSnsMessage(sns.notification(topic, { a: 1 }, { version, subject: 'S' }).body) as SnsMessage
      expect(snsStringToSign(m)).toContain('Subject\nS\n')
      expect(await verifySnsMessage(m, { ...trust, topicArns: [topic] })).toEqual({ ok: true })
    }
    const m = parseSnsMessage(sns.notification(topic, 'x').body) as SnsMessage
    expect((await verifySnsMessage({ ...m, SigningCertURL: 'not a url' }, trust)).ok).toBe(false)
    expect((await verifySnsMessage({ ...m, SigningCertURL: `${sns.url}/cert.txt` }, trust)).ok).toBe(false)
    expect((await verifySnsMessage({ ...m, Timestamp: 'yesterday' }, trust)).ok).toBe(false)
    expect(await verifySnsMessage({ ...m, SigningCertURL: `${sns.url}/missing.pem` }, trust)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('404'),
    })
    const notPem = await verifySnsMessage(
      { ...m, SigningCertURL: `${sns.url}/other.pem` },
      { ...trust, fetchCertificate: async () => 'garbage' },
    )
    expect(notPem).toEqual({ ok: false, reason: 'the signing certificate is not a PEM certificate' })
    const sub = parseSnsMessage(sns.subscription(topic).body) as SnsMessage
    expect(snsStringToSign(sub)).toContain('SubscribeURL\n')
    expect(await verifySnsMessage(sub, trust)).toEqual({ ok: true })
  })
})
