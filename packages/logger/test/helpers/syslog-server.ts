// A local syslog receiver for tests: UDP, TCP and unix stream listeners whose parser follows
// RFC 5424 strictly (§6 ABNF) and RFC 6587 octet-counting framing. Anything malformed is kept
// in `errors`, so a test can assert there is none.
import dgram from 'node:dgram'
import net from 'node:net'
import type { AddressInfo } from 'node:net'

export interface SyslogMessage {
  pri: number
  facility: number
  severity: number
  version: number
  timestamp: string
  hostname: string
  appName: string
  procId: string
  msgId: string
  structuredData: Array<{ id: string; params: Record<string, string> }>
  msg: string
}

const PRINTUSASCII = /^[\x21-\x7e]+$/
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/

/** Parses one RFC 5424 message; throws with the reason when it is not one. */
export function parseRfc5424(text: string): SyslogMessage {
  let pos = 0
  const fail = (why: string): never => {
    throw new Error(`not RFC 5424 (${why}) at ${pos}: ${JSON.stringify(text.slice(0, 200))}`)
  }
  const pri = /^<(\d{1,3})>/.exec(text)
  if (!pri) return fail('PRI')
  const priValue = Number(pri[1])
  if (priValue > 191 || ((pri[1] as string).length > 1 && (pri[1] as string).startsWith('0'))) fail('PRI range')
  pos = pri[0].length
  const field = (name: string, max: number): string => {
    const end = text.indexOf(' ', pos)
    if (end < 0) fail(`${name} not followed by SP`)
    const value = text.slice(pos, end)
    if (value.length === 0 || value.length > max || !PRINTUSASCII.test(value)) fail(name)
    pos = end + 1
    return value
  }
  const version = field('VERSION', 2)
  if (version !== '1') fail('VERSION')
  const timestamp = field('TIMESTAMP', 64)
  if (timestamp !== '-' && (!TIMESTAMP.test(timestamp) || Number.isNaN(Date.parse(timestamp)))) fail('TIMESTAMP')
  const hostname = field('HOSTNAME', 255)
  const appName = field('APP-NAME', 48)
  const procId = field('PROCID', 128)
  const msgId = field('MSGID', 32)
  const structuredData: SyslogMessage['structuredData'] = []
  if (text[pos] === '-') {
    pos++
  } else {
    if (text[pos] !== '[') fail('STRUCTURED-DATA')
    while (text[pos] === '[') {
      pos++
      const id = sdName('SD-ID')
      const params: Record<string, string> = {}
      while (text[pos] === ' ') {
        pos++
        const name = sdName('PARAM-NAME')
        if (text[pos] !== '=' || text[pos + 1] !== '"') fail('PARAM-VALUE start')
        pos += 2
        let value = ''
        for (;;) {
          const c = text[pos]
          if (c === undefined) fail('unterminated PARAM-VALUE')
          if (c === '\\' && (text[pos + 1] === '"' || text[pos + 1] === '\\' || text[pos + 1] === ']')) {
            value += text[pos + 1]
            pos += 2
            continue
          }
          if (c === '"' || c === ']') {
            if (c === ']') fail('unescaped ] in PARAM-VALUE')
            pos++
            break
          }
          value += c
          pos++
        }
        params[name] = value
      }
      if (text[pos] !== ']') fail('SD-ELEMENT end')
      pos++
      structuredData.push({ id, params })
    }
  }
  let msg = ''
  if (pos < text.length) {
    if (text[pos] !== ' ') fail('SP before MSG')
    msg = text.slice(pos + 1)
  }
  return {
    pri: priValue,
    facility: priValue >> 3,
    severity: priValue & 7,
    version: 1,
    timestamp,
    hostname,
    appName,
    procId,
    msgId,
    structuredData,
    msg,
  }

  function sdName(what: string): string {
    const start = pos
    while (pos < text.length && !' =]"'.includes(text[pos] as string)) pos++
    const name = text.slice(start, pos)
    if (name.length === 0 || name.length > 32 || !PRINTUSASCII.test(name)) fail(what)
    return name
  }
}

export interface SyslogListener {
  /** Where to point the output: udp://127.0.0.1:port, tcp://..., unix:///path. */
  url: string
  messages: SyslogMessage[]
  errors: string[]
  /** TCP/unix connections accepted so far. */
  connections: number
  close(): Promise<void>
}

