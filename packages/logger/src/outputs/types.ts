import type { Level } from '../levels.ts'

/** What pino hands an output that asks for it (`needsMetadata`): the level and object of the line. */
export interface LineMetadata {
  lastLevel?: number
  lastObj?: object
  lastMsg?: string
}

/**
 * One destination of log lines. `write` takes one complete NDJSON line and must not throw or
 * block on the network; `flush` resolves when every accepted line reached the OS or the peer;
 * `flushSync` is the exit path and writes what it can synchronously.
 */
export interface Output extends LineMetadata {
  readonly name: string
  write(line: string): void
  flush(): Promise<void>
  flushSync(): void
  close(): Promise<void>
  /** Resolves once the output can take lines (a network output reaches its server); absent: always ready. */
  ready?(signal?: AbortSignal): Promise<void>
  /** Lines this output could not deliver (full buffer, write error, after close). */
  readonly dropped: number
}

/** A user-supplied destination, e.g. to capture lines in a test or forward them elsewhere. */
export interface LogSink {
  write(line: string): unknown
  flush?(): unknown
  close?(): unknown
  /** Lowest level this sink receives. Default: everything the logger writes. */
  level?: Level
  /** Default: the logger's format. */
  format?: 'json' | 'text'
}
