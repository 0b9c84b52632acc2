import { describe, expect, it } from 'vitest'
import { HttpResponse, type HttpError, type Interceptor } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client } = useHarness()

describe('interceptors', () => {
  it('run in registration order on the way out and in reverse on the way back', async () => {
    const s = await server((req, res) => res.end(String(req.headers['x-trail'])))
    const log: string[] = []
    const tag =
      (name: string): Interceptor =>
      async (req, next) => {
        log.push(`${name} out`)
        const res = await next({
          ...req,
          headers: { ...req.headers, 'x-trail': `${req.headers['x-trail'] ?? ''}${name}` },
        })
        log.push(`${name} back`)
        return res
      }
    const c = client({ baseUrl: s.url, interceptors: [tag('a'), tag('b')] })
    c.use(tag('c'))
    expect(await c.get('/').text()).toBe('abc')
    expect(log).toEqual(['a out', 'b out', 'c out', 'c back', 'b back', 'a back'])
  })

  it('can rewrite the URL and method, replace a response, or short-circuit without the network', async () => {
    const s = await server((req, res) => res.end(`${req.method} ${req.url}`))
    const cache = new Map<string, HttpResponse>()
    const c = client({
      baseUrl: s.url,
      interceptors: [
        async (req, next) => {
          const hit = cache.get(req.url)
          if (hit) return hit
          const res = await next(req)
          cache.set(req.url, res)
          return res
        },
        (req, next) =>
          next(req.url.endsWith('/old') ? { ...req, url: req.url.replace('/old', '/new'), method: 'put' } : req),
        async (req, next) => {
          const res = await next(req)
          return res.status === 418 ? new HttpResponse(200, 'OK', {}, req.url, Buffer.from('replaced'), undefined) : res
        },
      ],
    })
    expect(await c.get('/old').text()).toBe('PUT /new')
    expect(await c.get('/old').text()).toBe('PUT /new')
    expect(s.requests).toHaveLength(1)
    const teapot = await server((_req, res) => res.writeHead(418).end())
    expect(await c.get(`${teapot.url}/tea`).text()).toBe('replaced')
  })

  it('recipe: refresh a bearer token once on 401', async () => {
    let valid = 'token-1'
    const s = await server((req, res) =>
      req.headers.authorization === `Bearer ${valid}` ? res.end('secret data') : res.writeHead(401).end(),
    )
    let token = 'token-1'
    let refreshes = 0
    const bearer: Interceptor = async (req, next) => {
      const res = await next({ ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } })
      if (res.status !== 401) return res
      refreshes++
      token = `token-${refreshes + 1}` // await oauth.refresh() in real life
      return next({ ...req, headers: { ...req.headers, authorization: `Bearer ${token}` } })
    }
    const c = client({ baseUrl: s.url, interceptors: [bearer] })
    expect(await c.get('/').text()).toBe('secret data')
    valid = 'token-2'
    expect(await c.get('/').text()).toBe('secret data')
    expect(refreshes).toBe(1)
    valid = 'never'
    expect(((await rejection(c.get('/'))) as HttpError).status).toBe(401)
    expect(refreshes).toBe(2)
  })

  it('see every attempt, with its number and the per-call context', async () => {
    const s = await server((_req, res, n) => (n === 1 ? res.writeHead(503).end() : res.end()))
    const seen: Array<[number, unknown]> = []
    const c = client({ baseUrl: s.url, retry: { baseDelay: 1 } })
    const remove = c.use((req, next) => {
      seen.push([req.attempt, req.context.who])
      return next(req)
    })
    await c.get('/', { context: { who: 'me' } })
    expect(seen).toEqual([
      [1, 'me'],
      [2, 'me'],
    ])
    remove()
    await c.get('/')
    expect(seen).toHaveLength(2)
  })
})
