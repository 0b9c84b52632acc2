import dgram from 'node:dgram'
import net from 'node:net'
import { hostname as osHostname } from 'node:os'
import { backoffDelay, raceAbort } from '@beaver-kit/core'
import { LoggerError } from '../errors.ts'
import { reportDropped, reportOutputError } from '../channels.ts'
import type { SyslogFraming, SyslogTransport } from './spec.ts'
import type { Output } from './types.ts'

/** Syslog facility codes (RFC 5424 §6.2.1). */
export const FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const
/** A facility name. */
export type Facility = keyof typeof FACILITIES

// pino level → RFC 5424 severity: trace/debug → 7 debug, info → 6, warn → 4, error → 3, fatal → 2 critical.
const SEVERITY: Record<number, number> = { 10: 7, 20: 7, 30: 6, 40: 4, 50: 3, 60: 2 }
const MAX_UDP_PAYLOAD = 65_507
const MAX_BATCH = 64 * 1024
const MAX_UDP_IN_FLIGHT = 64

/** Settings of a syslog output. */
export interface SyslogOutputOptions {
  transport: SyslogTransport
  host: string
  port: number
  path: string
  facility: Facility
  appName: string
  hostname?: string | undefined
  structuredData?: Readonly<Record<string, Readonly<Record<string, string>>>> | undefined
  framing?: SyslogFraming | undefined
  /** Bytes queued while the server is unreachable or slow. */
  maxBuffer: number
  /** How long close() waits for queued lines. */
  closeTimeout: number
}

/** RFC 5424 field: printable US-ASCII without spaces, at most `max` characters, `-` when empty. */
function headerField(value: string, max: number): string {
  const clean = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max)
  return clean === '' ? '-' : clean
}

