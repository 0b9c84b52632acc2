import { afterEach, describe, expect, it } from 'vitest'
import { Readable } from 'node:stream'
import zlib from 'node:zlib'
import { isConfigError } from '@beaver-kit/config'
import { isCoreError } from '@beaver-kit/core'
import {
  createHttpClient,
  http,
  initHttp,
  isHttpRequestError,
  resetHttp,
  withPrefix,
  type HttpClient,
  type HttpRequestError,
} from '../src/index.ts'
import * as publicApi from '../src/index.ts'
import { bodyOf } from './servers.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client } = useHarness()

/** A server that answers with what it received. */
function echo() {
  return server((req, res) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: bodyOf(req) }))
  })
}
interface Echo {
  method: string
  url: string
  headers: Record<string, string>
  body: string
}

describe('requests', () => {
  it('appends paths to the base URL, fills :params, encodes query values', async () => {
    const s = await echo()
    const c = client({ baseUrl: `${s.url}/api/v1/` })
    const got = await c
      .get('/users/:id/posts', { params: { id: 'a/b c' }, query: { tag: ['x', 'y'], page: 2, skip: undefined } })
      .json<Echo>()
    expect(got.url).toBe('/api/v1/users/a%2Fb%20c/posts?tag=x&tag=y&page=2')
    expect((await c.get('relative').json<Echo>()).url).toBe('/api/v1/relative')
    expect((await c.get(`${s.url}/absolute?x=1`, { query: new URLSearchParams({ y: '2' }) }).json<Echo>()).url).toBe(
      '/absolute?x=1&y=2',
    )
  })

  it('params can never change the path: dot and empty segments are refused, the rest encoded', async () => {
    const s = await echo()
    const c = client({ baseUrl: `${s.url}/v1` })
    for (const id of ['..', '.', '']) {
      const error = (await rejection(c.delete('/users/:id/sessions', { params: { id } }))) as HttpRequestError
      expect([id, error.code]).toEqual([id, 'HTTP_INVALID_REQUEST'])
      expect(error.details).toMatchObject({ param: 'id' })
    }
    const absolute = (await rejection(
      c.get(`${s.url}/v1/users/:id/sessions`, { params: { id: '..' } }),
    )) as HttpRequestError
    expect(absolute.code).toBe('HTTP_INVALID_REQUEST')
    expect(s.requests).toHaveLength(0)
    const encoded: Array<[string, string]> = [
      ['../admin', '/v1/users/..%2Fadmin/sessions'],
      ['%2e%2e', '/v1/users/%252e%252e/sessions'],
      ['a?b#c', '/v1/users/a%3Fb%23c/sessions'],
      ['...', '/v1/users/.../sessions'],
      ['.hidden', '/v1/users/.hidden/sessions'],
    ]
    for (const [id, path] of encoded) {
      expect((await c.get('/users/:id/sessions', { params: { id } }).json<Echo>()).url).toBe(path)
    }
    // A parameter followed by literal text in its segment: the whole segment is judged.
    expect(((await rejection(c.get('/files/:name.', { params: { name: '.' } }))) as HttpRequestError).code).toBe(
      'HTTP_INVALID_REQUEST',
    )
    expect((await c.get('/files/:name.json', { params: { name: '.' } }).json<Echo>()).url).toBe('/v1/files/..json')
  })

  it('has a verb per method and sends default, client and call headers (call wins, undefined removes)', async () => {
    const s = await echo()
    const c = client({ baseUrl: s.url, headers: { 'X-Team': 'beavers', 'x-drop': 'me' }, userAgent: 'test-agent' })
    for (const verb of ['get', 'post', 'put', 'patch', 'delete', 'options'] as const) {
      expect((await c[verb]('/').json<Echo>()).method).toBe(verb.toUpperCase())
    }
    expect((await c.head('/')).status).toBe(200)
    const got = await c.get('/', { headers: { 'X-Call': '1', 'x-drop': undefined, 'User-Agent': 'mine' } }).json<Echo>()
    expect(got.headers['x-team']).toBe('beavers')
    expect(got.headers['x-call']).toBe('1')
    expect(got.headers['x-drop']).toBeUndefined()
    expect(got.headers['user-agent']).toBe('mine')
    expect((await c.get('/').json<Echo>()).headers['user-agent']).toBe('test-agent')
  })

  it('sends bodies from objects, strings, bytes, URLSearchParams, FormData, Blob and streams', async () => {
    const s = await echo()
    const c = client({ baseUrl: s.url })
    const json = await c.post('/', { json: { a: 1 } }).json<Echo>()
    expect([json.body, json.headers['content-type']]).toEqual(['{"a":1}', 'application/json'])
    const obj = await c.post('/', { body: { b: [1, 2] } }).json<Echo>()
    expect([obj.body, obj.headers['content-type']]).toEqual(['{"b":[1,2]}', 'application/json'])
    const text = await c.post('/', { body: 'plain' }).json<Echo>()
    expect([text.body, text.headers['content-type']]).toEqual(['plain', 'text/plain;charset=UTF-8'])
    expect((await c.post('/', { body: new TextEncoder().encode('bytes') }).json<Echo>()).body).toBe('bytes')
    const form = await c.post('/', { body: new URLSearchParams({ q: 'a b' }) }).json<Echo>()
    expect([form.body, form.headers['content-type']]).toEqual([
      'q=a+b',
      'application/x-www-form-urlencoded;charset=UTF-8',
    ])
    const fd = new FormData()
    fd.append('field', 'value')
    const multipart = await c.post('/', { body: fd }).json<Echo>()
    expect(multipart.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/)
    expect(multipart.body).toContain('name="field"')
    const blob = await c.post('/', { body: new Blob(['blob!'], { type: 'text/x-blob' }) }).json<Echo>()
    expect([blob.body, blob.headers['content-type']]).toEqual(['blob!', 'text/x-blob'])
    expect(
      (await c.put('/', { body: Readable.from([Buffer.from('str'), Buffer.from('eam')]) }).json<Echo>()).body,
    ).toBe('stream')
    const web = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode('web'))
        ctrl.close()
      },
    })
    expect((await c.put('/', { body: web }).json<Echo>()).body).toBe('web')
    expect(
      (await c.post('/', { json: { x: 1 }, headers: { 'content-type': 'application/vnd.x+json' } }).json<Echo>())
        .headers['content-type'],
    ).toBe('application/vnd.x+json')
  })

  it('reads bodies as text, bytes, JSON (repeatedly) or as a stream', async () => {
    const s = await server((_req, res) => res.end('{"n":1}'))
    const c = client({ baseUrl: s.url })
    const res = await c.get('/')
    expect(res.ok).toBe(true)
    expect(await res.json()).toEqual({ n: 1 })
    expect(await res.text()).toBe('{"n":1}')
    expect((await res.bytes()).length).toBe(7)
    expect(await c.get('/').text()).toBe('{"n":1}')
    expect((await c.get('/').bytes()).toString()).toBe('{"n":1}')
    const streamed = await c.get('/', { responseType: 'stream' })
    expect(streamed.body).toBeInstanceOf(Readable)
    const chunks: Buffer[] = []
    for await (const chunk of streamed.body!) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('{"n":1}')
    const empty = await server((_req, res) => res.writeHead(204).end())
    expect(await client().get(empty.url).json()).toBeUndefined()
  })

  it('decompresses gzip, deflate and br (buffered and streamed)', async () => {
    const payload = JSON.stringify({ hello: 'x'.repeat(1000) })
    const s = await server((req, res) => {
      const enc = req.url!.slice(1)
      const data =
        enc === 'gzip'
          ? zlib.gzipSync(payload)
          : enc === 'deflate'
            ? zlib.deflateSync(payload)
            : enc === 'raw'
              ? zlib.deflateRawSync(payload)
              : zlib.brotliCompressSync(payload)
      res.writeHead(200, { 'content-encoding': enc === 'raw' ? 'deflate' : enc })
      res.end(data)
    })
    const c = client({ baseUrl: s.url })
    for (const enc of ['gzip', 'deflate', 'raw', 'br']) expect(await c.get(`/${enc}`).text()).toBe(payload)
    expect(s.requests[0]!.headers['accept-encoding']).toMatch(/gzip, deflate, br/)
    const streamed = await c.get('/gzip', { responseType: 'stream' })
    expect(await streamed.text()).toBe(payload)
    const raw = client({ baseUrl: s.url, decompress: false })
    expect((await raw.get('/gzip').bytes()).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]))
  })
})

