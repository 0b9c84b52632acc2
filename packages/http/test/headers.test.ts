import { describe, expect, it } from 'vitest'
import { mergeHeaders, normalizeHeaders, withoutHeaders } from '../src/headers.ts'
import type { Interceptor } from '../src/index.ts'
import { bodyOf } from './servers.ts'
import { useHarness } from './helpers.ts'

const { server, client } = useHarness()

interface Echo {
  url: string
  headers: Record<string, string | string[] | undefined>
  /** Header names exactly as they arrived (raw), to see duplicates. */
  raw: string[]
}

function echo() {
  return server((req, res) => {
    res.setHeader('content-type', 'application/json')
    const raw = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
    res.end(JSON.stringify({ url: req.url, headers: req.headers, raw, body: bodyOf(req) }))
  })
}

const CREDENTIALS = ['authorization', 'cookie', 'proxy-authorization']

describe('header names are case-insensitive everywhere', () => {
  it('a name written in two cases is sent once, the value written last wins', async () => {
    const s = await echo()
    const c = client({ baseUrl: s.url, headers: { 'X-Team': 'options' } })
    const perCall = await c.get('/', { headers: { 'x-team': 'call', 'X-TEAM': 'call, upper' } }).json<Echo>()
    expect(perCall.headers['x-team']).toBe('call, upper')
    expect(perCall.raw.filter((n) => n === 'x-team')).toHaveLength(1)
    const viaInterceptor = client({
      baseUrl: s.url,
      headers: { authorization: 'Bearer options' },
      interceptors: [(req, next) => next({ ...req, headers: { ...req.headers, Authorization: 'Bearer interceptor' } })],
    })
    const got = await viaInterceptor.get('/').json<Echo>()
    expect(got.headers.authorization).toBe('Bearer interceptor')
    expect(got.raw.filter((n) => n === 'authorization')).toHaveLength(1)
  })

  it('interceptors see lower-case names, whatever case options and calls used', async () => {
    const s = await echo()
    const seen: string[][] = []
    const c = client({
      baseUrl: s.url,
      headers: { 'X-From-Options': '1' },
      interceptors: [(req, next) => (seen.push(Object.keys(req.headers)), next(req))],
    })
    await c.get('/', { headers: { 'X-From-Call': '1' } })
    expect(seen[0]).toContain('x-from-options')
    expect(seen[0]).toContain('x-from-call')
    expect(seen[0]!.every((n) => n === n.toLowerCase())).toBe(true)
  })
})

describe('header helpers (each layer on its own)', () => {
  it('normalizeHeaders lower-cases names, keeps the same object when nothing changes', () => {
    const lower = { a: '1', 'x-b': '2' }
    expect(normalizeHeaders(lower)).toBe(lower)
    expect(normalizeHeaders({ 'X-B': '1', 'x-b': '2', A: '3' })).toEqual({ 'x-b': '2', a: '3' })
  })

  it('withoutHeaders compares names case-insensitively, even on headers nobody normalised', () => {
    const names = new Set(['authorization', 'cookie', 'proxy-authorization'])
    expect(withoutHeaders({ Authorization: 'a', COOKIE: 'c', 'Proxy-Authorization': 'p', keep: 'k' }, names)).toEqual({
      keep: 'k',
    })
  })

  it('mergeHeaders lower-cases and removes with undefined', () => {
    expect(mergeHeaders({ a: '1', b: '2' }, { A: 'x', B: undefined, C: '3' })).toEqual({ a: 'x', c: '3' })
  })
})

describe('credentials stay with their origin on a redirect, in any case', () => {
  async function setup() {
    const other = await echo()
    const s = await server((req, res) => {
      if (req.url === '/away') return res.writeHead(307, { location: `${other.url}/landed` }).end()
      if (req.url === '/here') return res.writeHead(302, { location: '/stay' }).end()
      res.setHeader('content-type', 'application/json')
      const raw = req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
      res.end(JSON.stringify({ url: req.url, headers: req.headers, raw }))
    })
    return { s, other }
  }

  const cases: Array<[string, { headers?: Record<string, string>; interceptor?: Interceptor }]> = [
    ['client options', { headers: { Authorization: 'Bearer o', Cookie: 'sid=o', 'Proxy-Authorization': 'Basic o' } }],
    [
      'an interceptor spreading new headers',
      {
        interceptor: (req, next) =>
          next({
            ...req,
            headers: { ...req.headers, Authorization: 'Bearer i', COOKIE: 'sid=i', 'Proxy-Authorization': 'Basic i' },
          }),
      },
    ],
    [
      'an interceptor mutating the request in place',
      {
        interceptor: (req, next) => {
          req.headers.Authorization = 'Bearer m'
          req.headers.Cookie = 'sid=m'
          req.headers['PROXY-AUTHORIZATION'] = 'Basic m'
          return next(req)
        },
      },
    ],
  ]

  for (const [name, { headers, interceptor }] of cases) {
    it(`set through ${name}`, async () => {
      const { s, other } = await setup()
      const c = client({
        baseUrl: s.url,
        ...(headers ? { headers } : {}),
        interceptors: interceptor ? [interceptor] : [],
      })
      const away = await c.get('/away').json<Echo>()
      expect(away.url).toBe('/landed')
      for (const h of CREDENTIALS) expect([h, away.headers[h]]).toEqual([h, undefined])
      expect(other.requests).toHaveLength(1)
      // The same origin keeps them.
      const stay = await c.get('/here').json<Echo>()
      expect(stay.url).toBe('/stay')
      for (const h of CREDENTIALS) expect(stay.raw.filter((n) => n === h)).toHaveLength(1)
    })
  }

  it('set per call', async () => {
    const { s } = await setup()
    const c = client({ baseUrl: s.url })
    const away = await c
      .get('/away', { headers: { AUTHORIZATION: 'Bearer c', cookie: 'sid=c', 'proxy-Authorization': 'Basic c' } })
      .json<Echo>()
    for (const h of CREDENTIALS) expect([h, away.headers[h]]).toEqual([h, undefined])
  })
})
