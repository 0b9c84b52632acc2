import net from 'node:net'
import { once } from 'node:events'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { eventually, startFaultProxy, type FaultProxy } from '@beaver-kit/testkit'

// A target that echoes everything back, and on "BIG" sends 64 KiB.
let echo: net.Server
let echoPort = 0
let echoed = ''
beforeAll(async () => {
  echo = net.createServer((s) => {
    s.on('error', () => undefined)
    s.on('data', (d) => {
      echoed += d.toString()
      if (d.toString() === 'BIG') s.write(Buffer.alloc(65_536, 7))
      else s.write(d)
    })
  })
  echo.listen(0, '127.0.0.1')
  await once(echo, 'listening')
  echoPort = (echo.address() as net.AddressInfo).port
})
afterAll(() => new Promise<void>((r) => echo.close(() => r())))

interface Client {
  socket: net.Socket
  received: () => Buffer
  closed: () => boolean
  error: () => NodeJS.ErrnoException | undefined
}
async function connect(port: number): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  let closed = false
  let error: NodeJS.ErrnoException | undefined
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('close', () => (closed = true))
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e))
  await once(socket, 'connect')
  return { socket, received: () => Buffer.concat(chunks), closed: () => closed, error: () => error }
}

describe('FaultProxy', () => {
  let proxy: FaultProxy
  const clients: Client[] = []
  beforeEach(async () => {
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: echoPort } })
  })
  afterEach(async () => {
    for (const c of clients.splice(0)) c.socket.destroy()
    await proxy.close()
  })
  const open = async (): Promise<Client> => {
    const c = await connect(proxy.port)
    clients.push(c)
    return c
  }

  it('passes traffic through unchanged and rewrites URLs to itself', async () => {
    const c = await open()
    c.socket.write('hello')
    await eventually(() => expect(c.received().toString()).toBe('hello'))
    expect(proxy.url('redis://user:pw@10.0.0.1:6379/2')).toBe(`redis://user:pw@127.0.0.1:${proxy.port}/2`)
    expect(proxy.connections).toBe(1)
  })

  // The proxy waits on setTimeout and Date: with those faked, time passes only when the test
  // says so, so the delay is shown exactly instead of measured on a loaded machine.
  it('delays each direction by the configured latency, keeping order (fake clock)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    try {
      proxy.setLatency(150)
      const c = await open()
      echoed = ''
      c.socket.write('a')
      c.socket.write('b')
      await eventually(() => expect(vi.getTimerCount()).toBe(1)) // the chunk waits on the clock
      await vi.advanceTimersByTimeAsync(149)
      expect(vi.getTimerCount()).toBe(1)
      expect(echoed).toBe('')
      await vi.advanceTimersByTimeAsync(1)
      await eventually(() => expect(echoed).toBe('ab'))
      await eventually(() => expect(vi.getTimerCount()).toBe(1)) // the answer waits too
      await vi.advanceTimersByTimeAsync(149)
      expect(c.received().toString()).toBe('')
      await vi.advanceTimersByTimeAsync(1)
      await eventually(() => expect(c.received().toString()).toBe('ab'))
    } finally {
      vi.useRealTimers()
    }
  })

  it('drops traffic silently while partitioned, and heals', async () => {
    const c = await open()
    proxy.setDrop(true)
    c.socket.write('lost')
    await eventually(() => expect(proxy.droppedBytes).toBe(4))
    proxy.heal()
    c.socket.write('kept')
    await eventually(() => expect(c.received().toString()).toBe('kept'))
    expect(c.closed()).toBe(false)
  })

  it('holds traffic while paused and delivers it on resume', async () => {
    const c = await open()
    proxy.pause()
    c.socket.write('held')
    await eventually(() => expect(proxy.openConnections).toBe(1))
    expect(c.received().length).toBe(0)
    proxy.resume()
    await eventually(() => expect(c.received().toString()).toBe('held'))
  })

  it('cuts a connection mid-stream after N bytes towards the client', async () => {
    const c = await open()
    proxy.closeAfter(1000)
    c.socket.write('BIG')
    await eventually(() => expect(c.closed()).toBe(true))
    expect(c.received().length).toBe(1000)
  })

  it('resets open connections and refuses, then accepts, new ones', async () => {
    const c = await open()
    proxy.resetAll()
    await eventually(() => expect(c.closed()).toBe(true))
    expect(c.error()?.code).toBe('ECONNRESET')
    await proxy.refuse()
    const refused = net.connect(proxy.port, '127.0.0.1')
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
    expect(err.code).toBe('ECONNREFUSED')
    await proxy.accept()
    const again = await open()
    again.socket.write('back')
    await eventually(() => expect(again.received().toString()).toBe('back'))
  })

  it('caps bandwidth: 64 KiB at 64 KiB/s takes one second of (fake) time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    try {
      proxy.setBandwidth(64 * 1024)
      const c = await open()
      c.socket.write('BIG')
      let elapsed = 0
      for (;;) {
        // Advance only while a chunk waits for its share of the bandwidth.
        await eventually(() => vi.getTimerCount() > 0 || c.received().length === 65_536)
        if (c.received().length === 65_536) break
        await vi.advanceTimersByTimeAsync(10)
        elapsed += 10
      }
      expect(elapsed).toBeGreaterThanOrEqual(1000)
      expect(elapsed).toBeLessThan(1200)
    } finally {
      vi.useRealTimers()
    }
  })

  it('accept() fails naming the port when another process took it meanwhile', async () => {
    const own = await startFaultProxy({ target: { host: '127.0.0.1', port: echoPort }, rebindTimeoutMs: 100 })
    await own.refuse()
    const squatter = net.createServer()
    await new Promise<void>((resolve) => squatter.listen(own.port, '127.0.0.1', resolve))
    try {
      await expect(own.accept()).rejects.toThrow(`port ${own.port} was taken by another process`)
    } finally {
      await new Promise<void>((resolve) => squatter.close(() => resolve()))
    }
    await own.accept()
    const c = await connect(own.port)
    c.socket.write('again')
    await eventually(() => expect(c.received().toString()).toBe('again'))
    c.socket.destroy()
    await own.close()
  })
})