describe('response size limit', () => {
  it('refuses a declared huge body before reading it', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) })
      res.write(Buffer.alloc(1024))
    })
    const error = (await rejection(client({ limits: { maxResponseSize: '1mb' } }).get(s.url))) as HttpRequestError
    expect(error.code).toBe('HTTP_RESPONSE_TOO_LARGE')
    expect(error.details.maxSize).toBe(1024 * 1024)
  })

  it('a HEAD may declare a size over the limit: it carries no body', async () => {
    const s = await server((_req, res) => res.writeHead(200, { 'content-length': String(50 * 1024 * 1024) }).end())
    const res = await client({ limits: { maxResponseSize: '1kb' } }).head(s.url)
    expect(res.status).toBe(200)
    expect(res.header('content-length')).toBe(String(50 * 1024 * 1024))
  })

  it('stops reading an undeclared (chunked) body at the limit', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200)
      const chunk = Buffer.alloc(64 * 1024, 1)
      let sent = 0
      const pump = (): void => {
        while (sent < 100 && !res.destroyed) {
          sent++
          if (!res.write(chunk)) return void res.once('drain', pump)
        }
        res.end()
      }
      pump()
    })
    const c = client({ retry: { maxAttempts: 1 } })
    const error = (await rejection(c.get(s.url, { maxResponseSize: '256kb' }))) as HttpRequestError
    expect(error.code).toBe('HTTP_RESPONSE_TOO_LARGE')
    expect(isHttpRequestError(error, 'HTTP_RESPONSE_TOO_LARGE')).toBe(true)
  })

  it('limits the decompressed size too (a zip bomb fails)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024))
    const s = await server((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb))
    const error = (await rejection(client({ limits: { maxResponseSize: '1mb' } }).get(s.url))) as HttpRequestError
    expect(bomb.length).toBeLessThan(1024 * 1024)
    expect(error.code).toBe('HTTP_RESPONSE_TOO_LARGE')
  })
})

