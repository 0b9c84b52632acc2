import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { BodyTooLargeError, readBody, requestUrl, toNodeHandler, type WebhookRequest } from '@beaver-kit/delivery'

let server: Server | undefined
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()))
  server = undefined
})

async function serve(listener: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(listener)
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('node adapter', () => {
  it('hands the raw body, headers and full URL to the handler and writes its reply', async () => {
    let seen: WebhookRequest | undefined
    const url = await serve(
      toNodeHandler(async (request) => {
        seen = request
        return { status: 202, headers: { 'x-reply': '1' }, body: 'accepted' }
      }),
    )
    const response = await fetch(`${url}/hooks?x=1`, { method: 'POST', headers: { 'X-Sig': 'abc' }, body: 'raw body' })
    expect(response.status).toBe(202)
    expect(response.headers.get('x-reply')).toBe('1')
    expect(await response.text()).toBe('accepted')
    expect(seen?.body.toString()).toBe('raw body')
    expect(seen?.headers['x-sig']).toBe('abc')
    expect(seen?.url).toBe(`${url}/hooks?x=1`)
  })

  it('uses the public URL behind a proxy, answers 413 past the limit and 500 on a failure', async () => {
    const errors: unknown[] = []
    let seenUrl = ''
    const url = await serve(
      toNodeHandler(
        async (request) => {
          seenUrl = request.url
          if (request.body.toString() === 'boom') throw new Error('boom')
          return { status: 200 }
        },
        { limit: 10, publicUrl: 'https://api.example.com', onError: (e) => errors.push(e) },
      ),
    )
    expect((await fetch(`${url}/h`, { method: 'POST', body: 'ok' })).status).toBe(200)
    expect(seenUrl).toBe('https://api.example.com/h')
    expect((await fetch(`${url}/h`, { method: 'POST', body: 'x'.repeat(11) })).status).toBe(413)
    const chunked = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode('x'.repeat(8)))
        c.enqueue(new TextEncoder().encode('x'.repeat(8)))
        c.close()
      },
    })
    expect((await fetch(`${url}/h`, { method: 'POST', body: chunked, duplex: 'half' } as RequestInit)).status).toBe(413)
    expect((await fetch(`${url}/h`, { method: 'POST', body: 'boom' })).status).toBe(500)
    expect(errors).toHaveLength(1)
  })

  it('readBody and requestUrl on their own', async () => {
    const url = await serve((req, res) => {
      readBody(req, 4).then(
        () => res.end('read'),
        (e: unknown) => res.end(e instanceof BodyTooLargeError ? `too large ${e.limit}` : 'other'),
      )
    })
    expect(await (await fetch(url, { method: 'POST', body: 'abcdef' })).text()).toBe('too large 4')
    const fake = { url: '/p', headers: {}, socket: {} } as Parameters<typeof requestUrl>[0]
    expect(requestUrl(fake)).toBe('/p')
    expect(
      requestUrl({ ...fake, headers: { host: 'h' }, socket: { encrypted: true } } as unknown as Parameters<
        typeof requestUrl
      >[0]),
    ).toBe('https://h/p')
  })
})
