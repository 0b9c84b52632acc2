// The provider stand-ins refuse what the real APIs refuse, with the documented status and error
// shape: a transport tested against a fake that accepts anything would prove nothing about
// its error handling.
import { afterEach, describe, expect, it } from 'vitest'
import { startHttpFake, type HttpFake } from '@beaver-kit/testkit/fakes/http-fake'
import { startMailgunFake } from '@beaver-kit/testkit/fakes/mailgun'
import { startResendFake } from '@beaver-kit/testkit/fakes/resend'
import { startSendgridFake } from '@beaver-kit/testkit/fakes/sendgrid'
import { startSlackFake } from '@beaver-kit/testkit/fakes/slack'
import { startSnsFake } from '@beaver-kit/testkit/fakes/sns'

const started: HttpFake[] = []
afterEach(async () => {
  await Promise.all(started.splice(0).map((f) => f.stop()))
})
async function track<T extends HttpFake>(fake: Promise<T>): Promise<T> {
  const f = await fake
  started.push(f)
  return f
}

async function post(
  url: string,
  body: string | FormData | URLSearchParams,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers })
  return { status: res.status, text: await res.text() }
}
const json = (value: unknown): string => JSON.stringify(value)

describe('http fake', () => {
  it('answers 500 naming the failure when its route throws, and records the request', async () => {
    const fake = await track(
      startHttpFake(() => {
        throw new Error('route broke')
      }),
    )
    const res = await post(`${fake.url}/x?a=1`, 'body')
    expect(res).toEqual({ status: 500, text: 'fake failed: route broke' })
    expect(fake.requests).toHaveLength(1)
    expect(fake.requests[0]?.query.get('a')).toBe('1')
    expect(fake.requests[0]?.body.toString()).toBe('body')
  })

  it('sends scripted answers first, with their headers, then the route; clear() forgets both', async () => {
    const fake = await track(startHttpFake(() => ({ status: 204 })))
    fake.script({ status: 429, body: 'slow down', headers: { 'retry-after': '3' } }, { status: 503 })
    const first = await fetch(fake.url, { method: 'POST', body: 'a' })
    expect([first.status, first.headers.get('retry-after'), await first.text()]).toEqual([429, '3', 'slow down'])
    expect((await fetch(fake.url)).status).toBe(503)
    expect((await fetch(fake.url)).status).toBe(204)
    fake.script({ status: 500 })
    fake.clear()
    expect(fake.requests).toHaveLength(0)
    expect((await fetch(fake.url)).status).toBe(204)
  })
})

describe('SendGrid fake', () => {
  it('refuses a wrong path, a bad key and each invalid body with SendGrid’s status and field', async () => {
    const fake = await track(startSendgridFake('SG.k'))
    const send = `${fake.url}/v3/mail/send`
    const auth = { authorization: 'Bearer SG.k', 'content-type': 'application/json' }
    const person = { email: 'a@example.com' }
    const valid = {
      personalizations: [{ to: [person] }],
      from: person,
      subject: 's',
      content: [{ type: 'text/plain', value: 't' }],
    }
    expect((await post(`${fake.url}/v3/other`, '{}', auth)).status).toBe(404)
    expect((await post(send, json(valid), { authorization: 'Bearer nope' })).status).toBe(401)
    const field = async (body: unknown): Promise<[number, unknown]> => {
      const res = await post(send, typeof body === 'string' ? body : json(body), auth)
      const parsed = JSON.parse(res.text) as { errors: Array<{ field: unknown }> }
      return [res.status, parsed.errors[0]?.field]
    }
    expect(await field('not json')).toEqual([400, null])
    expect(await field({ ...valid, personalizations: [{ to: [] }] })).toEqual([400, 'personalizations.0.to'])
    expect(await field({ ...valid, from: undefined })).toEqual([400, 'from'])
    expect(await field({ ...valid, subject: '' })).toEqual([400, 'subject'])
    expect(await field({ ...valid, content: [] })).toEqual([400, 'content'])
    expect(
      await field({
        ...valid,
        content: [
          { type: 'text/html', value: '<p>h</p>' },
          { type: 'text/plain', value: 't' },
        ],
      }),
    ).toEqual([400, 'content'])
    expect(await field({ ...valid, categories: Array.from({ length: 11 }, (_, i) => `c${i}`) })).toEqual([
      400,
      'categories',
    ])
    expect(await field({ ...valid, personalizations: [{ to: [person], cc: [] }] })).toEqual([400, 'personalizations'])
    expect(fake.received()).toEqual([])
    const ok = await post(send, json({ ...valid, reply_to: person, headers: { 'X-A': '1' } }), auth)
    expect(ok.status).toBe(202)
    expect(fake.received()[0]).toMatchObject({ replyTo: ['a@example.com'], headers: { 'x-a': '1' }, cc: [], bcc: [] })
  })
})

