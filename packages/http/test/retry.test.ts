import { afterEach, describe, expect, it, vi } from 'vitest'
import dc from 'node:diagnostics_channel'
import { eventually, startFaultProxy } from '@beaver-kit/testkit'
import {
  type HttpError,
  type HttpRequestError,
  HttpNetworkError,
  isCircuitOpenError,
  isHttpError,
  isRetryBudgetExceededError,
  type RetryEvent,
} from '../src/index.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, held, client, defer } = useHarness()

afterEach(() => {
  vi.useRealTimers()
})

/** Yields to I/O until `cond` holds (real time bounded, independent of faked timers). */
async function until(cond: () => boolean): Promise<void> {
  const started = performance.now()
  while (!cond()) {
    if (performance.now() - started > 20_000) throw new Error('condition not met within 20 s')
    await new Promise((resolve) => setImmediate(resolve))
  }
}

describe('retries', () => {
  it('retries idempotent methods on 500, 502, 503, 504 and network errors, then succeeds', async () => {
    const s = await server((_req, res, n) => {
      if (n === 1) res.writeHead(502).end()
      else if (n === 2) res.socket?.resetAndDestroy()
      else res.end('ok')
    })
    const c = client({ retry: { baseDelay: 1 } })
    const res = await c.get(s.url)
    expect(await res.text()).toBe('ok')
    expect(res.attempts).toBe(3)
  })

  it('gives up after maxAttempts with the last HttpError (status, headers, excerpt, request id)', async () => {
    const s = await server((_req, res) => {
      res.writeHead(500, { 'x-request-id': 'req-42', 'content-type': 'text/plain' })
      res.end('database on fire' + 'x'.repeat(5000))
    })
    const c = client({ retry: { baseDelay: 1, maxAttempts: 2 } })
    const error = (await rejection(c.get(`${s.url}/things?token=secret`))) as HttpError
    expect(isHttpError(error)).toBe(true)
    expect(error.code).toBe('HTTP_STATUS')
    expect(error.status).toBe(500)
    expect(error.requestId).toBe('req-42')
    expect(error.headers['content-type']).toBe('text/plain')
    expect(error.bodyExcerpt.startsWith('database on fire')).toBe(true)
    expect(error.bodyExcerpt.length).toBe(1024)
    expect(error.details.attempts).toBe(2)
    expect(error.message).toContain('/things')
    expect(error.message).not.toContain('secret')
    expect(s.requests).toHaveLength(2)
  })

  it('does not retry 4xx other than 408, 425, 429', async () => {
    const s = await server((_req, res) => res.writeHead(404).end())
    const c = client({ retry: { baseDelay: 1 } })
    expect(((await rejection(c.get(s.url))) as HttpError).status).toBe(404)
    expect(s.requests).toHaveLength(1)
  })

  it('throwHttpErrors: false hands back the final response instead', async () => {
    const s = await server((_req, res) => res.writeHead(503).end('still down'))
    const c = client({ retry: { baseDelay: 1 }, throwHttpErrors: false })
    const res = await c.get(s.url)
    expect(res.status).toBe(503)
    expect(res.attempts).toBe(3)
    expect(await res.text()).toBe('still down')
  })

  it('connection reset mid-body is a network error with the undici cause, and GET is retried', async () => {
    const s = await server((_req, res, n) => {
      res.writeHead(200, { 'content-length': '100000' })
      if (n === 1) {
        res.write('x'.repeat(1000), () => res.socket?.resetAndDestroy())
        return
      }
      res.end('y'.repeat(100000))
    })
    const once = client({ retry: { maxAttempts: 1 } })
    const error = (await rejection(once.get(s.url))) as HttpNetworkError
    expect(error).toBeInstanceOf(HttpNetworkError)
    expect(error.code).toBe('HTTP_NETWORK')
    expect(error.cause).toBeInstanceOf(Error)
    expect(error.message).not.toBe('fetch failed')
    expect(error.causeCode).toMatch(/^(UND_ERR|ECONNRESET)/)
    const c = client({ retry: { baseDelay: 1 } })
    expect((await c.get(s.url).text()).length).toBe(100000)
  })

  it('a reset mid-body through the fault proxy is retried', async () => {
    const s = await server((_req, res) => res.end('z'.repeat(200_000)))
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: s.port } })
    defer(() => proxy.close())
    proxy.closeAfter(50_000)
    const c = client({ retry: { baseDelay: 1, maxAttempts: 2 } })
    const attempt = c.get(proxy.url(s.url))
    const error = await rejection(attempt)
    expect((error as HttpNetworkError).code).toBe('HTTP_NETWORK')
    expect(s.requests.length).toBe(2)
    proxy.heal()
    expect((await c.get(proxy.url(s.url)).text()).length).toBe(200_000)
  })
})

