import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { harness, shorten, type Harness } from './helpers.ts'

const basic = (password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`,
})

describe('Beaver Links: the queue dashboard at /admin/queues', () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ fetchTitles: false, adminPassword: 'open sesame' })
  })
  afterAll(() => h.close())

  it('asks for the password with HTTP Basic auth', async () => {
    const res = await fetch(`${h.app.url}/admin/queues`)
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/)
    expect((await fetch(`${h.app.url}/admin/queues/api/queues`, { headers: basic('wrong') })).status).toBe(401)
  })

  it('shows the visits queue behind the password', async () => {
    const page = await fetch(`${h.app.url}/admin/queues/`, { headers: basic('open sesame') })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('src="/admin/queues/app.js"')
    const { body } = await shorten(h.app, 'https://example.com/a')
    await fetch(`${h.app.url}/${body.code}`, { redirect: 'manual' })
    await eventually(async () => {
      const res = await fetch(`${h.app.url}/admin/queues/api/queues`, { headers: basic('open sesame') })
      const listed = (await res.json()) as { queues: { name: string; counts: { completed: number } }[] }
      expect(listed.queues.some((q) => q.counts.completed > 0)).toBe(true)
    })
  })

  it('is off (404) without BEAVER_DEMO_ADMIN_PASSWORD', async () => {
    const off = await harness({ fetchTitles: false })
    try {
      const res = await fetch(`${off.app.url}/admin/queues`, { headers: basic('') })
      expect(res.status).toBe(404)
      expect(await res.json()).toEqual({ error: 'the queue dashboard is off; set BEAVER_DEMO_ADMIN_PASSWORD' })
    } finally {
      await off.close()
    }
  })
})
