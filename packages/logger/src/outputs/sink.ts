import { reportDropped, reportOutputError } from '../channels.ts'
import type { LogSink, Output } from './types.ts'

/** Adapts a user's `{ write(line) }` to an output; a throwing sink is counted, never rethrown into a log call. */
export class SinkOutput implements Output {
  readonly name: string
  dropped = 0
  lastLevel?: number
  private readonly sink: LogSink
  private closed: Promise<void> | undefined
  constructor(sink: LogSink, index: number) {
    this.sink = sink
    this.name = `sink#${index}`
  }
  write(line: string): void {
    if (this.closed !== undefined) {
      this.dropped++
      reportDropped(this.name, 1, 'closed')
      return
    }
    try {
      this.sink.write(line)
    } catch (err) {
      this.dropped++
      reportOutputError(this.name, err)
    }
  }
  async flush(): Promise<void> {
    await this.sink.flush?.()
  }
  flushSync(): void {}
  close(): Promise<void> {
    this.closed ??= Promise.resolve().then(async () => {
      await this.sink.flush?.()
      await this.sink.close?.()
    })
    return this.closed
  }
}
