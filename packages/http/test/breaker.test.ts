import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import dc from 'node:diagnostics_channel'
import { CircuitBreaker, REJECTED, type BreakerStateChange } from '../src/breaker.ts'
import { type CircuitOpenError, isCircuitOpenError, type HttpError } from '../src/index.ts'
import { gate } from './servers.ts'
import { rejection, useHarness } from './helpers.ts'

const { server, client, defer } = useHarness()

const T0 = Date.UTC(2030, 0, 1)
beforeEach(() => {
  // Only the clock is fake: sockets and timers stay real, time jumps when the script says so.
  vi.useFakeTimers({ toFake: ['Date'], now: T0 })
})
afterEach(() => {
  vi.useRealTimers()
})

const options = {
  consecutiveFailures: 3,
  failureRate: 0.5,
  minimumRequests: 10,
  windowMs: 10_000,
  openMs: 1000,
  maxOpenMs: 5000,
  halfOpenTrials: 2,
}

describe('CircuitBreaker (unit, fake clock)', () => {
  it('trips on consecutive failures, opens for a time that doubles per repeated trip, capped', () => {
    const changes: BreakerStateChange[] = []
    const b = new CircuitBreaker('k', options, (c) => changes.push(c))
    for (let i = 0; i < 3; i++) b.failure(b.acquire(Date.now()), Date.now())
    expect(b.state).toBe('open')
    expect(b.acquire(Date.now())).toBe(REJECTED)
    expect(b.openUntil - Date.now()).toBe(1000)
    const expected = [2000, 4000, 5000, 5000]
    for (const ms of expected) {
      vi.setSystemTime(b.openUntil)
      expect(b.state).toBe('half-open')
      const trial = b.acquire(Date.now())
      b.failure(trial, Date.now())
      expect(b.openUntil - Date.now()).toBe(ms)
    }
    expect(changes.map((c) => `${c.from}>${c.to}:${c.reason}`).slice(0, 3)).toEqual([
      'closed>open:consecutive-failures',
      'open>half-open:open-elapsed',
      'half-open>open:trial-failed',
    ])
  })

  it('trips on the failure rate only once the window holds the minimum volume', () => {
    const b = new CircuitBreaker('k', { ...options, consecutiveFailures: 100 }, () => undefined)
    for (let i = 0; i < 4; i++) {
      b.success(b.acquire(Date.now()), Date.now())
      b.failure(b.acquire(Date.now()), Date.now())
    }
    b.success(b.acquire(Date.now()), Date.now())
    // 9 calls, 4 failed: under the minimum volume of 10, whatever the rate.
    expect(b.state).toBe('closed')
    b.failure(b.acquire(Date.now()), Date.now())
    // 10 calls, 5 failed: 50% reaches the failure rate.
    expect(b.state).toBe('open')
    const quiet = new CircuitBreaker('q', { ...options, consecutiveFailures: 100 }, () => undefined)
    for (let i = 0; i < 4; i++) quiet.failure(quiet.acquire(Date.now()), Date.now())
    expect(quiet.state).toBe('closed')
    // Failures older than the window are forgotten.
    vi.setSystemTime(Date.now() + 20_000)
    for (let i = 0; i < 6; i++) quiet.success(quiet.acquire(Date.now()), Date.now())
    quiet.failure(quiet.acquire(Date.now()), Date.now())
    expect(quiet.state).toBe('closed')
  })

  it('ignores outcomes of calls admitted before a transition', () => {
    const b = new CircuitBreaker('k', options, () => undefined)
    const slow = b.acquire(Date.now())
    for (let i = 0; i < 3; i++) b.failure(b.acquire(Date.now()), Date.now())
    vi.setSystemTime(b.openUntil)
    const trial = b.acquire(Date.now())
    b.success(slow, Date.now()) // from the closed era: must not count as a trial success
    b.success(trial, Date.now())
    expect(b.state).toBe('half-open')
    b.success(b.acquire(Date.now()), Date.now())
    expect(b.state).toBe('closed')
  })

  it('an aborted trial frees its slot without deciding', () => {
    const b = new CircuitBreaker('k', { ...options, halfOpenTrials: 1 }, () => undefined)
    for (let i = 0; i < 3; i++) b.failure(b.acquire(Date.now()), Date.now())
    vi.setSystemTime(b.openUntil)
    const trial = b.acquire(Date.now())
    expect(b.acquire(Date.now())).toBe(REJECTED)
    b.release(trial)
    const next = b.acquire(Date.now())
    expect(next).not.toBe(REJECTED)
    b.success(next, Date.now())
    expect(b.state).toBe('closed')
  })
})

