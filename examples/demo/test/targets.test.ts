import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { normalizeTarget } from '../src/targets.ts'
import { harness, shorten, type Harness } from './helpers.ts'

describe('link targets', () => {
  it.each([
    ['https://bücher.example/straße', 'https://xn--bcher-kva.example/stra%C3%9Fe'],
    ['https://example.org/a b?q=c d', 'https://example.org/a%20b?q=c%20d'],
    ['https://example.org/🦫', 'https://example.org/%F0%9F%A6%AB'],
    ['  HTTPS://Example.ORG:443/x/../y  ', 'https://example.org/y'],
  ])('stores %j as %j', (input, stored) => {
    expect(normalizeTarget(input)).toEqual({ ok: true, url: stored })
  })

  it.each([
    [undefined, 'body must be {"url": "https://..."}'],
    ['', 'body must be {"url": "https://..."}'],
    ['ftp://example.org/file', 'url must be http or https, not ftp'],
    ['javascript:alert(1)', 'url must be http or https, not javascript'],
    ['/relative/path', 'url is not an absolute URL'],
    ['https://exa\nmple.org/', 'url contains control characters'],
    ['https://example.org/\u0000', 'url contains control characters'],
    ['https://user:pw@example.org/', 'url must not carry a user name or password'],
    ['https://google.com@evil.example/', 'url must not carry a user name or password'],
    [`https://example.org/${'x'.repeat(2100)}`, 'url is longer than 2048 characters'],
    [`https://example.org/${'é'.repeat(1000)}`, 'url is longer than 2048 characters once normalized'],
  ])('refuses %j: %s', (input, reason) => {
    expect(normalizeTarget(input)).toEqual({ ok: false, reason })
  })

  describe('through the API', () => {
    let h: Harness
    beforeAll(async () => {
      h = await harness({ fetchTitles: false })
    })
    afterAll(() => h.close())

    it('stores the normalized form and redirects to it with a valid Location', async () => {
      const { status, body } = await shorten(h.app, 'https://bücher.example/a b/🦫')
      expect(status).toBe(201)
      expect(body.url).toBe('https://xn--bcher-kva.example/a%20b/%F0%9F%A6%AB')
      const res = await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })
      expect([res.status, res.headers.get('location')]).toEqual([302, body.url])
    })

    it('refuses an unusable target at creation with 400 and the reason', async () => {
      const res = await shorten(h.app, 'https://exa\u0007mple.org/')
      expect(res).toEqual({ status: 400, body: { error: 'url contains control characters' } })
    })
  })
})