describe('only idempotent methods by default', () => {
  it('never retries POST or PATCH without an Idempotency-Key', async () => {
    const s = await server((_req, res) => res.writeHead(503).end())
    const c = client({ retry: { baseDelay: 1, maxAttempts: 5 } })
    expect(((await rejection(c.post(s.url, { json: { a: 1 } }))) as HttpError).status).toBe(503)
    expect(((await rejection(c.patch(s.url, { json: { a: 1 } }))) as HttpError).status).toBe(503)
    expect(s.requests).toHaveLength(2)
    const networkFailure = await server((_req, res) => res.socket?.resetAndDestroy())
    expect(((await rejection(c.post(networkFailure.url, { body: 'x' }))) as HttpNetworkError).code).toBe('HTTP_NETWORK')
    expect(networkFailure.requests).toHaveLength(1)
  })

  it('retries POST with an Idempotency-Key, the same key on every attempt', async () => {
    const s = await server((_req, res, n) => (n < 3 ? res.writeHead(503).end() : res.end('created')))
    const c = client({ retry: { baseDelay: 1 } })
    expect(await c.post(s.url, { json: { a: 1 }, idempotencyKey: true }).text()).toBe('created')
    const keys = s.requests.map((r) => r.headers['idempotency-key'])
    expect(keys).toHaveLength(3)
    expect(new Set(keys).size).toBe(1)
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('retries POST when the caller set the header, the client generates keys, or opts in', async () => {
    const s = await server((_req, res, n) => (n % 2 === 1 ? res.writeHead(503).end() : res.end('ok')))
    const c = client({ retry: { baseDelay: 1 } })
    await c.post(s.url, { headers: { 'Idempotency-Key': 'mine' } })
    expect(s.requests[1]!.headers['idempotency-key']).toBe('mine')
    await c.post(s.url, { retry: { unsafe: true } })
    expect(s.requests[3]!.headers['idempotency-key']).toBeUndefined()
    const auto = client({ retry: { baseDelay: 1, idempotencyKeys: true } })
    await auto.post(s.url)
    expect(s.requests[5]!.headers['idempotency-key']).toBe(s.requests[4]!.headers['idempotency-key'])
    expect(s.requests).toHaveLength(6)
  })

  it('does not retry a stream body, which cannot be replayed', async () => {
    const { Readable } = await import('node:stream')
    const s = await server((_req, res) => res.writeHead(503).end())
    const c = client({ retry: { baseDelay: 1 } })
    await rejection(c.put(s.url, { body: Readable.from([Buffer.from('once')]) }))
    expect(s.requests).toHaveLength(1)
  })
})

describe('Retry-After', () => {
  it('waits the seconds a 503 asks for', async () => {
    const s = await server((_req, res, n) =>
      n === 1 ? res.writeHead(503, { 'retry-after': '2' }).end() : res.end('ok'),
    )
    const delays: number[] = []
    const c = client({ retry: { onRetry: (e: RetryEvent) => delays.push(e.delayMs) }, timeouts: { total: 0 } })
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    const pending = c.get(s.url)
    await until(() => delays.length === 1)
    expect(delays).toEqual([2000])
    await vi.advanceTimersByTimeAsync(1999)
    expect(s.requests).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(await (await pending).text()).toBe('ok')
    expect(s.requests).toHaveLength(2)
  })

  it('waits until the HTTP date a 429 names, capped by maxRetryAfter', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: Date.UTC(2030, 0, 1, 12, 0, 0) })
    const s = await server((_req, res, n) =>
      n === 1 ? res.writeHead(429, { 'retry-after': new Date(Date.now() + 5000).toUTCString() }).end() : res.end('ok'),
    )
    const delays: number[] = []
    const c = client({
      retry: { onRetry: (e: RetryEvent) => delays.push(e.delayMs), maxRetryAfter: '3s' },
      timeouts: { total: 0 },
    })
    const pending = c.get(s.url)
    await until(() => delays.length === 1)
    expect(delays).toEqual([3000])
    await vi.advanceTimersByTimeAsync(3000)
    expect(await (await pending).text()).toBe('ok')

    expect(s.requests).toHaveLength(2)
  })

  it('publishes each retry on beaver:http:retry', async () => {
    const events: RetryEvent[] = []
    const listener = (m: unknown): void => void events.push(m as RetryEvent)
    dc.subscribe('beaver:http:retry', listener)
    defer(() => void dc.unsubscribe('beaver:http:retry', listener))
    const s = await server((_req, res, n) => (n === 1 ? res.writeHead(503).end() : res.end()))
    const c = client({ retry: { baseDelay: 1 } })
    await c.get(`${s.url}/users/:id`, { params: { id: 7 } })
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({
      method: 'GET',
      host: s.url,
      route: '/users/:id',
      attempt: 1,
      code: 'HTTP_STATUS',
      status: 503,
    })
  })
})