describe('lifecycle and configuration', () => {
  it('close() is idempotent, lets calls in flight finish and refuses new ones', async () => {
    const s = await server((_req, res) => res.end('done'))
    const c = createHttpClient({ envPrefix: false, baseUrl: s.url })
    const inFlight = c.get('/')
    const closing = c.close()
    expect(c.close()).toBe(closing)
    await closing
    expect(await (await inFlight).text()).toBe('done')
    expect(((await rejection(c.get('/'))) as HttpRequestError).code).toBe('HTTP_CLOSED')
    let outside: HttpClient | undefined
    {
      await using scoped = createHttpClient({ envPrefix: false, baseUrl: s.url })
      outside = scoped
      expect(await scoped.get('/').text()).toBe('done')
    }
    // Leaving the block closed it.
    expect(outside.describe().state.closed).toBe(true)
    expect(((await rejection(outside.get('/'))) as HttpRequestError).code).toBe('HTTP_CLOSED')
    expect(((await rejection(outside.ready())) as HttpRequestError).code).toBe('HTTP_CLOSED')
  })

  it('reads BEAVER_HTTP_* (and other prefixes), explicit options win, errors name the variable', async () => {
    const s = await echo()
    process.env.T5_HTTP_BASE_URL = s.url
    process.env.T5_HTTP_HEADERS = '{"X-From-Env":"yes"}'
    process.env.T5_HTTP_RETRY_MAX_ATTEMPTS = '7'
    try {
      const c = withPrefix('T5_')
      expect(c.config.retry.maxAttempts).toBe(7)
      expect((await c.get('/e').json<Echo>()).headers['x-from-env']).toBe('yes')
      const described = c.describe()
      expect(described.package).toBe('http')
      expect(described.envPrefix).toBe('T5_')
      expect(described.settings.find((e) => e.name === 'T5_HTTP_HEADERS')).toMatchObject({
        value: '****',
        source: 'env',
        secret: true,
      })
      expect(described.settings.find((e) => e.name === 'T5_HTTP_RETRY_MAX_ATTEMPTS')).toMatchObject({
        value: '7',
        source: 'env',
      })
      expect(described.state).toEqual({ dispatcher: 'own pool', hosts: 1, openBreakers: 0, closed: false })
      expect(JSON.stringify(described)).not.toContain('X-From-Env')
      await c.close()
      expect(c.describe().state.closed).toBe(true)
      const explicit = client({ envPrefix: 'T5_', retry: { maxAttempts: 2 } })
      expect(explicit.config.retry.maxAttempts).toBe(2)
      const prefixed = withPrefix('T5_', { retry: { maxAttempts: 4 } })
      expect([prefixed.config.retry.maxAttempts, prefixed.config.baseUrl]).toEqual([4, s.url])
      await prefixed.close()
      process.env.T5_HTTP_TIMEOUTS_TOTAL = 'soon'
      const error = (() => {
        try {
          withPrefix('T5_')
        } catch (e) {
          return e
        }
      })()
      expect(isConfigError(error)).toBe(true)
      expect((error as Error).message).toContain('T5_HTTP_TIMEOUTS_TOTAL')
    } finally {
      for (const k of Object.keys(process.env)) if (k.startsWith('T5_')) delete process.env[k]
    }
  })

  it('reads the environment it is given instead of process.env', async () => {
    process.env.BEAVER_HTTP_RETRY_MAX_ATTEMPTS = '9'
    try {
      const c = client({ envPrefix: undefined, env: { BEAVER_HTTP_USER_AGENT: 'from-env-option' } })
      expect(c.config.userAgent).toBe('from-env-option')
      expect(c.config.retry.maxAttempts).toBe(3)
      expect(c.describe().settings.find((e) => e.path === 'userAgent')).toMatchObject({ source: 'env' })
    } finally {
      delete process.env.BEAVER_HTTP_RETRY_MAX_ATTEMPTS
    }
  })

  it('has no public constructor: createHttpClient() is the one way to a client', () => {
    expect(Object.keys(publicApi)).not.toContain('HttpClient')
    expect(Object.keys(publicApi)).not.toContain('BreakerRegistry')
    expect(typeof publicApi.createHttpClient).toBe('function')
  })

  it('ready() resolves, and rejects with the reason of an aborted signal', async () => {
    const c = client()
    await c.ready()
    const reason = new Error('not waiting')
    expect(await rejection(c.ready({ signal: AbortSignal.abort(reason) }))).toBe(reason)
  })

  it('per-call durations and sizes go through toMs/toBytes: a bad one names the option', async () => {
    const c = client({ baseUrl: 'http://127.0.0.1:1' })
    const error = await rejection(c.get('/', { timeouts: { total: 'soon' } }))
    expect(isConfigError(error)).toBe(true)
    expect((error as Error).message).toContain('timeouts.total')
    const size = await rejection(c.get('/', { maxResponseSize: 'huge' }))
    expect((size as Error).message).toContain('maxResponseSize')
  })

  it('relative URLs need a baseUrl', async () => {
    const error = (await rejection(client().get('/nowhere'))) as HttpRequestError
    expect(error.code).toBe('HTTP_INVALID_REQUEST')
    expect(error.message).toMatch(/baseUrl/)
    expect(
      ((await rejection(client({ baseUrl: 'http://127.0.0.1:1' }).get('/u/:id', { params: {} }))) as HttpRequestError)
        .code,
    ).toBe('HTTP_INVALID_REQUEST')
  })

  describe('default instance', () => {
    afterEach(async () => {
      await resetHttp()
    })

    it('http() is built once; initHttp() before first use configures it, after it throws', async () => {
      const s = await echo()
      initHttp({ envPrefix: false, baseUrl: s.url })
      expect(http()).toBe(http())
      expect((await http().get('/default').json<Echo>()).url).toBe('/default')
      let error: unknown
      try {
        initHttp({ envPrefix: false })
      } catch (e) {
        error = e
      }
      expect(isCoreError(error, 'CORE_ALREADY_INITIALIZED')).toBe(true)
      const first = http()
      await resetHttp()
      expect(http()).not.toBe(first)
      expect(((await rejection(first.get('/'))) as HttpRequestError).code).toBe('HTTP_CLOSED')
    })
  })
})
