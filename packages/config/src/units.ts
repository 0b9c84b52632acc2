import { ConfigError } from './errors.ts'
import { BYTES_ACCEPTS, DURATION_ACCEPTS, ParseIssue, parseBytes, parseDuration } from './parse.ts'

/** A length of time: milliseconds, or text such as `250ms`, `10s`, `5m`, `1h30m`, `2d`. */
export type Duration = number | string

/** A size: bytes, or text such as `512`, `64kb`, `10mb` (binary units: 1kb = 1024 bytes). */
export type Bytes = number | string

/**
 * Milliseconds of a duration given in code (an option or an argument). Every package takes
 * durations as `Duration` and converts them here, so `'10s'` means the same thing kit-wide;
 * a bad value is a ConfigError naming `name`.
 * @example const ttlMs = toMs(options.ttl ?? '1h', 'ttl')
 */
export function toMs(value: Duration, name = 'duration'): number {
  try {
    return parseDuration(value)
  } catch (err) {
    throw invalid(name, value, err, DURATION_ACCEPTS)
  }
}

/**
 * Bytes of a size given in code; a bad value is a ConfigError naming `name`.
 * @example const max = toBytes(options.maxBody ?? '10mb', 'maxBody')
 */
export function toBytes(value: Bytes, name = 'size'): number {
  try {
    return parseBytes(value)
  } catch (err) {
    throw invalid(name, value, err, BYTES_ACCEPTS)
  }
}

function invalid(name: string, value: unknown, err: unknown, accepts: string): ConfigError {
  const expected = err instanceof ParseIssue ? err.message : `expected ${accepts}`
  return new ConfigError('option', [{ name: `option ${name}`, found: String(value), expected }])
}

const DURATION_STEPS: ReadonlyArray<[string, number]> = [
  ['w', 604_800_000],
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
]

/**
 * Milliseconds as the text a person would have written: the largest unit that divides it
 * exactly (`86400000` → `1d`, `5400000` → `90m`, `1500` → `1500ms`).
 */
export function formatDuration(ms: number): string {
  if (ms > 0 && Number.isInteger(ms)) {
    for (const [unit, size] of DURATION_STEPS) if (ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

const BYTE_STEPS: ReadonlyArray<[string, number]> = [
  ['tb', 1024 ** 4],
  ['gb', 1024 ** 3],
  ['mb', 1024 ** 2],
  ['kb', 1024],
]

/** Bytes in the largest binary unit that divides them exactly (`65536` → `64kb`, `1000` → `1000b`). */
export function formatBytes(bytes: number): string {
  if (bytes > 0 && Number.isInteger(bytes)) {
    for (const [unit, size] of BYTE_STEPS) if (bytes % size === 0) return `${bytes / size}${unit}`
  }
  return `${bytes}b`
}
