// The local S3 POST endpoint against AWS's own worked example ("Example: Browser-Based Upload
// using HTTP POST (Using AWS Signature Version 4)", S3 API reference): AWS publishes the policy,
// its base64 form, the example credentials and the signature as a test suite for signing code.
// The endpoint must accept that form, and refuse each way of straying from its policy.
import { afterEach, describe, expect, it } from 'vitest'
import { postSignature, startS3PostServer, type LocalS3Post } from '@beaver-kit/testkit/s3-post-server'

const EXAMPLE_POLICY =
  'eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9'
const EXAMPLE_SIGNATURE = '8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e'
const EXAMPLE_KEYS = {
  accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
}
const REDIRECT = 'http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html'

/** The example's form fields, in the example's order (the file goes last). */
function exampleFields(): Record<string, string> {
  return {
    key: 'user/user1/${filename}',
    acl: 'public-read',
    success_action_redirect: REDIRECT,
    'Content-Type': 'image/jpeg',
    'x-amz-meta-uuid': '14365123651274',
    'x-amz-server-side-encryption': 'AES256',
    'X-Amz-Credential': 'AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Date': '20151229T000000Z',
    'x-amz-meta-tag': '',
    Policy: EXAMPLE_POLICY,
    'X-Amz-Signature': EXAMPLE_SIGNATURE,
  }
}

let server: LocalS3Post | undefined
afterEach(async () => {
  await server?.stop()
  server = undefined
})

async function exampleServer(at = '2015-12-29T12:00:00Z', region = 'us-east-1'): Promise<LocalS3Post> {
  server = await startS3PostServer({
    bucket: 'sigv4examplebucket',
    region,
    credentials: EXAMPLE_KEYS,
    now: () => new Date(at),
  })
  return server
}

async function post(
  to: LocalS3Post,
  fields: Record<string, string>,
  file: Buffer = Buffer.from('jpeg bytes'),
  filename = 'MyPhoto.jpg',
): Promise<{ status: number; code: string | undefined; message: string | undefined; location: string | null }> {
  const form = new FormData()
  for (const [name, value] of Object.entries(fields)) form.append(name, value)
  form.append('file', new Blob([file]), filename)
  const res = await fetch(`${to.endpoint}/${to.bucket}`, { method: 'POST', body: form, redirect: 'manual' })
  const text = await res.text()
  return {
    status: res.status,
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1],
    location: res.headers.get('location'),
  }
}

describe('local S3 POST endpoint: AWS published SigV4 example', () => {
  it('computes the signature AWS publishes for its example policy', () => {
    const signature = postSignature(EXAMPLE_KEYS.secretAccessKey, '20151229', 'us-east-1', EXAMPLE_POLICY)
    expect(signature).toBe(EXAMPLE_SIGNATURE)
  })

  it("accepts AWS's example form before the policy expires, with ${filename} expanded in the key", async () => {
    const s = await exampleServer()
    const out = await post(s, exampleFields())
    expect(out.status).toBe(303)
    const location = new URL(out.location!)
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT)
    expect(location.searchParams.get('key')).toBe('user/user1/MyPhoto.jpg')
    const stored = s.objects.get('user/user1/MyPhoto.jpg')
    expect(stored?.body.toString()).toBe('jpeg bytes')
    expect(stored?.contentType).toBe('image/jpeg')
    expect(stored?.metadata).toEqual({ uuid: '14365123651274', tag: '' })
  })

  it.each([
    ['an expired policy', {}, '2015-12-30T12:00:01Z', 403, 'AccessDenied', 'Policy expired'],
    ['another signature', { 'X-Amz-Signature': '0'.repeat(64) }, undefined, 403, 'SignatureDoesNotMatch', ''],
    ['a key outside the prefix', { key: 'user/user2/${filename}' }, undefined, 403, 'AccessDenied', '$key'],
    ['another Content-Type', { 'Content-Type': 'text/plain' }, undefined, 403, 'AccessDenied', 'Content-Type'],
    ['a list with one bad type', { 'Content-Type': 'image/jpg,text/plain' }, undefined, 403, 'AccessDenied', ''],
    ['another metadata value', { 'x-amz-meta-uuid': '1' }, undefined, 403, 'AccessDenied', 'x-amz-meta-uuid'],
    ['a field the policy does not name', { 'x-amz-meta-extra': 'x' }, undefined, 403, 'AccessDenied', 'Extra input'],
    ['another ACL', { acl: 'private' }, undefined, 403, 'AccessDenied', 'acl'],
    [
      'an unknown access key',
      { 'X-Amz-Credential': 'AKIANOTKNOWN/20151229/us-east-1/s3/aws4_request' },
      undefined,
      403,
      'InvalidAccessKeyId',
      '',
    ],
    ['no policy', { Policy: '' }, undefined, 403, 'SignatureDoesNotMatch', ''],
  ] as const)('refuses %s', async (_what, change, at, status, code, said) => {
    const s = await exampleServer(at)
    const fields: Record<string, string> = { ...exampleFields(), ...change }
    const out = await post(s, fields)
    expect(out).toMatchObject({ status, code })
    expect(out.message).toContain(said)
    expect(s.objects.size).toBe(0)
  })

  it('refuses the example in another region, and a form without its key or signing fields', async () => {
    expect(await post(await exampleServer(undefined, 'eu-west-1'), exampleFields())).toMatchObject({ status: 400 })
    await server?.stop()
    const s = await exampleServer()
    const { key: _key, ...withoutKey } = exampleFields()
    expect(await post(s, withoutKey)).toMatchObject({ status: 400, code: 'InvalidArgument' })
    const { 'X-Amz-Date': _date, ...withoutDate } = exampleFields()
    expect(await post(s, withoutDate)).toMatchObject({ status: 400, code: 'InvalidArgument' })
    expect(s.objects.size).toBe(0)
  })

  it('takes a list of types that all match, and ignores x-ignore- fields', async () => {
    const s = await exampleServer()
    const fields = { ...exampleFields(), 'Content-Type': 'image/jpg,image/png', 'x-ignore-flash': 'yes' }
    expect((await post(s, fields)).status).toBe(303)
  })
})

