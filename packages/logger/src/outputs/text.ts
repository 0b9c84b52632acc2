import type { Output } from './types.ts'

const NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' }
const COLORS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35;1' }
const OMIT = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'module', 'name', 'err'])

/** Whether text on this stream should carry ANSI colors: only a TTY, and never with NO_COLOR. */
export function wantsColor(target: 'stdout' | 'stderr' | 'file' | 'syslog'): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0')
    return target === 'stdout' || target === 'stderr'
  if (target === 'stdout') return process.stdout.isTTY === true
  if (target === 'stderr') return process.stderr.isTTY === true
  return false
}

/**
 * Turns one NDJSON line into `2026-11-21T00:10:00.123Z INFO  [db] message key=value`, with an
 * error's stack (and causes) on the following lines. Meant for people, not for parsers.
 */
export function formatText(line: string, colors: boolean): string {
  let rec: Record<string, unknown>
  try {
    rec = JSON.parse(line) as Record<string, unknown>
  } catch {
    return `${escapeControl(line.endsWith('\n') ? line.slice(0, -1) : line)}\n`
  }
  const level = typeof rec.level === 'number' ? rec.level : 30
  const label = NAMES[level] ?? escapeControl(String(rec.level))
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString() : escapeControl(String(rec.time ?? ''))
  const paint = (code: string | undefined, text: string): string =>
    colors && code ? `\x1b[${code}m${text}\x1b[0m` : text
  let out = `${paint('2', time)} ${paint(COLORS[level], label)}`
  const scope = [rec.name, rec.module].filter((v) => typeof v === 'string').join('/')
  if (scope) out += ` ${paint('1', `[${escapeControl(scope)}]`)}`
  if (rec.msg !== undefined) out += ` ${escapeControl(String(rec.msg))}`
  for (const [key, value] of Object.entries(rec)) {
    if (OMIT.has(key) || value === undefined) continue
    out += ` ${paint('2', `${escapeControl(key)}=`)}${formatValue(value)}`
  }
  out += '\n'
  if (rec.err !== undefined) out += formatError(rec.err, '    ')
  return out
}

// C0 controls (newline, carriage return and ESC included), DEL, C1 controls (CSI is U+009B)
// and the Unicode line separators: what could forge a line or drive a terminal.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * Text that came from a log call, made safe for a terminal and a line-oriented reader: every
 * control character is written as an escape (`\n`, `\x1b`, `\u2028`), so a message cannot
 * forge another line or inject terminal escapes. The logger's own colours are added after.
 */
export function escapeControl(text: string): string {
  return text.replace(
    CONTROL,
    (c) =>
      NAMED[c] ??
      (c.charCodeAt(0) > 0xff
        ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`
        : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`),
  )
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    if (/^[^\s"=]+$/.test(value)) return escapeControl(value)
    return `"${escapeControl(value.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`
  }
  // JSON escapes C0 controls itself but writes DEL, C1 and U+2028 as they are.
  return escapeControl(JSON.stringify(value))
}

function formatError(err: unknown, indent: string): string {
  if (typeof err !== 'object' || err === null) return `${indent}${escapeControl(String(err))}\n`
  const e = err as Record<string, unknown>
  const head = typeof e.stack === 'string' ? e.stack : `${String(e.type ?? 'Error')}: ${String(e.message ?? '')}`
  // A stack is several lines by nature: each is escaped on its own.
  let out = head
    .split('\n')
    .map((l) => `${indent}${escapeControl(l)}`)
    .join('\n')
  out += '\n'
  const extra = Object.entries(e).filter(([k]) => !['type', 'message', 'stack', 'cause', 'errors'].includes(k))
  if (extra.length > 0)
    out += `${indent}${extra.map(([k, v]) => `${escapeControl(k)}=${escapeControl(JSON.stringify(v))}`).join(' ')}\n`
  if (Array.isArray(e.errors)) for (const member of e.errors) out += formatError(member, `${indent}  `)
  if (e.cause !== undefined) out += `${indent}caused by:\n${formatError(e.cause, indent)}`
  return out
}

/** Wraps an output so that it receives text instead of JSON. */
export class TextOutput implements Output {
  readonly name: string
  private readonly inner: Output
  private readonly colors: boolean
  /** Whether the wrapped output needs each line's level (syslog severity). */
  readonly needsLevel: boolean
  constructor(inner: Output, colors: boolean, needsLevel = false) {
    this.inner = inner
    this.colors = colors
    this.needsLevel = needsLevel
    this.name = inner.name
  }
  get dropped(): number {
    return this.inner.dropped
  }
  write(line: string): void {
    this.inner.lastLevel = this.lastLevel
    this.inner.write(formatText(line, this.colors))
  }
  lastLevel?: number
  flush(): Promise<void> {
    return this.inner.flush()
  }
  ready(signal?: AbortSignal): Promise<void> {
    return this.inner.ready?.(signal) ?? Promise.resolve()
  }
  flushSync(): void {
    this.inner.flushSync()
  }
  close(): Promise<void> {
    return this.inner.close()
  }
}
