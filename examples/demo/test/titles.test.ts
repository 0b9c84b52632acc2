import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { harness, pageServer, shorten, type Harness, type Line } from './helpers.ts'

let pages: Awaited<ReturnType<typeof pageServer>>
beforeAll(async () => {
  pages = await pageServer(1500)
})
afterAll(() => pages.close())

const titleOf = async (h: Harness, code: string): Promise<unknown> =>
  ((await (await fetch(`${h.app.url}/links/${code}`)).json()) as { title: unknown }).title

const warnings = (lines: Line[]): Line[] => lines.filter((l) => l.msg === 'could not fetch the page title')

describe('Beaver Links: page titles', () => {
  let h: Harness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('never fetches from a private address: loopback, metadata and numeric spellings are refused', async () => {
    h = await harness()
    const port = new URL(pages.url).port
    const targets = [
      `${pages.url}/titled`,
      `http://localhost:${port}/titled`,
      `http://2130706433:${port}/titled`,
      `http://0x7f.0.0.1:${port}/titled`,
      `http://[::ffff:127.0.0.1]:${port}/titled`,
      'http://169.254.169.254/latest/meta-data/',
    ]
    const codes: string[] = []
    for (const url of targets) codes.push((await shorten(h.app, url)).body.code as string)
    await h.app.idle()
    for (const code of codes) expect(await titleOf(h, code)).toBeNull()
    expect(pages.hits).toEqual([])
    const refused = warnings(h.lines)
    expect(refused).toHaveLength(targets.length)
    for (const line of refused) expect((line.err as { code: string }).code).toBe('HTTP_EGRESS_DENIED')
  })

  it('fetches from a host let through by BEAVER_DEMO_TITLE_ALLOW, once, without retrying a failure', async () => {
    h = await harness({ titleAllow: ['127.0.0.1'] })
    const ok = await shorten(h.app, `${pages.url}/titled`)
    const failing = await shorten(h.app, `${pages.url}/unavailable`)
    await h.app.idle()
    expect(await titleOf(h, ok.body.code as string)).toBe('Beavers & Dams')
    expect(await titleOf(h, failing.body.code as string)).toBeNull()
    expect(pages.hits.filter((u) => u === '/unavailable')).toEqual(['/unavailable']) // a 503, not retried
    expect(warnings(h.lines).map((l) => (l.err as { code: string }).code)).toEqual(['HTTP_STATUS'])
    pages.hits.length = 0
  })

  it('runs at most BEAVER_DEMO_TITLE_CONCURRENCY fetches at once; a link beyond it gets no title', async () => {
    h = await harness({ titleAllow: ['127.0.0.1'], titleConcurrency: 1 })
    const first = await shorten(h.app, `${pages.url}/slow`)
    const second = await shorten(h.app, `${pages.url}/titled`)
    await h.app.idle()
    expect(await titleOf(h, first.body.code as string)).toBe('Beavers & Dams')
    expect(await titleOf(h, second.body.code as string)).toBeNull()
    expect(h.lines.find((l) => l.msg === 'title fetch skipped: too many running')).toMatchObject({
      code: second.body.code,
      running: 1,
    })
    pages.hits.length = 0
  })

  it('aborts a running fetch on close, so shutting down does not wait for a slow page', async () => {
    h = await harness({ titleAllow: ['127.0.0.1'], titleTimeout: '30s' })
    await shorten(h.app, `${pages.url}/slow`)
    await eventually(() => expect(pages.hits).toContain('/slow'))
    const { lines } = h
    await h.close() // the page answers 1.5 s after the request: had close() waited, the title would be stored
    h = undefined
    expect(lines.some((l) => l.msg === 'page title stored')).toBe(false)
    expect(warnings(lines)).toHaveLength(1)
    pages.hits.length = 0
  })
})