/** A UDP listener; each datagram is one message. */
export async function udpListener(): Promise<SyslogListener> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 * 1024 * 1024 })
  const state: SyslogListener = { url: '', messages: [], errors: [], connections: 0, close: async () => undefined }
  socket.on('message', (buf) => accept(state, buf.toString('utf8')))
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  state.url = `udp://127.0.0.1:${(socket.address() as AddressInfo).port}`
  state.close = () => new Promise<void>((resolve) => socket.close(() => resolve()))
  return state
}

export interface StreamListenerOptions {
  /** A unix socket path instead of a TCP port. */
  path?: string
  /** Destroy the first connection once this many bytes arrived (mid-frame, on purpose). */
  dropAfterBytes?: number
  /** Frames separated by LF instead of octet counting. */
  framing?: 'octet-counting' | 'lf'
  /** Start down: every connection is reset at once (the port stays held, so no other process can take it). */
  down?: boolean
}

/** A stream listener that can play a server that is down without giving up its port. */
export interface StreamListener extends SyslogListener {
  partialFramesDiscarded: number
  /** Connections reset while down. */
  refused: number
  /** Down: reset every new connection (and the open ones) at once; up: accept again. */
  setDown(down: boolean): void
}

/** A TCP (or unix stream) listener with RFC 6587 framing. */
export async function streamListener(options: StreamListenerOptions = {}): Promise<StreamListener> {
  const sockets = new Set<net.Socket>()
  let down = options.down === true
  const state: StreamListener = {
    url: '',
    messages: [] as SyslogMessage[],
    errors: [] as string[],
    connections: 0,
    partialFramesDiscarded: 0,
    refused: 0,
    close: async () => undefined as void,
    setDown(on: boolean) {
      down = on
      if (on) for (const s of sockets) s.resetAndDestroy()
    },
  }
  let dropped = false
  const server = net.createServer((socket) => {
    if (down) {
      state.refused++
      socket.on('error', () => undefined)
      socket.resetAndDestroy()
      return
    }
    state.connections++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    let pending: Buffer = Buffer.alloc(0)
    let received = 0
    socket.on('data', (chunk) => {
      if (options.dropAfterBytes !== undefined && !dropped && received + chunk.length >= options.dropAfterBytes) {
        // Take only part of this chunk, then cut the connection in the middle of the stream.
        chunk = chunk.subarray(0, Math.max(0, options.dropAfterBytes - received))
        dropped = true
        pending = Buffer.concat([pending, chunk])
        pending = drain(state, pending, options.framing ?? 'octet-counting')
        if (pending.length > 0) state.partialFramesDiscarded++
        socket.destroy()
        return
      }
      received += chunk.length
      pending = drain(state, Buffer.concat([pending, chunk]), options.framing ?? 'octet-counting')
    })
    socket.on('end', () => {
      if (pending.length > 0) state.errors.push(`connection ended inside a frame (${pending.length} bytes)`)
      socket.end()
    })
  })
  await new Promise<void>((resolve) =>
    options.path ? server.listen(options.path, resolve) : server.listen(0, '127.0.0.1', resolve),
  )
  state.url = options.path ? `unix://${options.path}` : `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  return state
}

function drain(state: SyslogListener, buf: Buffer, framing: 'octet-counting' | 'lf'): Buffer {
  let offset = 0
  for (;;) {
    if (framing === 'lf') {
      const nl = buf.indexOf(10, offset)
      if (nl < 0) break
      accept(state, buf.subarray(offset, nl).toString('utf8'))
      offset = nl + 1
      continue
    }
    const sp = buf.indexOf(32, offset)
    if (sp < 0) break
    const lenText = buf.subarray(offset, sp).toString('latin1')
    if (!/^[1-9]\d{0,8}$/.test(lenText)) {
      state.errors.push(`bad octet count ${JSON.stringify(lenText)}`)
      return Buffer.alloc(0)
    }
    const len = Number(lenText)
    if (buf.length < sp + 1 + len) break
    accept(state, buf.subarray(sp + 1, sp + 1 + len).toString('utf8'))
    offset = sp + 1 + len
  }
  return buf.subarray(offset)
}

function accept(state: SyslogListener, text: string): void {
  try {
    state.messages.push(parseRfc5424(text))
  } catch (err) {
    state.errors.push((err as Error).message)
  }
}
