import net from 'node:net'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { eventually, isCI, probe, requireService, serviceUrl, uniqueNamespace } from '@beaver-kit/testkit'

describe('services', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('takes URLs from BEAVER_TEST_<SERVICE>_URL with loopback defaults', () => {
    vi.stubEnv('BEAVER_TEST_REDIS_URL', '')
    expect(serviceUrl('redis')).toBe('redis://127.0.0.1:6379')
    vi.stubEnv('BEAVER_TEST_REDIS_URL', 'redis://10.1.2.3:7000')
    expect(serviceUrl('redis')).toBe('redis://10.1.2.3:7000')
    expect(serviceUrl('postgres')).toBe('postgres://postgres@127.0.0.1:5432/test')
  })

  it('probe names the host and port that did not answer', async () => {
    const server = net.createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    expect(await probe(`redis://127.0.0.1:${port}`)).toBeUndefined()
    await new Promise<void>((r) => server.close(() => r()))
    expect(await probe(`redis://127.0.0.1:${port}`)).toBe(`127.0.0.1:${port}: ECONNREFUSED`)
  })

  it('skips with a printed reason locally and fails under CI=true', async () => {
    const server = net.createServer()
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    await new Promise<void>((r) => server.close(() => r()))
    vi.stubEnv('BEAVER_TEST_MQTT_URL', `mqtt://127.0.0.1:${port}`)
    vi.stubEnv('CI', '')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    expect(await requireService('mqtt')).toBeUndefined()
    expect(warn.mock.calls[0]?.[0]).toContain('skipping mqtt tests')
    expect(warn.mock.calls[0]?.[0]).toContain('BEAVER_TEST_MQTT_URL')
    warn.mockRestore()
    vi.stubEnv('CI', 'true')
    expect(isCI()).toBe(true)
    await expect(requireService('mqtt')).rejects.toThrow(/CI=true and a required service is missing: mqtt/)
  })
})

describe('requireService', () => {
  afterEach(() => vi.unstubAllEnvs())

  it('returns the URL of a service that answers, and never prints its password', async () => {
    const server = net.createServer((s) => s.destroy())
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as net.AddressInfo).port
    try {
      vi.stubEnv('BEAVER_TEST_RABBITMQ_URL', `amqp://guest:s3cret@127.0.0.1:${port}`)
      expect(await requireService('rabbitmq')).toBe(`amqp://guest:s3cret@127.0.0.1:${port}`)
    } finally {
      await new Promise<void>((r) => server.close(() => r()))
    }
    vi.stubEnv('BEAVER_TEST_NATS_URL', `nats://user:s3cret@127.0.0.1:${port}`)
    vi.stubEnv('CI', '')
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined)
    try {
      expect(await requireService('nats')).toBeUndefined()
      expect(warn.mock.calls[0]?.[0]).toContain(`nats://****@127.0.0.1:${port}`)
      expect(warn.mock.calls[0]?.[0]).not.toContain('s3cret')
    } finally {
      warn.mockRestore()
    }
  })
})

describe('eventually', () => {
  it('polls until the check passes', async () => {
    let n = 0
    await expect(eventually(() => ++n >= 3, { intervalMs: 1 })).resolves.toBe(true)
    expect(n).toBe(3)
  })
  it('treats every falsy result but undefined as a failure, as documented', async () => {
    for (const falsy of [false, 0, '', null, Number.NaN]) {
      let n = 0
      await expect(eventually(() => (++n >= 3 ? 'done' : falsy), { intervalMs: 1 })).resolves.toBe('done')
      expect(n, String(falsy)).toBe(3)
      await expect(eventually(() => falsy, { timeoutMs: 20, intervalMs: 5 })).rejects.toThrow(
        `gave up after 20 ms: check returned ${typeof falsy === 'string' ? '""' : String(falsy)}`,
      )
    }
    // A check written as assertions returns undefined: it passes by not throwing.
    let calls = 0
    await expect(
      eventually(() => {
        calls++
      }),
    ).resolves.toBeUndefined()
    expect(calls).toBe(1)
  })

  it('rethrows the last failure at the deadline', async () => {
    await expect(
      eventually(
        () => {
          throw new Error('still wrong')
        },
        { timeoutMs: 30, intervalMs: 5 },
      ),
    ).rejects.toThrow(/gave up after 30 ms: still wrong/)
  })
  it('polls and gives up on real time while the test has fake timers installed', async () => {
    vi.useFakeTimers()
    try {
      let n = 0
      await expect(eventually(() => ++n >= 3, { intervalMs: 1 })).resolves.toBe(true)
      expect(n).toBe(3)
      await expect(eventually(() => false, { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(/gave up after 30 ms/)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('uniqueNamespace', () => {
  it('never repeats and is safe for keys and table names', () => {
    const names = new Set(Array.from({ length: 1000 }, () => uniqueNamespace('cache')))
    expect(names.size).toBe(1000)
    for (const n of names) expect(n).toMatch(/^cache_\d+_[0-9a-f]{8}$/)
  })
})