function sdName(value: string): string {
  const clean = value.replace(/[^\x21-\x7e]|[=\]" ]/g, '_').slice(0, 32)
  return clean === '' ? '_' : clean
}

/** Renders STRUCTURED-DATA, escaping `"`, `\` and `]` in values as RFC 5424 §6.3.3 requires. */
export function renderStructuredData(sd: SyslogOutputOptions['structuredData']): string {
  if (!sd || Object.keys(sd).length === 0) return '-'
  return Object.entries(sd)
    .map(([id, params]) => {
      const body = Object.entries(params)
        .map(([k, v]) => ` ${sdName(k)}="${v.replace(/[\\"\]]/g, (c) => `\\${c}`)}"`)
        .join('')
      return `[${sdName(id)}${body}]`
    })
    .join('')
}

/**
 * RFC 5424 syslog over UDP (one datagram per line), TCP or a unix stream socket (RFC 6587
 * octet-counting framing by default). Connects on the first line, never at creation;
 * reconnects with capped, jittered backoff; queues up to `maxBuffer` bytes meanwhile and
 * counts what it has to drop. A batch that was in flight when the connection died is sent
 * again, so a drop may duplicate a few lines but never cuts one.
 */
export class SyslogOutput implements Output {
  readonly name: string
  dropped = 0
  lastLevel?: number
  /** Connections made after a failure. */
  reconnects = 0
  private readonly options: SyslogOutputOptions
  private readonly facility: number
  private readonly header: string
  private readonly framing: SyslogFraming | 'datagram'
  private queue = new FrameQueue()
  private queuedBytes = 0
  private inFlight: Buffer[] | undefined
  private udpInFlight = 0
  private socket: net.Socket | undefined
  private udp: dgram.Socket | undefined
  private connected = false
  private attempt = 0
  private everConnected = false
  private reconnectTimer: NodeJS.Timeout | undefined
  private idleWaiters: Array<() => void> = []
  private closed = false
  private closing: Promise<void> | undefined

  constructor(options: SyslogOutputOptions) {
    this.options = options
    const where = options.transport === 'unix' ? options.path : `${options.host}:${options.port}`
    this.name = `syslog:${options.transport}://${where}`
    this.facility = FACILITIES[options.facility] * 8
    const host = headerField(options.hostname ?? osHostname(), 255)
    this.header = ` ${host} ${headerField(options.appName, 48)} ${process.pid} - ${renderStructuredData(options.structuredData)} `
    this.framing = options.transport === 'udp' ? 'datagram' : (options.framing ?? 'octet-counting')
  }

  /** One RFC 5424 message (without framing) for a line of the given pino level. */
  format(line: string, level: number | undefined): string {
    const pri = this.facility + (SEVERITY[level ?? 30] ?? 6)
    const msg = line.endsWith('\n') ? line.slice(0, -1) : line
    return `<${pri}>1 ${new Date().toISOString()}${this.header}${msg}`
  }

  write(line: string): void {
    if (this.closed) return this.drop(1, 'closed')
    const message = this.format(line, this.lastLevel)
    let frame: Buffer
    if (this.framing === 'datagram') {
      frame = Buffer.from(message)
      if (frame.length > MAX_UDP_PAYLOAD) frame = frame.subarray(0, MAX_UDP_PAYLOAD)
    } else if (this.framing === 'lf') {
      frame = Buffer.from(`${message.replace(/\n/g, ' ')}\n`)
    } else {
      const body = Buffer.from(message)
      frame = Buffer.concat([Buffer.from(`${body.length} `), body])
    }
    if (this.queuedBytes + frame.length > this.options.maxBuffer) return this.drop(1, 'buffer full')
    this.queue.push(frame)
    this.queuedBytes += frame.length
    this.pump()
  }

  private drop(count: number, reason: string): void {
    this.dropped += count
    reportDropped(this.name, count, reason)
  }

  private pump(): void {
    if (this.framing === 'datagram') return this.pumpUdp()
    if (!this.connected) {
      if (this.socket === undefined && this.reconnectTimer === undefined) this.connect()
      return
    }
    if (this.inFlight !== undefined) return
    if (this.queue.length === 0) return this.idle()
    const batch: Buffer[] = []
    let bytes = 0
    while (this.queue.length > 0 && bytes < MAX_BATCH) {
      const next = this.queue.shift()
      batch.push(next)
      bytes += next.length
    }
    this.inFlight = batch
    const socket = this.socket as net.Socket
    socket.ref()
    socket.write(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch, bytes), (err) => {
      if (err || this.inFlight !== batch) return // the close handler puts the batch back
      this.inFlight = undefined
      this.queuedBytes -= bytes
      this.pump()
    })
  }

  private connect(): void {
    const { transport, host, port, path } = this.options
    const socket = transport === 'unix' ? net.connect({ path }) : net.connect({ host, port })
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('connect', () => {
      if (this.everConnected) this.reconnects++
      this.everConnected = true
      this.connected = true
      this.attempt = 0
      this.pump()
    })
    socket.on('error', (err) => reportOutputError(this.name, err))
    socket.on('close', () => {
      this.connected = false
      this.socket = undefined
      if (this.inFlight !== undefined) {
        this.queue.unshift(this.inFlight)
        this.inFlight = undefined
      }
      if (this.queue.length > 0 && !this.closedHard) this.scheduleReconnect()
      else this.idle()
    })
    // The server never sends anything we need; reading keeps a half-closed peer detectable.
    socket.on('data', () => undefined)
  }

  private closedHard = false

  private scheduleReconnect(): void {
    const delay = backoffDelay(++this.attempt, { baseMs: 50, maxMs: 5_000 })
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      this.connect()
    }, delay)
    this.reconnectTimer.unref()
  }

  private pumpUdp(): void {
    if (this.udp === undefined) {
      const udp = dgram.createSocket(net.isIPv6(this.options.host) ? 'udp6' : 'udp4')
      this.udp = udp
      udp.on('error', (err) => reportOutputError(this.name, err))
      udp.connect(this.options.port, this.options.host, () => {
        this.connected = true
        this.pumpUdp()
      })
      return
    }
    if (!this.connected) return
    const udp = this.udp
    while (this.queue.length > 0 && this.udpInFlight < MAX_UDP_IN_FLIGHT) {
      const frame = this.queue.shift()
      this.udpInFlight++
      udp.ref()
      udp.send(frame, (err) => {
        this.udpInFlight--
        this.queuedBytes -= frame.length
        if (err) {
          this.drop(1, 'send failed')
          reportOutputError(this.name, err)
        }
        this.pumpUdp()
      })
    }
    if (this.queue.length === 0 && this.udpInFlight === 0) this.idle()
  }

  private idle(): void {
    if (this.queue.length > 0 || this.inFlight !== undefined || this.udpInFlight > 0) return
    this.socket?.unref()
    this.udp?.unref()
    for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  flush(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === undefined && this.udpInFlight === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve)
      this.pump()
    })
  }

  /** The network cannot be written synchronously: at a hard exit, queued syslog lines are lost. */
  flushSync(): void {}

  /**
   * UDP needs no server to be ready; a TCP or unix stream output is ready once its server takes
   * a connection (a probe, closed at once: lines still connect lazily on their own).
   */
  async ready(signal?: AbortSignal): Promise<void> {
    if (this.framing === 'datagram' || this.connected) return
    const { transport, host, port, path } = this.options
    const probe = transport === 'unix' ? net.connect({ path }) : net.connect({ host, port })
    const reached = new Promise<void>((resolve, reject) => {
      probe.once('connect', () => {
        probe.end()
        resolve()
      })
      probe.once('error', (err) =>
        reject(
          new LoggerError('LOG_OUTPUT_UNREACHABLE', `${this.name} cannot be reached: ${err.message}`, {
            cause: err,
            details: { output: this.name },
          }),
        ),
      )
    })
    try {
      await raceAbort(reached, { signal })
    } finally {
      probe.destroy()
    }
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    this.closed = true
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      this.flush().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.options.closeTimeout)
        timer.unref()
      }),
    ])
    clearTimeout(timer)
    this.closedHard = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    const lost = this.queue.length + (this.inFlight?.length ?? 0)
    await this.release(timedOut)
    if (timedOut && lost > 0) {
      this.drop(lost, 'close timeout')
      throw new LoggerError(
        'LOG_CLOSE_TIMEOUT',
        `${this.name} did not take ${lost} queued line(s) within ${this.options.closeTimeout} ms; they were dropped. Check the syslog server, or raise BEAVER_LOG_SYSLOG_CLOSE_TIMEOUT.`,
        { details: { output: this.name, lost } },
      )
    }
  }

  private async release(force: boolean): Promise<void> {
    const socket = this.socket
    if (socket) {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve())
        if (force) return socket.destroy()
        socket.end()
        // A peer that never answers our FIN must not hold close() forever.
        setTimeout(() => socket.destroy(), this.options.closeTimeout).unref()
      })
    }
    const udp = this.udp
    if (udp) await new Promise<void>((resolve) => udp.close(() => resolve()))
  }
}

/** A FIFO of frames with O(1) shift (Array#shift is O(n), quadratic over a 100k-line burst). */
class FrameQueue {
  private items: Buffer[] = []
  private head = 0
  get length(): number {
    return this.items.length - this.head
  }
  push(frame: Buffer): void {
    this.items.push(frame)
  }
  shift(): Buffer {
    const frame = this.items[this.head++] as Buffer
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return frame
  }
  /** Puts frames back at the front, in order (a batch that was in flight when the socket died). */
  unshift(frames: readonly Buffer[]): void {
    this.items = [...frames, ...this.items.slice(this.head)]
    this.head = 0
  }
}