describe('local S3 POST endpoint: policies signed here', () => {
  const keys = { accessKeyId: 'TESTKEY', secretAccessKey: 'test-secret' }
  const at = new Date('2026-01-02T03:04:05Z')

  function signed(conditions: unknown[], extra: Record<string, string> = {}): Record<string, string> {
    const credential = `TESTKEY/20260102/us-east-1/s3/aws4_request`
    const fields = {
      key: 'a.txt',
      'x-amz-algorithm': 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': '20260102T030405Z',
      ...extra,
    }
    const policy = Buffer.from(
      JSON.stringify({
        expiration: '2026-01-02T04:00:00.000Z',
        conditions: [
          { bucket: 'b' },
          { key: 'a.txt' },
          { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
          { 'x-amz-credential': credential },
          { 'x-amz-date': '20260102T030405Z' },
          ...conditions,
        ],
      }),
    ).toString('base64')
    return {
      ...fields,
      policy,
      'x-amz-signature': postSignature(keys.secretAccessKey, '20260102', 'us-east-1', policy),
    }
  }

  async function start(): Promise<LocalS3Post> {
    server = await startS3PostServer({ bucket: 'b', credentials: keys, now: () => at })
    return server
  }

  it('holds the file to content-length-range, both ends included', async () => {
    const s = await start()
    const fields = signed([['content-length-range', 2, 5]])
    expect(await post(s, fields, Buffer.alloc(6))).toMatchObject({ status: 400, code: 'EntityTooLarge' })
    expect(await post(s, fields, Buffer.alloc(1))).toMatchObject({ status: 400, code: 'EntityTooSmall' })
    expect(s.objects.size).toBe(0)
    expect((await post(s, fields, Buffer.alloc(5))).status).toBe(204)
    expect((await post(s, fields, Buffer.alloc(2))).status).toBe(204)
  })

  it('answers 201 with the PostResponse when success_action_status asks, and reads field names in any case', async () => {
    const s = await start()
    const fields = signed([{ success_action_status: '201' }], { SUCCESS_ACTION_STATUS: '201' })
    const form = new FormData()
    for (const [name, value] of Object.entries(fields)) form.append(name, value)
    form.append('file', new Blob(['hi']), 'x')
    const res = await fetch(`${s.endpoint}/b`, { method: 'POST', body: form })
    expect(res.status).toBe(201)
    expect(await res.text()).toContain('<Key>a.txt</Key>')
  })

  it('refuses starts-with on a field S3 matches exactly only, and a policy that is not base64 JSON', async () => {
    const s = await start()
    expect(await post(s, signed([['starts-with', '$bucket', '']]))).toMatchObject({
      status: 400,
      code: 'InvalidPolicyDocument',
    })
    const fields = signed([])
    const policy = Buffer.from('{"expiration": 1}').toString('base64')
    const bad = {
      ...fields,
      policy,
      'x-amz-signature': postSignature(keys.secretAccessKey, '20260102', 'us-east-1', policy),
    }
    expect(await post(s, bad)).toMatchObject({ status: 400, code: 'InvalidPolicyDocument' })
  })
})
