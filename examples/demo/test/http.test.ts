import http from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isConfigError } from '@beaver-kit/config'
import { createCache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createUrlSigner, generateKeyRingEntry } from '@beaver-kit/krypto'
import { startApp } from '../src/app.ts'
import { captureLogger, harness, shorten, type Harness } from './helpers.ts'

/** Sends raw bytes and resolves with everything the server wrote before it closed the socket. */
function raw(url: string, bytes: string, keepOpen = false): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(bytes))
    let text = ''
    socket.on('data', (d: Buffer) => {
      text += d.toString()
      if (!keepOpen && text.includes('\r\n\r\n')) socket.end()
    })
    socket.on('close', () => resolve(text))
    socket.on('error', reject)
  })
}

describe('Beaver Links: HTTP behaviour', () => {
  let h: Harness
  beforeAll(async () => {
    h = await harness({ fetchTitles: false, requestTimeout: '1s', headersTimeout: '1s' })
  })
  afterAll(() => h.close())

  it('answers a wrong method with 405 and Allow, GET /links included', async () => {
    const links = await fetch(`${h.app.url}/links`)
    expect([links.status, links.headers.get('allow')]).toEqual([405, 'POST'])
    expect(await links.json()).toEqual({ error: '/links answers POST; GET /links/:code shows one link' })
    const health = await fetch(`${h.app.url}/health`, { method: 'POST' })
    expect([health.status, health.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
    const link = await fetch(`${h.app.url}/links/abcdefgh`, { method: 'PUT' })
    expect([link.status, link.headers.get('allow')]).toEqual([405, 'GET, HEAD, DELETE'])
    const redirect = await fetch(`${h.app.url}/abcdefgh`, { method: 'DELETE' })
    expect([redirect.status, redirect.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
  })

  it('answers HEAD like GET without a body, and a HEAD on a short link counts no hit', async () => {
    const head = await fetch(`${h.app.url}/health`, { method: 'HEAD' })
    expect(head.status).toBe(200)
    expect(head.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await head.text()).toBe('')
    const { body } = await shorten(h.app, 'https://example.org/')
    const res = await fetch(`${h.app.url}/${body.code}`, { method: 'HEAD', redirect: 'manual' })
    expect([res.status, res.headers.get('location')]).toEqual([302, 'https://example.org/'])
    const info = (await (await fetch(`${h.app.url}/links/${body.code}`)).json()) as { hits: number }
    expect(info.hits).toBe(0)
  })

  it('answers an unparsable request target with 400, not a 500 with an error log', async () => {
    const text = await raw(h.app.url, 'GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    expect(text).toMatch(/^HTTP\/1\.1 400 /)
    expect(text).toContain('{"error":"the request target is not a valid URL"}')
    expect(h.lines.filter((l) => l.level === 50)).toEqual([])
    expect(h.lines.find((l) => l.msg === 'request' && l.status === 400)).toMatchObject({ path: '(unparsable)' })
  })

  it('answers 404 for paths that are no endpoint', async () => {
    expect((await fetch(`${h.app.url}/favicon.ico`)).status).toBe(404)
    expect((await fetch(`${h.app.url}/a/b/c`)).status).toBe(404)
  })

  it('gives up on a client that sends its body too slowly: 408 after the request timeout', async () => {
    const text = await raw(
      h.app.url,
      'POST /links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"u',
      true,
    )
    expect(text).toMatch(/^HTTP\/1\.1 408 /)
  })

  it('gives up on a client that never finishes its headers', async () => {
    const text = await raw(h.app.url, 'GET /health HTTP/1.1\r\nHost: x\r\n', true)
    expect(text).toMatch(/^HTTP\/1\.1 408 /)
  })
})

describe('Beaver Links: start-up', () => {
  it('names BEAVER_DEMO_PORT when the port is in use', async () => {
    const other = http.createServer()
    other.listen(0, '127.0.0.1')
    await once(other, 'listening')
    const port = (other.address() as AddressInfo).port
    const { logger } = captureLogger()
    const deps = {
      db: createDatabase({ driver: 'sqlite', file: ':memory:', envPrefix: false }),
      cache: createCache({ driver: 'memory', envPrefix: false }),
      logger,
      signer: createUrlSigner({ envPrefix: false, keys: generateKeyRingEntry('test') }),
    }
    try {
      const error = await startApp({ config: { port, fetchTitles: false }, env: {}, deps }).catch((e: unknown) => e)
      expect(isConfigError(error)).toBe(true)
      expect((error as Error).message).toContain(
        `BEAVER_DEMO_PORT is "${port}": a port to listen on: 127.0.0.1:${port} is in use by another process (set BEAVER_DEMO_PORT; port 0 picks a free one)`,
      )
    } finally {
      other.close()
      await Promise.all([deps.db.close(), deps.cache.close(), logger.close()])
    }
  })

  it('rejects a bad setting naming the variable', async () => {
    const error = await startApp({ env: { BEAVER_DEMO_PORT: 'eighty' } }).catch((e: unknown) => e)
    expect(isConfigError(error) && error.message).toContain('BEAVER_DEMO_PORT is "eighty"')
  })
})
