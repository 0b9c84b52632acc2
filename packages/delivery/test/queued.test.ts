import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStandInQueue } from '@beaver-kit/testkit/job-queue'
import {
  consumeSends,
  createCacheLedger,
  createMemoryLedger,
  createProviderClient,
  enqueueSend,
} from '@beaver-kit/delivery'

describe('queued sends', () => {
  it('one job per idempotency key, one send per key even when redelivered', async () => {
    const queue = createStandInQueue()
    const a = await enqueueSend(queue, 'q', { idempotencyKey: 'k1', body: 'x' }, { delay: '1s', priority: 5 })
    const b = await enqueueSend(queue, 'q', { idempotencyKey: 'k1', body: 'x' })
    const c = await enqueueSend(queue, 'q', { body: 'y' }, { runAt: Date.now() })
    expect(a).toEqual({ jobId: 'q:k1', idempotencyKey: 'k1' })
    expect(b.jobId).toBe(a.jobId)
    expect(c.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/)
    const sent: string[] = []
    const consumer = await consumeSends(
      queue,
      'q',
      createMemoryLedger(),
      async (p) => {
        sent.push(String(p.body))
        return `id-${sent.length}`
      },
      { concurrency: 2 },
    )
    queue.crashAfterHandler()
    await queue.drain()
    await consumer.close()
    expect(sent.sort()).toEqual(['x', 'y'])
  })

  it('ledgers remember for their time and within their size; the cache ledger reads only strings', async () => {
    const small = createMemoryLedger({ max: 1, ttlMs: 60_000 })
    await small.set('a', '1')
    await small.set('b', '2')
    expect(await small.get('a')).toBeUndefined()
    expect(await small.get('b')).toBe('2')
    const expired = createMemoryLedger({ ttlMs: -1 })
    await expired.set('a', '1')
    expect(await expired.get('a')).toBeUndefined()
    const store = new Map<string, unknown>()
    const cached = createCacheLedger({ get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) })
    await cached.set('k', 'm-1')
    expect(await cached.get('k')).toBe('m-1')
    store.set('sent:odd', 42)
    expect(await cached.get('odd')).toBeUndefined()
  })
})

describe('provider client', () => {
  let server: Server
  let base = ''
  let hits = 0
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++
      if (req.url === '/json')
        return res.writeHead(200, { 'content-type': 'application/json', 'x-id': 'abc' }).end('{"ok":true}')
      if (req.url === '/text') return res.writeHead(200).end('plain')
      if (req.url === '/empty') return res.writeHead(202).end()
      if (req.url === '/busy' && hits % 2 === 1) return res.writeHead(503, { 'retry-after': '0' }).end()
      if (req.url === '/busy') return res.writeHead(200).end('{"after":"retry"}')
      res.writeHead(400).end('{"error":"bad"}')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('posts, parses JSON or text, retries 503, and throws the HTTP error for the caller to classify', async () => {
    const client = await createProviderClient({
      neededBy: 'a test',
      baseUrl: base,
      headers: { authorization: 'Bearer x' },
      retry: { attempts: 3, baseDelay: 1, maxDelay: 2 },
      userAgent: 'test',
    })
    try {
      const json = await client.post('/json', { json: { a: 1 } })
      expect([json.status, json.body, json.header('x-id')]).toEqual([200, { ok: true }, 'abc'])
      expect((await client.post('/text', { body: new URLSearchParams({ a: '1' }) })).body).toBe('plain')
      expect((await client.post('/empty', {})).body).toBeUndefined()
      hits = 0
      expect((await client.post('/busy', { idempotencyKey: 'k' })).body).toEqual({ after: 'retry' })
      await expect(client.post('/bad', {})).rejects.toMatchObject({ code: 'HTTP_STATUS', status: 400 })
    } finally {
      await client.close()
    }
  })
})
