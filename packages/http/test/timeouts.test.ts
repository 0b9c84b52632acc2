import { describe, expect, it } from 'vitest'
import { startFaultProxy } from '@beaver-kit/testkit'
import { isHttpTimeoutError, HttpTimeoutError } from '../src/index.ts'
import { gate, startBlackhole } from './servers.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, held, client, defer } = useHarness()

describe('timeouts per phase', () => {
  it('slow connect: a timeout in phase connect', async () => {
    const hole = await startBlackhole()
    defer(() => hole.close())
    const c = client({ timeouts: { connect: 150 }, retry: { maxAttempts: 1 } })
    const error = await rejection(c.get(`http://127.0.0.1:${hole.port}/`))
    expect(isHttpTimeoutError(error)).toBe(true)
    expect((error as HttpTimeoutError).phase).toBe('connect')
    expect((error as HttpTimeoutError).message).toMatch(/connecting/)
  })

  it('slow headers: a timeout in phase headers, retried like any transient failure', async () => {
    const hold = gate()
    defer(async () => hold.open())
    const s = await server(async (_req, res, n) => {
      if (n === 1) await hold.wait
      res.end('late but fine')
    })
    // 600 ms: the second attempt answers at once, but a loaded machine must still get it in time.
    const c = client({ timeouts: { headers: 600 }, retry: { baseDelay: 1 } })
    const res = await c.get(`${s.url}/slow`)
    expect(await res.text()).toBe('late but fine')
    expect(res.attempts).toBe(2)

    const once = client({ timeouts: { headers: 150 }, retry: { maxAttempts: 1 } })
    const s2 = await held()
    const error = await rejection(once.get(s2.url))
    expect((error as HttpTimeoutError).phase).toBe('headers')
    expect((error as HttpTimeoutError).timeoutMs).toBe(150)
  })

  it('slow body: a timeout in phase body when chunks stop coming', async () => {
    const hold = gate()
    defer(async () => hold.open())
    const s = await server(async (_req, res) => {
      res.writeHead(200, { 'content-length': '100' })
      res.write('x'.repeat(10))
      await hold.wait
      res.end('x'.repeat(90))
    })
    const c = client({ timeouts: { body: 150 }, retry: { maxAttempts: 1 } })
    const error = await rejection(c.get(s.url))
    expect(error).toBeInstanceOf(HttpTimeoutError)
    expect((error as HttpTimeoutError).phase).toBe('body')
  })

  it('per-request timeouts beat the client settings', async () => {
    const s = await held()
    const c = client({ timeouts: { headers: '30s' }, retry: { maxAttempts: 1 } })
    const error = await rejection(c.get(s.url, { timeouts: { headers: '100ms' } }))
    expect((error as HttpTimeoutError).phase).toBe('headers')
    expect((error as HttpTimeoutError).timeoutMs).toBe(100)
  })

  it('a slow body through a latency proxy still completes within generous limits', async () => {
    const s = await server((_req, res) => res.end('y'.repeat(5000)))
    const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: s.port } })
    defer(() => proxy.close())
    proxy.setLatency(30)
    const c = client({ timeouts: { body: '5s', headers: '5s' } })
    expect((await c.get(proxy.url(s.url)).text()).length).toBe(5000)
  })
})

describe('total deadline across attempts', () => {
  it('ends the call in phase total, the remaining budget bounding each attempt', async () => {
    const hold = gate()
    defer(async () => hold.open())
    const s = await server(async (_req, res, n) => {
      if (n === 1) {
        res.writeHead(503, { 'retry-after': '0' })
        res.end('busy')
        return
      }
      await hold.wait
      res.end('too late')
    })
    const c = client({
      // Long enough for the first attempt's 503 on a loaded machine; the second one is held.
      timeouts: { total: 2000, headers: '30s' },
      retry: { maxAttempts: 5, baseDelay: 1 },
      deadlineHeader: 'x-deadline-ms',
    })
    const error = await rejection(c.get(`${s.url}/deadline`))
    expect(error).toBeInstanceOf(HttpTimeoutError)
    expect((error as HttpTimeoutError).phase).toBe('total')
    expect((error as HttpTimeoutError).details.attempts).toBe(2)
    expect(s.requests).toHaveLength(2)
    const first = Number(s.requests[0]!.headers['x-deadline-ms'])
    const second = Number(s.requests[1]!.headers['x-deadline-ms'])
    expect(first).toBeGreaterThan(0)
    expect(first).toBeLessThanOrEqual(2000)
    expect(second).toBeLessThanOrEqual(first)
  })

  it('does not start a retry whose backoff would pass the deadline', async () => {
    const s = await server((_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' })
      res.end()
    })
    const c = client({ timeouts: { total: '2s' }, retry: { maxAttempts: 5, maxRetryAfter: '1h' } })
    const error = await rejection(c.get(s.url))
    // The server asked for an hour; the call had two seconds: fail now with the real answer.
    expect((error as { status?: number }).status).toBe(503)
    expect(s.requests).toHaveLength(1)
  })

  it('an AbortSignal ends the call with its reason', async () => {
    const s = await held()
    const c = client({})
    const controller = new AbortController()
    const pending = c.get(s.url, { signal: controller.signal })
    const reason = new Error('user went away')
    await new Promise((resolve) => setImmediate(resolve))
    controller.abort(reason)
    expect(await rejection(pending)).toBe(reason)
    const already = await rejection(c.get(s.url, { signal: AbortSignal.abort(reason) }))
    expect(already).toBe(reason)
  })
})
