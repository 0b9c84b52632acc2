import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { harness, shorten, type Harness } from './helpers.ts'

describe('Beaver Links: link creation is rate-limited per client', () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ fetchTitles: false, linksPerMinute: 2 })
  })
  afterAll(() => h.close())

  it('answers 429 with Retry-After and RateLimit headers past the limit, and creates nothing', async () => {
    const first = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.com/1' }),
    })
    expect(first.status).toBe(201)
    expect(first.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60')
    expect(first.headers.get('ratelimit')).toMatch(/^"default";r=1;t=\d+$/)
    expect((await shorten(h.app, 'https://example.com/2')).status).toBe(201)
    const refused = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.com/3' }),
    })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await refused.json()).toEqual({ error: 'too many links created from this address; retry later' })
  })
})
