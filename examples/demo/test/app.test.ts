import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createHttpClient } from '@beaver-kit/http'
import { createUrlSigner, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createLogger } from '@beaver-kit/logger'
import { eventually } from '@beaver-kit/testkit'
import { startApp, type App, type Deps } from '../src/app.ts'

// A page server whose pages have titles, for the background title fetch.
let pages: http.Server
let pagesUrl = ''
beforeAll(async () => {
  pages = http.createServer((req, res) => {
    if (req.url === '/titled') {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<html><head><title>Beavers &amp; Dams</title></head><body>hi</body></html>')
    } else {
      res.writeHead(404)
      res.end()
    }
  })
  pages.listen(0, '127.0.0.1')
  await once(pages, 'listening')
  pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => pages.close(() => r())))

interface Harness {
  app: App
  deps: Deps
  lines: Array<Record<string, unknown>>
}

async function harness(): Promise<Harness> {
  const lines: Array<Record<string, unknown>> = []
  const deps: Deps = {
    db: createDatabase({ driver: 'sqlite', file: ':memory:', envPrefix: false }),
    cache: createCache({ driver: 'memory', envPrefix: false }),
    http: createHttpClient({ envPrefix: false }),
    logger: createLogger({
      envPrefix: false,
      level: 'info',
      outputs: [],
      sinks: [
        { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>), format: 'json' },
      ],
    }),
    signer: createUrlSigner({ envPrefix: false, keys: generateKeyRingEntry('test') }),
  }
  const app = await startApp({ config: { port: 0 }, env: {}, deps })
  return { app, deps, lines }
}

describe('Beaver Links demo', () => {
  let h: Harness | undefined
  afterEach(async () => {
    if (!h) return
    await h.app.close()
    await Promise.all([h.deps.cache.close(), h.deps.db.close(), h.deps.http.close(), h.deps.logger.close()])
    h = undefined
  })

  it('answers /health on embedded defaults, with the database reachable', async () => {
    h = await harness()
    const res = await fetch(`${h.app.url}/health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok' })
    expect(h.app.description).toContain('BEAVER_DEMO_PORT')
  })

  it('shortens a link, redirects through the cache, counts hits and stores the page title', async () => {
    h = await harness()
    const created = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: `${pagesUrl}/titled` }),
    })
    expect(created.status).toBe(201)
    const link = (await created.json()) as { code: string; shortUrl: string; deleteUrl: string }
    expect(link.shortUrl).toBe(`${h.app.url}/${link.code}`)

    for (let i = 0; i < 3; i++) {
      const res = await fetch(link.shortUrl, { redirect: 'manual' })
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(`${pagesUrl}/titled`)
    }
    // The first redirect loaded the link from the database; the others were cache hits.
    expect(h.deps.cache.namespace('links').stats().hits).toBeGreaterThanOrEqual(2)

    await h.app.idle()
    const info = (await (await fetch(`${h.app.url}/links/${link.code}`)).json()) as { title: string; hits: number }
    expect(info).toMatchObject({ title: 'Beavers & Dams', hits: 3 })
  })

  it('deletes only through the signed URL, for the DELETE method', async () => {
    h = await harness()
    const created = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      body: JSON.stringify({ url: 'https://example.org/' }),
    })
    const { code, deleteUrl } = (await created.json()) as { code: string; deleteUrl: string }
    const forged = deleteUrl.replace(/sig=[^&]+/, 'sig=AAAA')
    expect((await fetch(forged, { method: 'DELETE' })).status).toBe(403)
    expect((await fetch(`${h.app.url}/links/${code}`, { method: 'DELETE' })).status).toBe(403)
    expect((await fetch(deleteUrl, { method: 'DELETE' })).status).toBe(200)
    expect((await fetch(`${h.app.url}/${code}`, { redirect: 'manual' })).status).toBe(404)
  })

  it('logs each request with its request id in context, including background work it started', async () => {
    h = await harness()
    const res = await fetch(`${h.app.url}/links`, {
      method: 'POST',
      headers: { 'x-request-id': 'req-42' },
      body: JSON.stringify({ url: `${pagesUrl}/titled` }),
    })
    expect(res.headers.get('x-request-id')).toBe('req-42')
    await h.app.idle()
    const { lines } = h
    await eventually(() => expect(lines.some((l) => l.msg === 'page title stored')).toBe(true))
    expect(lines.find((l) => l.msg === 'request')).toMatchObject({ requestId: 'req-42', status: 201, method: 'POST' })
    expect(lines.find((l) => l.msg === 'link created')).toMatchObject({ requestId: 'req-42' })
    expect(lines.find((l) => l.msg === 'page title stored')).toMatchObject({ requestId: 'req-42', job: 'title' })
  })

  it('rejects bad input with a clear status and unknown codes with 404', async () => {
    h = await harness()
    expect((await fetch(`${h.app.url}/links`, { method: 'POST', body: '{"url":"ftp://x"}' })).status).toBe(400)
    expect((await fetch(`${h.app.url}/links`, { method: 'POST', body: 'nope' })).status).toBe(400)
    expect((await fetch(`${h.app.url}/doesnotexist`, { redirect: 'manual' })).status).toBe(404)
  })

  it('rejects a bad port naming the variable', async () => {
    await expect(startApp({ env: { BEAVER_DEMO_PORT: 'eighty' } })).rejects.toSatisfy(
      (e: unknown) => isConfigError(e) && e.message.includes('BEAVER_DEMO_PORT'),
    )
  })
})
