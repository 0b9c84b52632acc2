import { maskUrl, maskUrlsIn, parseBytes, parseDuration } from '@beaver-kit/config'
import { LoggerError } from '../errors.ts'
import { assertLevel, type Level } from '../levels.ts'

/** Line format of an output. */
export type Format = 'json' | 'text'
/** How stdout, stderr and file outputs write (see README, "Write modes"). */
export type WriteMode = 'buffered' | 'sync' | 'async'
/** Syslog transport. */
export type SyslogTransport = 'udp' | 'tcp' | 'unix'
/** Stream framing: RFC 6587 octet counting, or one message per line. */
export type SyslogFraming = 'octet-counting' | 'lf'

interface Common {
  level?: Level
  format?: Format
}
/** `stdout` / `stderr`. */
export interface StdSpec extends Common {
  kind: 'stdout' | 'stderr'
  mode?: WriteMode
  buffer?: number
}
/** `file:/path`. */
export interface FileSpec extends Common {
  kind: 'file'
  path: string
  mode?: WriteMode
  buffer?: number
  /** Bytes; rotate when the file reaches it. */
  maxSize?: number
  /** Milliseconds; rotate on this UTC-aligned period. */
  interval?: number
  maxFiles?: number
}
/** `syslog:udp://`, `syslog:tcp://`, `syslog:unix://`. */
export interface SyslogSpec extends Common {
  kind: 'syslog'
  transport: SyslogTransport
  host: string
  port: number
  /** Unix socket path. */
  path: string
  facility?: string
  appName?: string
  hostname?: string
  framing?: SyslogFraming
}
/** A parsed `BEAVER_LOG_OUTPUTS` item. */
export type OutputSpec = StdSpec | FileSpec | SyslogSpec

const ACCEPTS =
  'stdout, stderr, file:/path/app.log, syslog:udp://host:514, syslog:tcp://host:601 or syslog:unix:///path, each optionally followed by ?level=warn&format=text'

/**
 * Parses `stdout`, `file:/var/log/app.log?level=warn&maxSize=10mb`, `syslog:tcp://host:601`.
 * Unknown parameters are errors, so a typo never silently changes nothing.
 */
export function parseOutputSpec(text: string): OutputSpec {
  const q = text.indexOf('?')
  const head = q < 0 ? text : text.slice(0, q)
  const params = new URLSearchParams(q < 0 ? '' : text.slice(q + 1))
  const fail = (why: string): never => {
    // The spec may carry credentials (syslog:tcp://user:pw@host): never echoed.
    const shown = maskUrl(text)
    throw new LoggerError('LOG_OUTPUT_INVALID', `Log output "${shown}": ${maskUrlsIn(why)}. Accepted: ${ACCEPTS}`, {
      details: { output: shown },
    })
  }
  const take = <T>(key: string, parse: (v: string) => T): T | undefined => {
    const v = params.get(key)
    params.delete(key)
    if (v === null || v === '') return undefined
    try {
      return parse(v)
    } catch (err) {
      return fail(`parameter ${key}=${v} is invalid (${(err as Error).message})`)
    }
  }
  const level = take('level', (v) => assertLevel(v, 'level'))
  const format = take('format', (v) => oneOf(v, ['json', 'text'] as const))
  let spec: OutputSpec
  if (head === 'stdout' || head === 'stderr') {
    spec = { kind: head, ...writeParams(take) }
  } else if (head.startsWith('file:')) {
    const path = head.slice(5).replace(/^\/\/(?=\/)/, '')
    if (path === '') fail('the file path is empty')
    spec = {
      kind: 'file',
      path,
      ...writeParams(take),
      maxSize: take('maxSize', parseBytes),
      interval: take('interval', parseDuration),
      maxFiles: take('maxFiles', (v) => nonNegativeInt(v)),
    }
  } else if (head === 'syslog' || head.startsWith('syslog:')) {
    spec = { kind: 'syslog', ...syslogAddress(head === 'syslog' ? 'udp://127.0.0.1:514' : head.slice(7), fail) }
    spec.facility = take('facility', String)
    spec.appName = take('appName', String)
    spec.hostname = take('hostname', String)
    spec.framing = take('framing', (v) => oneOf(v, ['octet-counting', 'lf'] as const))
  } else {
    return fail('unknown kind')
  }
  const unknown = [...params.keys()]
  if (unknown.length > 0) fail(`unknown parameter ${unknown.join(', ')}`)
  if (level !== undefined) spec.level = level
  if (format !== undefined) spec.format = format
  return dropUndefined(spec)
}

function writeParams(take: <T>(key: string, parse: (v: string) => T) => T | undefined): {
  mode?: WriteMode
  buffer?: number
} {
  return {
    mode: take('mode', (v) => oneOf(v, ['buffered', 'sync', 'async'] as const)),
    buffer: take('buffer', parseBytes),
  }
}

function syslogAddress(
  address: string,
  fail: (why: string) => never,
): Pick<SyslogSpec, 'transport' | 'host' | 'port' | 'path'> {
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return fail(`"${address}" is not a URL like udp://127.0.0.1:514`)
  }
  const transport = url.protocol.slice(0, -1)
  if (transport === 'unix') {
    const path = decodeURIComponent(url.pathname)
    if (path === '' || path === '/') fail('the unix socket path is empty')
    return { transport, host: '', port: 0, path }
  }
  if (transport !== 'udp' && transport !== 'tcp') return fail(`transport "${transport}" is not udp, tcp or unix`)
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') fail('the host is empty')
  return { transport, host, port: url.port === '' ? (transport === 'udp' ? 514 : 601) : Number(url.port), path: '' }
}

function oneOf<const V extends string>(value: string, values: readonly V[]): V {
  if ((values as readonly string[]).includes(value)) return value as V
  throw new Error(`expected one of ${values.join(', ')}`)
}

function nonNegativeInt(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new Error('expected an integer >= 0')
  return n
}

function dropUndefined<T extends object>(spec: T): T {
  for (const key of Object.keys(spec) as Array<keyof T>) if (spec[key] === undefined) delete spec[key]
  return spec
}
