import { createHash, createSign, generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startGcsServer, type LocalGcs } from '../src/gcs-server.ts'
import { verifySignedRequest } from '../src/gcs-server/signed-urls.ts'

let gcs: LocalGcs
let api: string
beforeAll(async () => {
  gcs = await startGcsServer({ buckets: ['b'] })
  api = gcs.apiEndpoint
})
afterAll(() => gcs?.stop())

const o = (name: string): string => `${api}/storage/v1/b/b/o/${encodeURIComponent(name)}`
async function media(name: string, body: string, type = 'text/plain'): Promise<Record<string, unknown>> {
  const res = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=media&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    body,
    headers: { 'content-type': type },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as Record<string, unknown>
}

describe('local GCS JSON API server', () => {
  it('stores media uploads and answers the object resource with size, md5 and crc32c', async () => {
    const resource = await media('m/a.txt', 'hello')
    expect(resource).toMatchObject({
      kind: 'storage#object',
      name: 'm/a.txt',
      bucket: 'b',
      size: '5',
      contentType: 'text/plain',
      md5Hash: createHash('md5').update('hello').digest('base64'),
      crc32c: 'mnG7TA==',
    })
    const read = await fetch(`${o('m/a.txt')}?alt=media`, { headers: { range: 'bytes=1-3' } })
    expect(read.status).toBe(206)
    expect(read.headers.get('content-range')).toBe('bytes 1-3/5')
    expect(await read.text()).toBe('ell')
    expect((await fetch(`${o('m/a.txt')}?alt=media`, { headers: { range: 'bytes=9-' } })).status).toBe(416)
  })

  it("answers errors in Google's JSON shape", async () => {
    const res = await fetch(o('missing'))
    expect(res.status).toBe(404)
    expect(await res.json()).toMatchObject({
      error: { code: 404, errors: [{ domain: 'global', reason: 'notFound' }] },
    })
    expect((await fetch(`${api}/storage/v1/b/nope`)).status).toBe(404)
    const bad = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=nonsense&name=x`, { method: 'POST' })
    expect(bad.status).toBe(400)
    const missingName = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=media`, { method: 'POST', body: 'x' })
    expect(((await missingName.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]?.reason).toBe(
      'required',
    )
    const notJson = await fetch(`${o('m/a.txt')}`, { method: 'PATCH', body: '{nope' })
    expect(notJson.status).toBe(400)
  })

  it('runs resumable sessions: 308 with Range while incomplete, status query, 256 KiB rule, cancel with 499', async () => {
    const start = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=resumable&name=r.bin`, {
      method: 'POST',
      body: JSON.stringify({ metadata: { k: 'v' } }),
      headers: { 'content-type': 'application/json', 'x-upload-content-type': 'application/x-r' },
    })
    const session = start.headers.get('location')!
    const empty = await fetch(session, { method: 'PUT', headers: { 'content-range': 'bytes */*' } })
    expect(empty.status).toBe(308)
    expect(empty.headers.get('range')).toBeNull()
    const odd = await fetch(session, {
      method: 'PUT',
      body: Buffer.alloc(1000),
      headers: { 'content-range': 'bytes 0-999/*' },
    })
    expect(odd.status).toBe(400)
    const chunk = Buffer.alloc(256 * 1024, 1)
    const first = await fetch(session, {
      method: 'PUT',
      body: chunk,
      headers: { 'content-range': `bytes 0-${chunk.length - 1}/*` },
    })
    expect(first.status).toBe(308)
    expect(first.headers.get('range')).toBe(`bytes=0-${chunk.length - 1}`)
    const gap = await fetch(session, {
      method: 'PUT',
      body: 'x',
      headers: { 'content-range': `bytes 999999-999999/1000000` },
    })
    expect(gap.status).toBe(400)
    const last = await fetch(session, {
      method: 'PUT',
      body: 'end',
      headers: { 'content-range': `bytes ${chunk.length}-${chunk.length + 2}/${chunk.length + 3}` },
    })
    expect(await last.json()).toMatchObject({
      size: String(chunk.length + 3),
      contentType: 'application/x-r',
      metadata: { k: 'v' },
    })
    expect((await fetch(session, { method: 'PUT', body: 'again' })).status).toBe(404)
    const other = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=resumable&name=c.bin`, { method: 'POST' })
    const cancel = await fetch(other.headers.get('location')!, { method: 'DELETE' })
    expect(cancel.status).toBe(499)
    expect(gcs.openSessions()).toBe(0)
    expect(gcs.objects('b').has('c.bin')).toBe(false)
  })

  it('takes multipart/related uploads: the resource part, then the media', async () => {
    const boundary = 'beaver'
    const body = [
      `--${boundary}\r\ncontent-type: application/json\r\n\r\n${JSON.stringify({ name: 'mp.txt', cacheControl: 'no-store' })}\r\n`,
      `--${boundary}\r\ncontent-type: text/x-mp\r\n\r\nmultipart body\r\n`,
      `--${boundary}--\r\n`,
    ].join('')
    const res = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=multipart`, {
      method: 'POST',
      body,
      headers: { 'content-type': `multipart/related; boundary=${boundary}` },
    })
    expect(await res.json()).toMatchObject({
      name: 'mp.txt',
      contentType: 'text/x-mp',
      cacheControl: 'no-store',
      size: '14',
    })
    const one = await fetch(`${api}/upload/storage/v1/b/b/o?uploadType=multipart&name=x`, {
      method: 'POST',
      body: `--${boundary}\r\n\r\n{}\r\n--${boundary}--`,
      headers: { 'content-type': `multipart/related; boundary=${boundary}` },
    })
    expect(one.status).toBe(400)
  })

  it('lists with prefix, delimiter, maxResults and pageToken in byte order', async () => {
    for (const n of ['l/a', 'l/b', 'l/sub/c', 'l/sub/d', 'lx']) await media(n, n)
    const page = async (q: string) =>
      (await (await fetch(`${api}/storage/v1/b/b/o?${q}`)).json()) as {
        items?: { name: string }[]
        prefixes?: string[]
        nextPageToken?: string
      }
    const first = await page('prefix=l/&delimiter=/&maxResults=2')
    expect(first.items?.map((i) => i.name)).toEqual(['l/a', 'l/b'])
    const second = await page(`prefix=l/&delimiter=/&maxResults=2&pageToken=${first.nextPageToken}`)
    expect(second).toMatchObject({ prefixes: ['l/sub/'] })
    expect(second.nextPageToken).toBeUndefined()
    expect((await page('prefix=l&startOffset=l/b&endOffset=lx')).items?.map((i) => i.name)).toEqual([
      'l/b',
      'l/sub/c',
      'l/sub/d',
    ])
  })

  it('patches metadata (null removes), composes, copies and rewrites, and checks preconditions', async () => {
    await media('p/one', 'one-')
    await media('p/two', 'two')
    const patched = await fetch(o('p/one'), {
      method: 'PATCH',
      body: JSON.stringify({ metadata: { a: '1', b: '2' }, cacheControl: 'max-age=1' }),
    })
    expect(await patched.json()).toMatchObject({ metageneration: '2', metadata: { a: '1', b: '2' } })
    const removed = await fetch(o('p/one'), {
      method: 'PATCH',
      body: JSON.stringify({ metadata: { a: null }, cacheControl: null }),
    })
    const after = (await removed.json()) as Record<string, unknown>
    expect(after.metadata).toEqual({ b: '2' })
    expect(after.cacheControl).toBeUndefined()
    const composed = await fetch(`${o('p/both')}/compose`, {
      method: 'POST',
      body: JSON.stringify({
        sourceObjects: [{ name: 'p/one' }, { name: 'p/two' }],
        destination: { contentType: 'text/x-c' },
      }),
    })
    expect(await composed.json()).toMatchObject({ size: '7', contentType: 'text/x-c' })
    expect((await fetch(`${o('p/x')}/compose`, { method: 'POST', body: '{}' })).status).toBe(400)
    const copied = await fetch(`${o('p/one')}/copyTo/b/b/o/${encodeURIComponent('p/copy')}`, { method: 'POST' })
    expect(await copied.json()).toMatchObject({ name: 'p/copy', metadata: { b: '2' } })
    const rewritten = await fetch(`${o('p/one')}/rewriteTo/b/b/o/${encodeURIComponent('p/re')}`, {
      method: 'POST',
      body: JSON.stringify({ contentType: 'text/x-new' }),
    })
    expect(await rewritten.json()).toMatchObject({
      done: true,
      objectSize: '4',
      resource: { contentType: 'text/x-new' },
    })
    expect((await fetch(`${o('p/one')}?ifGenerationMatch=1`, { method: 'DELETE' })).status).toBe(412)
    expect((await fetch(`${o('p/one')}?ifMetagenerationMatch=3`)).status).toBe(200)
    expect((await fetch(`${o('p/one')}?ifGenerationNotMatch=0`)).status).toBe(200)
    expect((await fetch(o('p/one'), { method: 'DELETE' })).status).toBe(204)
    expect((await fetch(o('p/two'), { method: 'POST' })).status).toBe(405)
  })

  it('checks V4 signatures: algorithm, account, expiry, scope and the signature itself', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const keys = new Map([['sa@x', publicKey]])
    const date = '20261206T030000Z'
    const now = Date.UTC(2026, 11, 6, 3, 1)
    const query = (extra: Record<string, string> = {}): URLSearchParams =>
      new URLSearchParams({
        'X-Goog-Algorithm': 'GOOG4-RSA-SHA256',
        'X-Goog-Credential': 'sa@x/20261206/auto/storage/goog4_request',
        'X-Goog-Date': date,
        'X-Goog-Expires': '120',
        'X-Goog-SignedHeaders': 'host',
        ...extra,
      })
    const canonical = [
      'GET',
      '/b/o',
      query().toString().split('&').sort().join('&'),
      'host:h\n',
      'host',
      'UNSIGNED-PAYLOAD',
    ].join('\n')
    const toSign = [
      'GOOG4-RSA-SHA256',
      date,
      '20261206/auto/storage/goog4_request',
      createHash('sha256').update(canonical).digest('hex'),
    ].join('\n')
    const signature = createSign('RSA-SHA256').update(toSign).sign(privateKey, 'hex')
    const check = (q: URLSearchParams, at = now): string | undefined => {
      try {
        verifySignedRequest('GET', '/b/o', q.toString(), { host: 'h:1234' }, keys, at)
        return undefined
      } catch (err) {
        return (err as { reason: string }).reason
      }
    }
    expect(check(query({ 'X-Goog-Signature': signature }))).toBeUndefined()
    expect(check(query({ 'X-Goog-Signature': signature }), now + 10 * 60_000)).toBe('ExpiredToken')
    expect(check(query({ 'X-Goog-Signature': signature }), now - 10 * 60_000)).toBe('AccessDenied')
    expect(check(query({ 'X-Goog-Signature': signature.replace(/^../, '00') }))).toBe('SignatureDoesNotMatch')
    expect(check(query({ 'X-Goog-Algorithm': 'GOOG4-HMAC-SHA256' }))).toBe('SignatureDoesNotMatch')
    expect(check(query({ 'X-Goog-Credential': 'other@x/20261206/auto/storage/goog4_request' }))).toBe('AccessDenied')
    expect(check(query({ 'X-Goog-Expires': '0' }))).toBe('AuthenticationRequired')
    expect(check(query({ 'X-Goog-Credential': 'sa@x/20260101/auto/storage/goog4_request' }))).toBe(
      'SignatureDoesNotMatch',
    )
    expect(check(query({ 'X-Goog-SignedHeaders': 'content-type', 'X-Goog-Signature': signature }))).toBe(
      'SignatureDoesNotMatch',
    )
  })

  it('serves only signed requests on XML API paths', async () => {
    const res = await fetch(`${api}/b/m/a.txt`)
    expect(res.status).toBe(403)
    expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>')
  })
})
