import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type HttpNetworkError, type HttpRequestError } from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client, defer } = useHarness()

let dir: string
let certFile: string
let cert: string
let key: string

beforeAll(() => {
  // A self-signed certificate for localhost and 127.0.0.1, made fresh for this run.
  dir = mkdtempSync(join(tmpdir(), 'beaver-http-tls-'))
  certFile = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
  cert = readFileSync(certFile, 'utf8')
  key = readFileSync(join(dir, 'key.pem'), 'utf8')
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

/** An HTTPS server speaking HTTP/2 and HTTP/1.1 (ALPN), answering with the protocol it spoke. */
async function httpsServer(
  handler?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
): Promise<{ url: string; requests: number }> {
  const state = { url: '', requests: 0 }
  const s = http2.createSecureServer({ key, cert, allowHTTP1: true }, (req, res) => {
    state.requests++
    if (handler) return handler(req, res)
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ httpVersion: req.httpVersion, path: req.url }))
  })
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve))
  state.url = `https://127.0.0.1:${(s.address() as AddressInfo).port}`
  const sessions = new Set<http2.ServerHttp2Session>()
  s.on('session', (session) => sessions.add(session))
  defer(
    () =>
      new Promise<void>((resolve) => {
        s.close(() => resolve())
        // HTTP/2 sessions stay open until closed from this side.
        for (const session of sessions) session.destroy()
      }),
  )
  return state
}

describe('TLS and HTTP/2 against a local https server (self-signed)', () => {
  it('verifies certificates: an untrusted one fails as a network error naming the TLS cause', async () => {
    const s = await httpsServer()
    const error = (await rejection(client({ retry: { maxAttempts: 1 } }).get(`${s.url}/`))) as HttpNetworkError
    expect(error.code).toBe('HTTP_NETWORK')
    expect(error.causeCode).toBe('DEPTH_ZERO_SELF_SIGNED_CERT')
    expect(s.requests).toBe(0)
  })

  it('trusts a CA given as an option, besides the system ones, and speaks HTTP/1.1 by default', async () => {
    const s = await httpsServer()
    const c = client({ tls: { ca: cert } })
    expect(await c.get(`${s.url}/one`).json()).toEqual({ httpVersion: '1.1', path: '/one' })
    expect(c.describe().settings.find((e) => e.path === 'tls.ca')).toMatchObject({ source: 'option', value: cert })
    const asBuffer = client({ tls: { ca: [Buffer.from(cert)] } })
    expect((await asBuffer.get(`${s.url}/two`)).status).toBe(200)
  })

  it('reads the CA from BEAVER_HTTP_TLS_CA_FILE', async () => {
    const s = await httpsServer()
    const c = client({ envPrefix: undefined, env: { BEAVER_HTTP_TLS_CA_FILE: certFile } })
    expect(await c.get(`${s.url}/file`).json()).toEqual({ httpVersion: '1.1', path: '/file' })
  })

  it('speaks HTTP/2 when pool.http2 is on, with retries, timeouts and the breaker as usual', async () => {
    let calls = 0
    const s = await httpsServer((req, res) => {
      calls++
      if (calls === 1) return void res.writeHead(503).end()
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ httpVersion: req.httpVersion, path: req.url }))
    })
    const c = client({ tls: { ca: cert }, pool: { http2: true }, retry: { baseDelay: 1 } })
    const res = await c.get(`${s.url}/h2`)
    expect(await res.json()).toEqual({ httpVersion: '2.0', path: '/h2' })
    expect(res.attempts).toBe(2)
    expect(c.breakers.state(s.url)).toBe('closed')
  })

  it('refuses a redirect from https to plain http unless redirectDowngrade is set', async () => {
    const plain = await server((req, res) => res.end(`plain ${req.method} ${req.url}`))
    const s = await httpsServer((_req, res) => void res.writeHead(307, { location: `${plain.url}/landed` }).end())
    const c = client({ tls: { ca: cert } })
    const error = (await rejection(c.post(`${s.url}/pay`, { json: { card: '4111' } }))) as HttpRequestError
    expect(error.code).toBe('HTTP_REDIRECT')
    expect(error.message).toMatch(/https to plain http/)
    expect(plain.requests).toHaveLength(0)
    const allowed = client({ tls: { ca: cert }, redirectDowngrade: true })
    expect(await allowed.get(`${s.url}/page`).text()).toBe('plain GET /landed')
    expect(plain.requests).toHaveLength(1)
  })
})
