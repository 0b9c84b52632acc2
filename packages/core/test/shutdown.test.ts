import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  installShutdownSignals,
  isBeaverError,
  onBeforeShutdown,
  registerForShutdown,
  shutdown,
  ShutdownError,
} from '@beaver-kit/core'

describe('shutdown', () => {
  afterEach(async () => {
    await shutdown().catch(() => undefined)
  })

  it('runs before-hooks first, then closes in reverse order of registration', async () => {
    const order: string[] = []
    registerForShutdown('db', { close: async () => void order.push('db') })
    registerForShutdown('cache', { close: () => void order.push('cache') })
    registerForShutdown('http', { close: async () => void order.push('http') })
    onBeforeShutdown(() => void order.push('stop accepting'))
    await shutdown()
    expect(order).toEqual(['stop accepting', 'http', 'cache', 'db'])
  })

  it('tries every close and reports all failures in one AggregateError', async () => {
    const closed: string[] = []
    registerForShutdown('a', { close: () => void closed.push('a') })
    registerForShutdown('b', {
      close: () => {
        throw new Error('b failed')
      },
    })
    registerForShutdown('c', { close: async () => Promise.reject(new Error('c failed')) })
    const err = await shutdown().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(AggregateError)
    expect(err).toBeInstanceOf(ShutdownError)
    expect((err as ShutdownError).code).toBe('CORE_SHUTDOWN_FAILED')
    expect(isBeaverError(err, 'CORE_SHUTDOWN_FAILED')).toBe(true)
    expect((err as AggregateError).errors.map((e: Error) => e.message)).toEqual(['c failed', 'b failed'])
    expect(closed).toEqual(['a'])
  })

  it('gives up at the deadline, naming what is still closing, and still starts the rest', async () => {
    vi.useFakeTimers()
    try {
      const closed: string[] = []
      registerForShutdown('first', { close: () => void closed.push('first') })
      registerForShutdown('hangs', { close: () => new Promise<void>(() => undefined) })
      registerForShutdown('last', { close: () => void closed.push('last') })
      const result = shutdown({ timeoutMs: 1000 }).catch((e: unknown) => e)
      await vi.advanceTimersByTimeAsync(1001)
      const err = (await result) as ShutdownError
      expect(err.code).toBe('CORE_SHUTDOWN_TIMEOUT')
      expect(err.details).toMatchObject({ pending: ['hangs', 'first'] })
      expect(err.message).toContain('hangs')
      await vi.advanceTimersByTimeAsync(0)
      expect(closed).toEqual(['last', 'first'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('is idempotent: concurrent calls share one run and close each resource once', async () => {
    let closes = 0
    registerForShutdown('once', { close: async () => void closes++ })
    const [a, b] = [shutdown(), shutdown()]
    expect(a).toBe(b)
    await Promise.all([a, b])
    await shutdown()
    expect(closes).toBe(1)
  })

  it('unregister removes a resource', async () => {
    let closes = 0
    const unregister = registerForShutdown('gone', { close: () => void closes++ })
    unregister()
    await shutdown()
    expect(closes).toBe(0)
  })

  it('wires SIGTERM to shutdown without exiting when asked not to', async () => {
    let closed = false
    registerForShutdown('sig', { close: () => void (closed = true) })
    const uninstall = installShutdownSignals({ exit: false, signals: ['SIGUSR2'] })
    try {
      process.emit('SIGUSR2', 'SIGUSR2')
      await vi.waitFor(() => expect(closed).toBe(true))
    } finally {
      uninstall()
    }
  })
})
