import dc from 'node:diagnostics_channel'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eventually } from '@beaver-kit/testkit'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger, type Logger } from '../src/index.ts'
import { parseRfc5424, streamListener, udpListener, type SyslogListener } from './helpers/syslog-server.ts'

const open: Array<{ close(): Promise<void> }> = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close().catch(() => undefined)
})
function track<T extends { close(): Promise<void> }>(x: T): T {
  open.push(x)
  return x
}
function syslogLogger(url: string, extra: Parameters<typeof createLogger>[0] = {}): Logger {
  return track(createLogger({ envPrefix: false, level: 'trace', outputs: [`syslog:${url}`], ...extra }))
}

describe('RFC 5424 test parser', () => {
  it('accepts a full message and rejects malformed ones', () => {
    const m = parseRfc5424('<165>1 2003-10-11T22:14:15.003Z host app 42 ID47 [ex@32473 a="1\\]" b="x\\"y"][b@1] hi')
    expect(m).toMatchObject({
      facility: 20,
      severity: 5,
      hostname: 'host',
      appName: 'app',
      procId: '42',
      msgId: 'ID47',
      msg: 'hi',
    })
    expect(m.structuredData).toEqual([
      { id: 'ex@32473', params: { a: '1]', b: 'x"y' } },
      { id: 'b@1', params: {} },
    ])
    expect(() => parseRfc5424('<192>1 - - - - - -')).toThrow(/PRI/)
    expect(() => parseRfc5424('<13>2 - h a p m -')).toThrow(/VERSION/)
    expect(() => parseRfc5424('<13>1 yesterday h a p m -')).toThrow(/TIMESTAMP/)
    expect(() => parseRfc5424('<13>1 - h a p m [x a="]"] m')).toThrow(/unescaped/)
  })
})

