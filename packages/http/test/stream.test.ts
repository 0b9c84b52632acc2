import { describe, expect, it } from 'vitest'
import type { Readable } from 'node:stream'
import zlib from 'node:zlib'
import { isHttpTimeoutError, type HttpRequestError, type HttpTimeoutError } from '../src/index.ts'
import { gate } from './servers.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client, defer } = useHarness()

/** Reads a stream to its end; rejects with the stream's error. */
async function drain(body: Readable | undefined): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body!) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** A server that sends the headers and a first chunk, then holds the body until the gate opens. */
async function stalling() {
  const hold = gate()
  defer(async () => hold.open())
  const s = await server(async (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.write('first chunk;')
    await hold.wait
    res.end('rest')
  })
  return { s, hold }
}

describe('responseType: stream', () => {
  it('the call deadline covers the body, not just the headers', async () => {
    const { s } = await stalling()
    // Long enough for the headers on a loaded machine; the body never comes.
    const c = client({ timeouts: { total: 2000, body: '30s' } })
    const res = await c.get(s.url, { responseType: 'stream' })
    expect(res.status).toBe(200)
    const error = (await rejection(drain(res.body))) as HttpTimeoutError
    expect(isHttpTimeoutError(error)).toBe(true)
    expect([error.phase, error.timeoutMs]).toEqual(['total', 2000])
  })

  it('the idle timeout between chunks applies while streaming', async () => {
    const { s } = await stalling()
    // The deadline shortens the headers limit (60 s > 30 s left), not the body's: a silence of
    // 150 ms is the body's idle timeout, not the deadline.
    const c = client({ timeouts: { body: 150, headers: '60s', total: '30s' } })
    const res = await c.get(s.url, { responseType: 'stream' })
    const error = (await rejection(drain(res.body))) as HttpTimeoutError
    expect([error.code, error.phase, error.timeoutMs]).toEqual(['HTTP_TIMEOUT', 'body', 150])
  })

  it("the caller's signal still ends a body being read", async () => {
    const { s } = await stalling()
    const controller = new AbortController()
    const res = await client().get(s.url, { responseType: 'stream', signal: controller.signal })
    const reason = new Error('reader went away')
    const reading = rejection(drain(res.body))
    controller.abort(reason)
    expect(await reading).toBe(reason)
  })

  it('a body read to its end within the deadline is untouched by it', async () => {
    const { s, hold } = await stalling()
    const c = client({ timeouts: { total: '5s' } })
    const res = await c.get(s.url, { responseType: 'stream' })
    hold.open()
    expect((await drain(res.body)).toString()).toBe('first chunk;rest')
    // The deadline was disarmed with the body: the next call starts afresh.
    expect(await c.get(s.url).text()).toBe('first chunk;rest')
  })

  it('limits the decoded size, so a small compressed body cannot expand without bound', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(20 * 1024 * 1024))
    const s = await server((_req, res) => res.writeHead(200, { 'content-encoding': 'gzip' }).end(bomb))
    const c = client({ limits: { maxResponseSize: '1mb' } })
    const res = await c.get(s.url, { responseType: 'stream' })
    const error = (await rejection(drain(res.body))) as HttpRequestError
    expect(bomb.length).toBeLessThan(1024 * 1024)
    expect(error.code).toBe('HTTP_RESPONSE_TOO_LARGE')
    expect(error.details.maxSize).toBe(1024 * 1024)
    // Under the limit, the decoded body streams through whole.
    const fine = await client({ limits: { maxResponseSize: '21mb' } }).get(s.url, { responseType: 'stream' })
    expect((await drain(fine.body)).length).toBe(20 * 1024 * 1024)
  })

  it('limits the raw size of an uncompressed stream too', async () => {
    const s = await server((_req, res) => {
      res.writeHead(200)
      res.end(Buffer.alloc(256 * 1024, 1))
    })
    const res = await client().get(s.url, { responseType: 'stream', maxResponseSize: '64kb' })
    expect(((await rejection(drain(res.body))) as HttpRequestError).code).toBe('HTTP_RESPONSE_TOO_LARGE')
  })
})
