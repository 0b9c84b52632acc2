import type { LogSink } from '../../src/index.ts'

/** A sink that keeps every line, parsed. */
export function capture(options: Partial<Pick<LogSink, 'level' | 'format'>> = {}): LogSink & {
  lines: string[]
  records: () => Array<Record<string, unknown>>
} {
  const lines: string[] = []
  return {
    ...options,
    lines,
    write(line: string) {
      lines.push(line)
    },
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  }
}