describe('Mailgun fake', () => {
  it('refuses a wrong path, a bad key, an unknown domain and each missing field', async () => {
    const fake = await track(startMailgunFake('key-1', 'mg.example.com'))
    const auth = { authorization: `Basic ${Buffer.from('api:key-1').toString('base64')}` }
    const form = (fields: Record<string, string | string[]>): FormData => {
      const f = new FormData()
      for (const [k, v] of Object.entries(fields)) for (const item of [v].flat()) f.append(k, item)
      return f
    }
    const valid = { from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' }
    const send = `${fake.url}/v3/mg.example.com/messages`
    expect((await post(`${fake.url}/v3/x`, form(valid), auth)).status).toBe(404)
    expect(await post(send, form(valid), { authorization: 'Basic bm9wZQ==' })).toEqual({
      status: 401,
      text: 'Forbidden',
    })
    const other = await post(`${fake.url}/v3/other.example.com/messages`, form(valid), auth)
    expect([other.status, other.text]).toEqual([404, json({ message: 'Domain not found: other.example.com' })])
    const refused = async (fields: Record<string, string | string[]>): Promise<[number, string]> => {
      const res = await post(send, form(fields), auth)
      return [res.status, (JSON.parse(res.text) as { message: string }).message]
    }
    expect(await refused({ ...valid, to: [] })).toEqual([400, "'to' parameter is missing"])
    const { from: _from, ...noFrom } = valid
    expect(await refused(noFrom)).toEqual([400, "'from' parameter is missing"])
    const { text: _text, ...noBody } = valid
    expect(await refused(noBody)).toEqual([400, "Need at least one of 'text' or 'html' parameters specified"])
    expect(await refused({ ...valid, 'o:tag': ['a', 'b', 'c', 'd'] })).toEqual([400, 'Too many tags: 3 max'])
    expect(fake.received()).toEqual([])
  })
})

describe('Resend fake', () => {
  it('refuses a wrong path, a missing or wrong key, bad JSON, missing fields and bad tags; replays idempotent sends', async () => {
    const fake = await track(startResendFake('re_k'))
    const send = `${fake.url}/emails`
    const auth = { authorization: 'Bearer re_k', 'content-type': 'application/json' }
    const valid = { from: 'a@example.com', to: ['b@example.com'], subject: 's', text: 't' }
    const name = async (url: string, body: string, headers: Record<string, string>): Promise<[number, string]> => {
      const res = await post(url, body, headers)
      return [res.status, (JSON.parse(res.text) as { name: string }).name]
    }
    expect(await name(`${fake.url}/domains`, json(valid), auth)).toEqual([404, 'not_found'])
    expect(await name(send, json(valid), {})).toEqual([401, 'missing_api_key'])
    expect(await name(send, json(valid), { authorization: 'Bearer x' })).toEqual([403, 'invalid_api_key'])
    expect(await name(send, '{', auth)).toEqual([422, 'validation_error'])
    expect(await name(send, json({ ...valid, subject: '' }), auth)).toEqual([422, 'missing_required_field'])
    expect(await name(send, json({ ...valid, tags: [{ name: 'a b', value: 'x' }] }), auth)).toEqual([
      422,
      'validation_error',
    ])
    const idem = { ...auth, 'idempotency-key': 'k1' }
    const first = await post(send, json(valid), idem)
    const again = await post(send, json(valid), idem)
    expect(first.status).toBe(200)
    expect(again).toEqual(first)
    expect(await name(send, json({ ...valid, subject: 'other' }), idem)).toEqual([409, 'invalid_idempotent_request'])
    expect(fake.received()).toHaveLength(1)
  })
})

describe('Slack fake', () => {
  it('answers no_service, invalid_payload and no_text as Slack does, and ok for text or blocks', async () => {
    const fake = await track(startSlackFake())
    expect(await post(`${fake.url}/services/x`, '{}')).toEqual({ status: 404, text: 'no_service' })
    expect(await post(fake.webhookUrl, 'nope')).toEqual({ status: 400, text: 'invalid_payload' })
    expect(await post(fake.webhookUrl, json({ blocks: [] }))).toEqual({ status: 400, text: 'no_text' })
    expect(await post(fake.webhookUrl, json({ blocks: [{ type: 'divider' }] }))).toEqual({ status: 200, text: 'ok' })
    expect(await post(fake.webhookUrl, json({ text: 'hi' }))).toEqual({ status: 200, text: 'ok' })
    expect(fake.posted).toHaveLength(2)
  })
})

describe('SNS fake', () => {
  it('refuses an unknown access key, an unknown action, a bad number and an empty message', async () => {
    const fake = await track(startSnsFake('AKID1'))
    const signed = { authorization: 'AWS4-HMAC-SHA256 Credential=AKID1/20260101/us-east-1/sns/aws4_request' }
    const code = async (params: Record<string, string>, headers = signed): Promise<[number, string]> => {
      const res = await post(fake.url, new URLSearchParams(params), headers)
      return [res.status, /<Code>([^<]+)<\/Code>/.exec(res.text)?.[1] ?? res.text]
    }
    const publish = { Action: 'Publish', PhoneNumber: '+14155550100', Message: 'hi' }
    expect(
      await code(publish, { authorization: 'AWS4-HMAC-SHA256 Credential=OTHER/20260101/us-east-1/sns/aws4_request' }),
    ).toEqual([403, 'InvalidClientTokenId'])
    expect(await code({ Action: 'DeleteTopic' })).toEqual([400, 'InvalidAction'])
    expect(await code({ ...publish, PhoneNumber: '0415' })).toEqual([400, 'InvalidParameter'])
    expect(await code({ ...publish, Message: '' })).toEqual([400, 'InvalidParameter'])
    const attrs = await post(fake.url, new URLSearchParams({ Action: 'GetSMSAttributes' }), signed)
    expect(attrs.text).toContain('<GetSMSAttributesResult><attributes/></GetSMSAttributesResult>')
    expect(fake.received()).toEqual([])
    expect(fake.snsError(500, 'InternalError', 'a < b').body).toContain('<Type>Receiver</Type>')
    expect(fake.snsError(500, 'InternalError', 'a < b').body).toContain('a &lt; b')
  })
})
