import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { harness, pageServer, shorten, type Harness } from './helpers.ts'

let pages: Awaited<ReturnType<typeof pageServer>>
beforeAll(async () => {
  pages = await pageServer()
})
afterAll(() => pages.close())

describe('Beaver Links: links', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('shortens a link, redirects through the cache, counts hits and stores the page title', async () => {
    h = await harness({ titleAllow: ['127.0.0.1'] })
    const { status, body: link } = await shorten(h.app, `${pages.url}/titled`)
    expect(status).toBe(201)
    expect(link.shortUrl).toBe(`${h.app.url}/${link.code}`)
    for (let i = 0; i < 3; i++) {
      const res = await fetch(link.shortUrl as string, { redirect: 'manual' })
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(`${pages.url}/titled`)
    }
    // The first redirect loaded the link from the database; the next two were cache hits.
    expect(h.deps.cache.namespace('links').stats().hits).toBe(2)
    await h.app.idle()
    const info = (await (await fetch(`${h.app.url}/links/${link.code}`)).json()) as { title: string; hits: number }
    expect(info).toMatchObject({ title: 'Beavers & Dams', hits: 3 })
  })

  it('deletes only through the signed URL, for the DELETE method, and the link is gone from the cache too', async () => {
    h = await harness({ fetchTitles: false })
    const { body } = await shorten(h.app, `${pages.url}/titled`)
    const { code, deleteUrl } = body as { code: string; deleteUrl: string }
    expect((await fetch(`${h.app.url}/${code}`, { redirect: 'manual' })).status).toBe(302) // now cached
    const forged = deleteUrl.replace(/sig=[^&]+/, 'sig=AAAA')
    expect((await fetch(forged, { method: 'DELETE' })).status).toBe(403)
    // Neither the signed URL nor a signed-in owner: sign in first.
    expect((await fetch(`${h.app.url}/links/${code}`, { method: 'DELETE' })).status).toBe(401)
    expect((await fetch(deleteUrl, { method: 'DELETE' })).status).toBe(200)
    expect((await fetch(`${h.app.url}/${code}`, { redirect: 'manual' })).status).toBe(404)
    expect((await fetch(deleteUrl, { method: 'DELETE' })).status).toBe(404)
  })

  it('logs each request with its request id in context, including the background work it started', async () => {
    h = await harness({ titleAllow: ['127.0.0.1'] })
    const res = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      headers: { 'x-request-id': 'req-42' },
      body: JSON.stringify({ url: `${pages.url}/titled` }),
    })
    expect(res.headers.get('x-request-id')).toBe('req-42')
    await h.app.idle()
    const { lines } = h
    await eventually(() => expect(lines.some((l) => l.msg === 'page title stored')).toBe(true))
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({ requestId: 'req-42', status: 201, method: 'POST' })
    expect(lines.find((l) => l.msg === 'link created')).toMatchObject({
      requestId: 'req-42',
      host: new URL(pages.url).host,
    })
    expect(lines.find((l) => l.msg === 'page title stored')).toMatchObject({ requestId: 'req-42', job: 'title' })
  })

  it('never logs the capability in a signed delete URL, nor a link target beyond its host', async () => {
    h = await harness({ fetchTitles: false })
    const { body } = await shorten(h.app, 'https://example.org/reset?token=s3cr3t')
    expect((await fetch(body.deleteUrl as string, { method: 'DELETE' })).status).toBe(200)
    const text = JSON.stringify(h.lines)
    expect(text).toContain('"msg":"link deleted"')
    expect(h.lines.filter((l) => l.msg === 'request').map((l) => l.path)).toEqual(['/links', `/links/${body.code}`])
    expect(text).not.toContain('sig=')
    expect(text).not.toContain(new URL(body.deleteUrl as string).searchParams.get('sig'))
    expect(text).not.toContain('s3cr3t')
  })

  it('answers an unknown code with 404, and bad bodies with 400 naming the problem', async () => {
    h = await harness({ fetchTitles: false })
    expect((await fetch(`${h.app.url}/doesnotexist`, { redirect: 'manual' })).status).toBe(404)
    expect((await fetch(`${h.app.url}/links/doesnotexist`)).status).toBe(404)
    const notJson = await fetch(`${h.app.url}/links`, { method: 'POST', body: 'nope' })
    expect([notJson.status, await notJson.json()]).toEqual([400, { error: 'body must be JSON' }])
    const big = await fetch(`${h.app.url}/links`, { method: 'POST', body: JSON.stringify({ url: 'x'.repeat(20_000) }) })
    expect([big.status, await big.json()]).toEqual([413, { error: 'body over 16 KiB' }])
  })
})