describe('syslog output', () => {
  it('sends RFC 5424 over UDP with facility, severity, app-name, hostname and structured data', async () => {
    const server = track(await udpListener())
    const log = syslogLogger(server.url, {
      name: 'links',
      syslog: {
        facility: 'local3',
        hostname: 'web-1',
        structuredData: { 'origin@32473': { env: 'prod', note: 'a"b]c\\d' } },
      },
    })
    log.info({ userId: 7 }, 'hello')
    log.warn('careful')
    log.error('broken')
    log.fatal('dead')
    log.debug('details')
    await log.close()
    await eventually(() => expect(server.messages).toHaveLength(5))
    expect(server.errors).toEqual([])
    const [info, warn, error, fatal, debug] = server.messages
    expect(info).toMatchObject({
      facility: 19,
      severity: 6,
      hostname: 'web-1',
      appName: 'links',
      procId: String(process.pid),
    })
    expect(info?.structuredData).toEqual([{ id: 'origin@32473', params: { env: 'prod', note: 'a"b]c\\d' } }])
    expect(JSON.parse(info?.msg ?? '')).toMatchObject({ userId: 7, msg: 'hello' })
    expect([warn?.severity, error?.severity, fatal?.severity, debug?.severity]).toEqual([4, 3, 2, 7])
  })

  it('sends over TCP with octet-counting framing, including multi-byte text', async () => {
    const server = track(await streamListener())
    const log = syslogLogger(server.url, { format: 'text' })
    log.info({ city: 'Zürich' }, 'grüße 🦫')
    await log.close()
    await eventually(() => expect(server.messages).toHaveLength(1))
    expect(server.errors).toEqual([])
    expect(server.messages[0]?.msg).toMatch(/INFO {2}grüße 🦫 city=Zürich$/)
  })

  it('supports LF framing over a unix stream socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beaver-log-unix-'))
    try {
      const server = track(await streamListener({ path: join(dir, 'log.sock'), framing: 'lf' }))
      const log = syslogLogger(`${server.url}?framing=lf`)
      for (let i = 0; i < 50; i++) log.info({ i }, 'unix')
      await log.close()
      await eventually(() => expect(server.messages).toHaveLength(50))
      expect(server.errors).toEqual([])
      expect(server.messages.map((m) => (JSON.parse(m.msg) as { i: number }).i)).toEqual([...Array(50).keys()])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('loses none of a burst of 100,000 lines over TCP once close() resolves', async () => {
    const server = track(await streamListener())
    const log = syslogLogger(server.url, { syslog: { maxBuffer: '64mb', closeTimeout: '60s' } })
    for (let i = 0; i < 100_000; i++) log.info({ i }, 'burst')
    await log.close()
    expect(log.stats().dropped).toBe(0)
    await eventually(() => expect(server.messages.length).toBe(100_000), { timeoutMs: 20_000 })
    expect(server.errors).toEqual([])
    const seen = new Set(server.messages.map((m) => (JSON.parse(m.msg) as { i: number }).i))
    expect(seen.size).toBe(100_000)
  })

  it('loses none of a paced stream of 5,000 lines over UDP', async () => {
    // UDP itself may drop under a burst (that is the protocol); the output keeps at most 64
    // datagrams in flight, which on loopback delivers everything.
    const server = track(await udpListener())
    const log = syslogLogger(server.url)
    for (let i = 0; i < 5_000; i++) log.info({ i }, 'udp')
    await log.close()
    await eventually(() => expect(server.messages.length).toBe(5_000), { timeoutMs: 10_000 })
    expect(server.errors).toEqual([])
  })

  it('reconnects after the server drops the connection mid-stream, and never delivers a cut line', async () => {
    const server = track(await streamListener({ dropAfterBytes: 50_000 }))
    const log = syslogLogger(server.url)
    let i = 0
    while (i < 2_000) log.info({ i: i++, pad: 'x'.repeat(40) }, 'before')
    await eventually(() => expect(server.partialFramesDiscarded).toBe(1), { timeoutMs: 10_000 })
    // Keep logging until the output has noticed and reconnected (it reconnects on demand).
    await eventually(
      () => {
        log.info({ i: i++ }, 'probe')
        expect(server.connections).toBe(2)
      },
      { timeoutMs: 10_000 },
    )
    const firstAfter = i
    while (i < firstAfter + 1_000) log.info({ i: i++ }, 'after')
    await log.close()
    expect(server.errors).toEqual([])
    const unique = new Set(server.messages.map((m) => (JSON.parse(m.msg) as { i: number }).i))
    for (let n = firstAfter; n < i; n++) expect(unique.has(n)).toBe(true)
    // What is missing is one contiguous run: the lines in flight when the peer went away.
    const missing = [...Array(i).keys()].filter((n) => !unique.has(n))
    if (missing.length > 0) expect((missing.at(-1) as number) - (missing[0] as number) + 1).toBe(missing.length)
    expect(missing.length).toBeLessThan(2_000)
  })

  it('queues while the server is down, connects lazily, and delivers once it is up', async () => {
    // Down without giving up the port: a port freed and re-bound later could be taken by
    // another process in between.
    const server = track(await streamListener({ down: true }))
    const log = syslogLogger(server.url)
    log.info('queued while down')
    await eventually(() => server.refused > 0, { timeoutMs: 15_000 })
    expect(server.messages).toEqual([])
    server.setDown(false)
    await eventually(() => expect(server.messages.map((m) => m.msg).join('')).toContain('queued while down'), {
      timeoutMs: 15_000,
    })
    await log.close()
    expect(log.stats().dropped).toBe(0)
  })

  it('close() gives up after closeTimeout when the server never comes back, and counts the loss', async () => {
    const server = track(await streamListener({ down: true }))
    const log = createLogger({
      envPrefix: false,
      outputs: [`syslog:${server.url}`],
      syslog: { closeTimeout: '200ms' },
    })
    log.info('nobody listens')
    await expect(log.close()).rejects.toMatchObject({ code: 'LOG_CLOSE_TIMEOUT' })
    expect(log.stats().dropped).toBe(1)
    expect(server.messages).toEqual([])
  })

  it('drops and counts what overflows the buffer while the server is down, on beaver:logger:dropped', async () => {
    const server = track(await streamListener({ down: true }))
    const events: Array<{ output: string; count: number; reason: string }> = []
    const onDropped = (message: unknown) => void events.push(message as (typeof events)[number])
    dc.subscribe('beaver:logger:dropped', onDropped)
    try {
      const log = syslogLogger(server.url, { syslog: { maxBuffer: '1kb', closeTimeout: '200ms' } })
      // Each line is ~150 bytes framed: about 6 fit in 1 KiB, the rest overflow.
      for (let i = 0; i < 50; i++) log.info({ i, pad: 'x'.repeat(40) }, 'overflow')
      const overflowed = log.stats().dropped
      expect(overflowed).toBeGreaterThanOrEqual(40)
      expect(overflowed).toBeLessThan(50)
      const full = events.filter((e) => e.reason === 'buffer full')
      expect(full.reduce((n, e) => n + e.count, 0)).toBe(overflowed)
      expect(full[0]?.output).toBe(`syslog:${server.url}`)
      // Whatever stayed queued is lost at close (the server never came back), and counted too.
      await expect(log.close()).rejects.toMatchObject({ code: 'LOG_CLOSE_TIMEOUT' })
      expect(log.stats().dropped).toBe(50)
      expect(events.reduce((n, e) => n + e.count, 0)).toBe(50)
    } finally {
      dc.unsubscribe('beaver:logger:dropped', onDropped)
    }
  })

  it('publishes connection failures on beaver:logger:outputError and keeps logging', async () => {
    const server = track(await streamListener({ down: true }))
    const errors: Array<{ output: string; error: unknown }> = []
    const onError = (message: unknown) => void errors.push(message as (typeof errors)[number])
    dc.subscribe('beaver:logger:outputError', onError)
    try {
      const log = syslogLogger(server.url)
      expect(() => log.info('while down')).not.toThrow()
      await eventually(() => errors.length > 0, { timeoutMs: 15_000 })
      expect(errors[0]?.output).toBe(`syslog:${server.url}`)
      expect((errors[0]?.error as NodeJS.ErrnoException).code).toMatch(/^(ECONNRESET|EPIPE|ECONNREFUSED)$/)
      server.setDown(false)
      await eventually(() => server.messages.length === 1, { timeoutMs: 15_000 })
      await log.close()
    } finally {
      dc.unsubscribe('beaver:logger:outputError', onError)
    }
  })

  it('does no I/O at creation', async () => {
    const server: SyslogListener = track(await streamListener())
    const log = syslogLogger(server.url)
    await log.flush()
    expect(server.connections).toBe(0)
    log.info('now')
    await log.flush()
    expect(server.connections).toBe(1)
  })
})