describe('retry budget', () => {
  it('caps retries at a share of recent requests under a burst', async () => {
    const s = await server((_req, res) => res.writeHead(503).end())
    const c = client({
      retry: { baseDelay: 1, maxAttempts: 5 },
      budget: { ratio: 0.1, minPerSecond: 0 },
      breaker: { enabled: false },
    })
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => c.get(s.url)))
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as unknown) : undefined))
    expect(errors.every((e) => isRetryBudgetExceededError(e))).toBe(true)
    // 50 first attempts and 10% of them as retries: 55 requests instead of 250.
    expect(s.requests).toHaveLength(55)
    expect(((errors[0] as Error).cause as HttpError).status).toBe(503)
  })

  it('with throwHttpErrors off, a spent budget still hands back the last response', async () => {
    const s = await server((_req, res) => res.writeHead(503).end('down'))
    const c = client({ retry: { baseDelay: 1 }, budget: { ratio: 0, minPerSecond: 0 }, throwHttpErrors: false })
    const res = await c.get(s.url)
    expect([res.status, res.attempts]).toEqual([503, 1])
    expect(s.requests).toHaveLength(1)
  })

  it('a 429 storm is retried within the budget and never trips the breaker', async () => {
    const s = await server((_req, res) => res.writeHead(429, { 'retry-after': '0' }).end())
    const c = client({
      retry: { baseDelay: 1, maxAttempts: 3 },
      budget: { ratio: 0.2, minPerSecond: 0 },
      breaker: { consecutiveFailures: 2 },
    })
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => c.get(s.url)))
    // 20 first attempts, and 20% of them (4) as retries; then the budget refuses.
    expect(s.requests).toHaveLength(24)
    const errors = results.map((r) => (r.status === 'rejected' ? (r.reason as HttpRequestError) : undefined))
    // Each call ends with the budget refusing its next retry, or with the 429 once its 3 attempts are spent.
    for (const e of errors as unknown[]) {
      const spent = isHttpError(e) && e.status === 429 && e.details.attempts === 3
      expect(isRetryBudgetExceededError(e) || spent).toBe(true)
    }
    expect(errors.reduce((sum, e) => sum + (e!.details.attempts as number), 0)).toBe(24)
    expect(c.breakers.state(s.url)).toBe('closed')
  })
})

describe('never retried: too large, circuit open, bulkhead full, aborted', () => {
  function counting() {
    const retries: RetryEvent[] = []
    return { retries, onRetry: (e: RetryEvent) => void retries.push(e) }
  }

  it('a response over the size limit is not retried, with attempts to spare', async () => {
    const s = await server((_req, res) => res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) }).end())
    const { retries, onRetry } = counting()
    const c = client({ retry: { baseDelay: 1, maxAttempts: 3, onRetry }, limits: { maxResponseSize: '1kb' } })
    const error = (await rejection(c.get(s.url))) as HttpRequestError
    expect([error.code, error.details.attempts]).toEqual(['HTTP_RESPONSE_TOO_LARGE', 1])
    expect(s.requests).toHaveLength(1)
    expect(retries).toHaveLength(0)
  })

  it('an open circuit fails the retry fast, without a request, and is not retried itself', async () => {
    const s = await server((_req, res) => res.writeHead(500).end())
    const { retries, onRetry } = counting()
    const c = client({ retry: { baseDelay: 1, maxAttempts: 3, onRetry }, breaker: { consecutiveFailures: 1 } })
    // Attempt 1 answers 500 and trips the breaker; attempt 2 meets the open circuit; no attempt 3.
    const error = await rejection(c.get(s.url))
    expect(isCircuitOpenError(error)).toBe(true)
    expect((error as HttpRequestError).details.attempts).toBe(2)
    expect(s.requests).toHaveLength(1)
    expect(retries.map((r) => r.code)).toEqual(['HTTP_STATUS'])
    expect(isCircuitOpenError(await rejection(c.get(s.url)))).toBe(true)
    expect(s.requests).toHaveLength(1)
    expect(retries).toHaveLength(1)
  })

  it('a full bulkhead refuses at once and is not retried', async () => {
    const s = await held()
    const { retries, onRetry } = counting()
    const c = client({ retry: { baseDelay: 1, maxAttempts: 3, onRetry }, bulkhead: { maxConcurrent: 1, maxQueue: 0 } })
    const first = c.get(s.url)
    const refused = (await rejection(c.get(s.url))) as HttpRequestError
    expect([refused.code, refused.details.attempts]).toEqual(['HTTP_BULKHEAD_FULL', 1])
    expect(retries).toHaveLength(0)
    s.release()
    expect((await first).status).toBe(200)
    expect(s.requests).toHaveLength(1)
  })

  it('an aborted call ends with the reason and is not retried', async () => {
    const s = await held('late')
    const { retries, onRetry } = counting()
    const c = client({ retry: { baseDelay: 1, maxAttempts: 3, onRetry } })
    const controller = new AbortController()
    const pending = c.get(s.url, { signal: controller.signal })
    await eventually(() => expect(s.requests).toHaveLength(1))
    const reason = new Error('caller left')
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    expect(retries).toHaveLength(0)
    expect(s.requests).toHaveLength(1)
  })
})
