// Parsers for every env type. Each returns the value or throws ParseIssue, whose text says
// what is accepted; the resolver turns issues into one ConfigError.

export class ParseIssue extends Error {}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}
export const DURATION_ACCEPTS = 'a duration such as 250ms, 10s, 5m, 1.5h, 2d or 1h30m (a bare number is milliseconds)'

/** Parses `250ms`, `10s`, `1.5h`, `1h30m` or a bare number of milliseconds into milliseconds. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') return checkNonNegative(input, DURATION_ACCEPTS)
  const text = input.trim().toLowerCase()
  if (/^\d+(\.\d+)?$/.test(text)) return checkNonNegative(Math.round(Number(text)), DURATION_ACCEPTS)
  const part = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)/y
  let total = 0
  let pos = 0
  while (pos < text.length) {
    part.lastIndex = pos
    const m = part.exec(text)
    if (!m) throw new ParseIssue(`expected ${DURATION_ACCEPTS}`)
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number)
    pos = part.lastIndex
    while (text[pos] === ' ') pos++
  }
  if (pos === 0) throw new ParseIssue(`expected ${DURATION_ACCEPTS}`)
  return checkNonNegative(Math.round(total), DURATION_ACCEPTS)
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1024,
  kib: 1024,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
}
export const BYTES_ACCEPTS = 'a size such as 512, 64kb, 10mb or 1.5gb (binary units: 1kb = 1024 bytes)'

/** Parses `64kb`, `10mb`, `1.5gb` or a bare number of bytes (1 kb = 1024 bytes). */
export function parseBytes(input: string | number): number {
  if (typeof input === 'number') return checkNonNegative(Math.floor(input), BYTES_ACCEPTS)
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/.exec(input.trim().toLowerCase())
  const unit = m ? BYTE_UNITS[m[2] ?? 'b'] : undefined
  if (!m || unit === undefined) throw new ParseIssue(`expected ${BYTES_ACCEPTS}`)
  return checkNonNegative(Math.floor(Number(m[1]) * unit), BYTES_ACCEPTS)
}

function checkNonNegative(n: number, accepts: string): number {
  if (!Number.isFinite(n) || n < 0) throw new ParseIssue(`expected ${accepts}`)
  if (n > Number.MAX_SAFE_INTEGER)
    throw new ParseIssue(`is too large; expected ${accepts} up to ${Number.MAX_SAFE_INTEGER}`)
  return n
}

export function parseInteger(input: string | number, min?: number, max?: number): number {
  let n: number
  if (typeof input === 'number') n = input
  else {
    const text = input.trim()
    if (!/^[+-]?\d+$/.test(text)) throw new ParseIssue(`expected an integer${range(min, max)}`)
    n = Number(text)
  }
  if (!Number.isSafeInteger(n)) throw new ParseIssue(`expected a safe integer${range(min, max)}`)
  checkRange(n, min, max)
  return n
}

export function parseNumber(input: string | number, min?: number, max?: number): number {
  const n = typeof input === 'number' ? input : input.trim() === '' ? Number.NaN : Number(input.trim())
  if (!Number.isFinite(n)) throw new ParseIssue(`expected a finite number${range(min, max)}`)
  checkRange(n, min, max)
  return n
}

function checkRange(n: number, min?: number, max?: number): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new ParseIssue(`is out of range; expected a number${range(min, max)}`)
  }
}

function range(min?: number, max?: number): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`
  if (min !== undefined) return ` of at least ${min}`
  if (max !== undefined) return ` of at most ${max}`
  return ''
}

const TRUE = new Set(['true', '1', 'yes', 'on'])
const FALSE = new Set(['false', '0', 'no', 'off'])
export function parseBoolean(input: string | boolean): boolean {
  if (typeof input === 'boolean') return input
  const text = input.trim().toLowerCase()
  if (TRUE.has(text)) return true
  if (FALSE.has(text)) return false
  throw new ParseIssue('expected one of true, false, 1, 0, yes, no, on, off')
}

export function parseUrl(input: string, protocols?: readonly string[]): string {
  let url: URL
  try {
    url = new URL(input.trim())
  } catch {
    throw new ParseIssue(
      `expected an absolute URL${protocols ? ` (${protocols.map((p) => `${p}://`).join(', ')})` : ''}`,
    )
  }
  const scheme = url.protocol.slice(0, -1)
  if (protocols && !protocols.includes(scheme)) {
    throw new ParseIssue(`has scheme "${scheme}"; expected one of ${protocols.map((p) => `${p}://`).join(', ')}`)
  }
  return input.trim()
}

export function parseEnum<V extends string>(input: string, values: readonly V[]): V {
  const text = input.trim()
  const exact = values.find((v) => v === text) ?? values.find((v) => v.toLowerCase() === text.toLowerCase())
  if (exact === undefined) throw new ParseIssue(`expected one of ${values.join(', ')}`)
  return exact
}

export function parseList(input: string | readonly string[]): string[] {
  if (Array.isArray(input)) return [...(input as readonly string[])]
  return (input as string)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])

/** JSON.parse that drops `__proto__`, `constructor` and `prototype` keys at every depth. */
export function parseJson(input: string): unknown {
  try {
    return JSON.parse(input, (key, value: unknown) => (FORBIDDEN_KEYS.has(key) ? undefined : value))
  } catch (err) {
    // JSON.parse quotes the input in its message ("hunter2" is not valid JSON): never repeat it.
    const at = /position (\d+)/.exec((err as Error).message)?.[1]
    throw new ParseIssue(`expected valid JSON${at === undefined ? '' : ` (syntax error at position ${at})`}`)
  }
}

export function isForbiddenKey(key: string): boolean {
  return FORBIDDEN_KEYS.has(key)
}
