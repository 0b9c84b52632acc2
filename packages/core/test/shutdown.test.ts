import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  installShutdownSignals,
  isBeaverError,
  onBeforeShutdown,
  onShutdownDrain,
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

  it('a draining shutdown runs the drain hooks first and outside the close deadline', async () => {
    vi.useFakeTimers()
    try {
      const order: string[] = []
      onShutdownDrain(async () => {
        order.push('drain start')
        await new Promise((resolve) => setTimeout(resolve, 5000))
        order.push('drain end')
      })
      onBeforeShutdown(() => void order.push('stop accepting'))
      registerForShutdown('db', { close: () => void order.push('db') })
      const done = shutdown({ drain: true, timeoutMs: 1000 })
      await vi.advanceTimersByTimeAsync(4999)
      expect(order).toEqual(['drain start'])
      await vi.advanceTimersByTimeAsync(1)
      await done
      expect(order).toEqual(['drain start', 'drain end', 'stop accepting', 'db'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('a plain shutdown skips the drain hooks and forgets them', async () => {
    let drained = 0
    onShutdownDrain(() => void drained++)
    await shutdown()
    await shutdown({ drain: true })
    expect(drained).toBe(0)
  })

  it('a failing drain hook is reported and the shutdown still closes everything', async () => {
    let closed = false
    onShutdownDrain(() => {
      throw new Error('drain failed')
    })
    const removed = onShutdownDrain(() => {
      throw new Error('never runs')
    })
    removed()
    registerForShutdown('x', { close: () => void (closed = true) })
    const err = (await shutdown({ drain: true }).catch((e: unknown) => e)) as ShutdownError
    expect(err.code).toBe('CORE_SHUTDOWN_FAILED')
    expect((err.errors as Error[]).map((e) => e.message)).toEqual(['drain failed'])
    expect(closed).toBe(true)
  })

  it('signals start a draining shutdown unless drain is false', async () => {
    const seen: string[] = []
    onShutdownDrain(() => void seen.push('drain'))
    registerForShutdown('sig', { close: () => void seen.push('close') })
    const uninstall = installShutdownSignals({ exit: false, signals: ['SIGUSR2'] })
    try {
      process.emit('SIGUSR2', 'SIGUSR2')
      await vi.waitFor(() => expect(seen).toEqual(['drain', 'close']))
    } finally {
      uninstall()
    }
    onShutdownDrain(() => void seen.push('drain again'))
    registerForShutdown('sig2', { close: () => void seen.push('close again') })
    const off = installShutdownSignals({ exit: false, signals: ['SIGUSR2'], drain: false })
    try {
      process.emit('SIGUSR2', 'SIGUSR2')
      await vi.waitFor(() => expect(seen).toEqual(['drain', 'close', 'close again']))
    } finally {
      off()
    }
  })

  it('a failing before-hook is reported, and every resource is still closed', async () => {
    const closed: string[] = []
    registerForShutdown('db', { close: () => void closed.push('db') })
    onBeforeShutdown(() => Promise.reject(new Error('server.close failed')))
    onBeforeShutdown(() => void closed.push('other hook'))
    const err = (await shutdown().catch((e: unknown) => e)) as ShutdownError
    expect(err).toBeInstanceOf(ShutdownError)
    expect(err.code).toBe('CORE_SHUTDOWN_FAILED')
    expect(err.errors.map((e: Error) => e.message)).toEqual(['server.close failed'])
    expect(err.message).toContain('server.close failed')
    expect(closed).toEqual(['other hook', 'db'])
  })

  it('a before-hook that never settles is named at the deadline', async () => {
    vi.useFakeTimers()
    try {
      const closed: string[] = []
      registerForShutdown('db', { close: () => void closed.push('db') })
      onBeforeShutdown(() => new Promise<void>(() => undefined))
      const result = shutdown({ timeoutMs: 500 }).catch((e: unknown) => e)
      await vi.advanceTimersByTimeAsync(499)
      expect(closed).toEqual([])
      await vi.advanceTimersByTimeAsync(1)
      const err = (await result) as ShutdownError
      expect(err.code).toBe('CORE_SHUTDOWN_TIMEOUT')
      expect(err.details).toEqual({ pending: ['before-shutdown hooks', 'db'], timeoutMs: 500 })
      // Out of time, the closes are still started (best effort).
      await vi.advanceTimersByTimeAsync(0)
      expect(closed).toEqual(['db'])
    } finally {
      vi.useRealTimers()
    }
  })
})

// A script with a resource whose close hangs: the first signal starts shutdown, a second one
// exits at once with code 1; without a second one, a clean shutdown exits 0.
const SCRIPT = `
import { installShutdownSignals, registerForShutdown } from '@beaver-kit/core'
const hang = process.argv.at(-1) === 'hang'
registerForShutdown('resource', { close: () => hang ? new Promise(() => {}) : console.log('closed') })
installShutdownSignals()
setInterval(() => {}, 1000)
console.log('ready')
`

async function runSignalled(
  mode: 'hang' | 'clean',
  signals: NodeJS.Signals[],
): Promise<{ code: number | null; out: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@beaver-kit/source', '--input-type=module', '--eval', SCRIPT, '--', mode],
    { cwd: import.meta.dirname, stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.setEncoding('utf8')
  const ready = new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: string) => {
      out += chunk
      if (out.includes('ready')) resolve()
    })
  })
  const exited = once(child, 'exit') as Promise<[number | null]>
  await ready
  // Two different signals, so the kernel cannot merge them into one delivery.
  for (const signal of signals) child.kill(signal)
  const [code] = await exited
  return { code, out }
}

describe('installShutdownSignals in a real process', () => {
  it('exits 0 after a clean shutdown on SIGTERM', async () => {
    const { code, out } = await runSignalled('clean', ['SIGTERM'])
    expect(out).toBe('ready\nclosed\n')
    expect(code).toBe(0)
  })

  it('exits 1 at once on a second signal while shutdown still waits for a close', async () => {
    const { code, out } = await runSignalled('hang', ['SIGTERM', 'SIGINT'])
    expect(out).toBe('ready\n')
    expect(code).toBe(1)
  })
})
