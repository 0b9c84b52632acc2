import { describe, expect, it } from 'vitest'
import { Readable } from 'node:stream'
import type { HttpRequestError } from '../src/index.ts'
import { bodyOf } from './servers.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client } = useHarness()

interface Echo {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

/** A server that answers with what it received. */
function echo() {
  return server((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: bodyOf(req) }))
  })
}

describe('redirects', () => {
  it('follows up to maxRedirects, 303 turns into GET, and credentials stay with their origin', async () => {
    const other = await echo()
    const s = await server((req, res) => {
      if (req.url === '/a') return res.writeHead(302, { location: '/b' }).end()
      if (req.url === '/b') return res.writeHead(307, { location: `${other.url}/elsewhere` }).end()
      if (req.url === '/see-other') return res.writeHead(303, { location: '/b-final' }).end()
      if (req.url === '/loop') return res.writeHead(301, { location: '/loop' }).end()
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: bodyOf(req) }))
    })
    const c = client({ baseUrl: s.url })
    const res = await c.get('/a', { headers: { authorization: 'Bearer secret', 'x-keep': 'yes' } })
    const landed = await res.json<Echo>()
    expect(res.url).toBe(`${other.url}/elsewhere`)
    expect(landed.headers.authorization).toBeUndefined()
    expect(landed.headers['x-keep']).toBe('yes')
    const seeOther = await c.post('/see-other', { json: { a: 1 } }).json<Echo>()
    expect([seeOther.method, seeOther.url, seeOther.body]).toEqual(['GET', '/b-final', ''])
    const loop = (await rejection(c.get('/loop'))) as HttpRequestError
    expect(loop.code).toBe('HTTP_REDIRECT')
    expect(loop.message).toMatch(/more than 5 redirects/)
    expect((await c.get('/a', { redirect: 'manual' })).status).toBe(302)
    expect(((await rejection(c.get('/a', { redirect: 'error' }))) as HttpRequestError).code).toBe('HTTP_REDIRECT')
  })

  it('a stream body is never sent again: a 307 to another origin fails instead of sending it empty', async () => {
    const other = await echo()
    const s = await server((_req, res) => res.writeHead(307, { location: `${other.url}/upload` }).end())
    const c = client({ baseUrl: s.url })
    const error = (await rejection(
      c.put('/upload', { body: Readable.from([Buffer.from('only once')]) }),
    )) as HttpRequestError
    expect(error.code).toBe('HTTP_REDIRECT')
    expect(error.message).toMatch(/stream body/)
    expect(s.requests).toHaveLength(1)
    expect(other.requests).toHaveLength(0)
  })

  it('a stream body may follow a redirect that turns into GET (it is not sent again)', async () => {
    const s = await server((req, res) =>
      req.url === '/form' ? res.writeHead(303, { location: '/done' }).end() : res.end(`${req.method} ${req.url}`),
    )
    const c = client({ baseUrl: s.url })
    expect(await c.post('/form', { body: Readable.from([Buffer.from('x')]) }).text()).toBe('GET /done')
  })

  it('refuses Locations that are not http(s) URLs', async () => {
    const s = await server((req, res) =>
      res.writeHead(302, { location: req.url === '/file' ? 'file:///etc/passwd' : 'http://[' }).end(),
    )
    const c = client({ baseUrl: s.url })
    const file = (await rejection(c.get('/file'))) as HttpRequestError
    expect([file.code, file.message]).toEqual(['HTTP_REDIRECT', expect.stringMatching(/file: URL/)])
    const broken = (await rejection(c.get('/broken'))) as HttpRequestError
    expect([broken.code, broken.message]).toEqual(['HTTP_REDIRECT', expect.stringMatching(/not a URL/)])
    expect(s.requests).toHaveLength(2)
  })
})