describe('circuit breaker in the client, under a scripted fault schedule', () => {
  it('closed -> open -> half-open with N trials (extra concurrent calls fail fast) -> closed', async () => {
    const schedule: Array<'fail' | 'hold' | 'ok'> = ['fail', 'fail', 'fail', 'hold', 'hold']
    const release = gate()
    defer(async () => release.open())
    const s = await server(async (_req, res, n) => {
      const step = schedule[n - 1] ?? 'ok'
      if (step === 'fail') return void res.writeHead(500).end()
      if (step === 'hold') await release.wait
      res.end('ok')
    })
    const changes: BreakerStateChange[] = []
    const published: BreakerStateChange[] = []
    const listener = (m: unknown): void => void published.push(m as BreakerStateChange)
    dc.subscribe('beaver:http:breaker', listener)
    defer(() => void dc.unsubscribe('beaver:http:breaker', listener))
    const c = client({
      retry: { maxAttempts: 1 },
      breaker: {
        consecutiveFailures: 3,
        openDuration: '10s',
        halfOpenTrials: 2,
        onStateChange: (ch) => changes.push(ch),
      },
    })

    for (let i = 0; i < 3; i++) expect(((await rejection(c.get(s.url))) as HttpError).status).toBe(500)
    expect(c.breakers.state(s.url)).toBe('open')
    const open = await rejection(c.get(s.url))
    expect(isCircuitOpenError(open)).toBe(true)
    expect((open as CircuitOpenError).key).toBe(s.url)
    expect((open as CircuitOpenError).retryAt).toBe(T0 + 10_000)
    expect(s.requests).toHaveLength(3) // failed fast: the network was not touched

    vi.setSystemTime(T0 + 10_000)
    expect(c.breakers.state(s.url)).toBe('half-open')
    const trials = [c.get(s.url), c.get(s.url)]
    const extra = await rejection(c.get(s.url))
    expect(isCircuitOpenError(extra)).toBe(true)
    release.open()
    for (const t of trials) expect((await t).status).toBe(200)
    expect(c.breakers.state(s.url)).toBe('closed')
    expect(s.requests).toHaveLength(5)
    expect(changes.map((ch) => `${ch.from}>${ch.to}`)).toEqual(['closed>open', 'open>half-open', 'half-open>closed'])
    expect(published).toEqual(changes)
  })

  it('a failed trial reopens for twice as long', async () => {
    const s = await server((_req, res) => res.writeHead(503).end())
    const c = client({
      retry: { maxAttempts: 1 },
      breaker: { consecutiveFailures: 2, openDuration: '1s', halfOpenTrials: 1 },
    })
    await rejection(c.get(s.url))
    await rejection(c.get(s.url))
    expect(c.breakers.export()[s.url]).toMatchObject({ state: 'open', openUntil: T0 + 1000, trips: 1 })
    vi.setSystemTime(T0 + 1000)
    expect(((await rejection(c.get(s.url))) as HttpError).status).toBe(503)
    expect(c.breakers.export()[s.url]).toMatchObject({ state: 'open', openUntil: T0 + 3000, trips: 2 })
    expect(s.requests).toHaveLength(3)
  })

  it('timeouts and network errors count as failures; 4xx do not', async () => {
    const s = await server((req, res) =>
      req.url === '/gone' ? res.writeHead(404).end() : res.socket?.resetAndDestroy(),
    )
    const c = client({ retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 2 } })
    for (let i = 0; i < 5; i++) await rejection(c.get(`${s.url}/gone`))
    expect(c.breakers.state(s.url)).toBe('closed')
    await rejection(c.get(`${s.url}/reset`))
    await rejection(c.get(`${s.url}/reset`))
    expect(c.breakers.state(s.url)).toBe('open')
  })

  it('keys per host by default, per route on request, or by your own function', async () => {
    const s = await server((req, res) => (req.url?.startsWith('/bad') ? res.writeHead(500).end() : res.end('ok')))
    const perRoute = client({ retry: { maxAttempts: 1 }, breaker: { scope: 'route', consecutiveFailures: 1 } })
    await rejection(perRoute.get(`${s.url}/bad/:id`, { params: { id: 1 } }))
    expect(isCircuitOpenError(await rejection(perRoute.get(`${s.url}/bad/:id`, { params: { id: 2 } })))).toBe(true)
    expect((await perRoute.get(`${s.url}/good`)).status).toBe(200)
    expect(Object.keys(perRoute.breakers.export()).sort()).toEqual([`GET ${s.url}/bad/:id`, `GET ${s.url}/good`])

    const custom = client({
      retry: { maxAttempts: 1 },
      breaker: { consecutiveFailures: 1, key: ({ route }) => route.split('/')[1] ?? '' },
    })
    await rejection(custom.get(`${s.url}/bad`))
    expect(custom.breakers.state('bad')).toBe('open')
    expect((await custom.get(`${s.url}/fine`)).status).toBe(200)

    const bypass = client({ retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 1 } })
    await rejection(bypass.get(`${s.url}/bad`))
    expect(((await rejection(bypass.get(`${s.url}/bad`, { breaker: false }))) as HttpError).status).toBe(500)
  })

  it('state can be exported, restored elsewhere, and reset', async () => {
    const s = await server((_req, res) => res.writeHead(500).end())
    const a = client({ retry: { maxAttempts: 1 }, breaker: { consecutiveFailures: 1, openDuration: '30s' } })
    await rejection(a.get(s.url))
    const snapshot = JSON.parse(JSON.stringify(a.breakers.export())) as ReturnType<typeof a.breakers.export>
    const b = client({ retry: { maxAttempts: 1 } })
    b.breakers.restore(snapshot)
    expect(isCircuitOpenError(await rejection(b.get(s.url)))).toBe(true)
    expect(s.requests).toHaveLength(1)
    b.breakers.reset(s.url)
    expect(b.breakers.state(s.url)).toBe('closed')
    await rejection(b.get(s.url))
    expect(s.requests).toHaveLength(2)
  })
})
