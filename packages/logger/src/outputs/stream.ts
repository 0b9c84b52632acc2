import { readdirSync, renameSync, statSync, existsSync } from 'node:fs'
import { unlink } from 'node:fs/promises'
import { basename, dirname, extname, join } from 'node:path'
import sonicBoom, { type SonicBoom as SonicBoomType } from 'sonic-boom'

// sonic-boom is CommonJS: its named export is invisible to ESM, and its typings mistype the default.
const SonicBoom = sonicBoom as unknown as typeof SonicBoomType
type SonicBoom = SonicBoomType
import { LoggerError } from '../errors.ts'
import { reportDropped, reportOutputError } from '../channels.ts'
import { flushAtExit } from './exit.ts'
import type { Output } from './types.ts'
import type { WriteMode } from './spec.ts'

/** Settings of a stdout, stderr or file output. */
export interface StreamOutputOptions {
  /** stdout, stderr, or a file path. */
  target: 'stdout' | 'stderr' | { path: string }
  mode: WriteMode
  /** Batch size in bytes for the buffered and async modes. */
  buffer: number
  /** Rotate when the file reaches this many bytes. */
  maxSize?: number | undefined
  /** Rotate on this UTC-aligned period in ms. */
  interval?: number | undefined
  /** Rotated files kept. */
  maxFiles?: number | undefined
}

// The largest batch: sonic-boom's maxWrite (16 KiB), the cap it put on its own batches.
const MAX_BATCH = 16 * 1024 - 1

/**
 * stdout, stderr or a file, on sonic-boom. In the default `buffered` mode lines are written
 * synchronously in batches of `buffer` bytes and the rest at the end of the current event-loop
 * turn: measured faster than both pino's sync and async modes on a burst (see README), and a
 * line is never older than one turn. Files rotate by size and/or time and keep `maxFiles`.
 *
 * The batch is gathered here, not in sonic-boom (which is given `minLength: 0` and one write per
 * batch): sonic-boom measures the UTF-8 length of its whole pending chunk on every write, which
 * flattens the chunk again for each line (~700 ns a line at 4 KiB batches against ~170 ns for
 * appending here and handing over whole batches). The batch is measured in UTF-16 code units,
 * which is bytes for ASCII (non-ASCII text makes a batch up to 3x that in bytes, which sonic-boom
 * writes whole all the same).
 */
export class StreamOutput implements Output {
  readonly name: string
  dropped = 0
  private readonly sonic: SonicBoom
  private readonly path: string | undefined
  private readonly options: StreamOutputOptions
  private closed = false
  private closing: Promise<void> | undefined
  private tailScheduled = false
  /** Lines accepted but not yet handed to sonic-boom, and their length in UTF-16 code units. */
  private pending = ''
  private pendingLength = 0
  private pendingLines = 0
  /** Lines of the batch being written right now (counted as dropped when that write breaks the output). */
  private handingLines = 0
  private readonly batch: number
  private size = 0
  private rotationTimer: NodeJS.Timeout | undefined
  private pruning: Promise<void> = Promise.resolve()
  private readonly unregisterExit: () => void
  private broken = false
  private reopening = false

  constructor(options: StreamOutputOptions) {
    this.options = options
    const { target, mode } = options
    this.path = typeof target === 'object' ? target.path : undefined
    this.name = this.path === undefined ? (target as string) : `file:${this.path}`
    this.batch = Math.min(options.buffer, MAX_BATCH)
    try {
      this.sonic = new SonicBoom({
        ...(this.path === undefined ? { fd: target === 'stdout' ? 1 : 2 } : { dest: this.path, mkdir: true }),
        // Always opened synchronously, so that a line logged right before process.exit() has a
        // file to go to; async mode switches to asynchronous writes just below.
        sync: true,
        minLength: 0,
      })
      if (mode === 'async') (this.sonic as unknown as { sync: boolean }).sync = false
    } catch (err) {
      throw new LoggerError(
        'LOG_OUTPUT_OPEN_FAILED',
        `Could not open the log file ${this.path}: ${(err as Error).message}. Check the directory exists and is writable.`,
        { cause: err, details: { output: this.name } },
      )
    }
    this.sonic.on('error', (err: NodeJS.ErrnoException) => this.onError(err))
    // Each reopen() adds a once('ready') listener that sonic-boom fires (closing the old
    // descriptor) on the next tick; a burst may rotate several times within one tick.
    this.sonic.setMaxListeners(0)
    if (this.path !== undefined && (options.maxSize !== undefined || options.interval !== undefined)) {
      this.size = fileSize(this.path)
      this.write = options.maxSize === undefined ? this.writeBatched : this.writeCounting
      if (options.interval !== undefined) this.scheduleTimeRotation()
    } else {
      this.write = mode === 'sync' ? this.writeDirect : this.writeBatched
    }
    this.unregisterExit = flushAtExit(this)
  }

  write: (line: string) => void

  // sonic-boom's type declarations omit the flag it sets once closed.
  private get destroyed(): boolean {
    return (this.sonic as unknown as { destroyed: boolean }).destroyed
  }

  private writeDirect(line: string): void {
    if (this.closed) return this.dropAfterClose()
    this.sonic.write(line)
  }

  private writeBatched(line: string): void {
    if (this.closed) return this.dropAfterClose()
    this.pending += line
    this.pendingLines++
    if ((this.pendingLength += line.length) >= this.batch) this.handOver()
    else if (!this.tailScheduled) this.scheduleTail()
  }

  private writeCounting(line: string): void {
    if (this.closed) return this.dropAfterClose()
    this.pending += line
    this.pendingLength += line.length
    this.pendingLines++
    this.size += Buffer.byteLength(line)
    if (this.size >= (this.options.maxSize as number)) this.rotate()
    else if (this.pendingLength >= this.batch) this.handOver()
    else if (!this.tailScheduled) this.scheduleTail()
  }

  // The batch goes to sonic-boom, which writes it at once (synchronously in buffered mode; in
  // async mode it starts the write, or queues the batch behind the one in flight).
  private handOver(): void {
    const batch = this.pending
    const lines = this.pendingLines
    this.pending = ''
    this.pendingLength = 0
    this.pendingLines = 0
    if (this.destroyed || this.broken) return this.drop(lines, this.broken ? 'broken' : 'closed')
    // A synchronous write that breaks the output (EPIPE) reports it inside this call.
    this.handingLines = lines
    this.sonic.write(batch)
    this.handingLines = 0
  }

  private drop(lines: number, reason: string): void {
    if (lines === 0) return
    this.dropped += lines
    reportDropped(this.name, lines, reason)
  }

  private scheduleTail(): void {
    this.tailScheduled = true
    setImmediate(() => {
      this.tailScheduled = false
      // The end-of-turn tail: what is gathered goes to the descriptor, as pino's own batches do,
      // without the fsync that sonic-boom's flushSync() adds (an fsync every turn made each turn
      // wait for the disk, and on /dev/null or a pipe threw an error it then swallowed).
      if (!this.closed && this.pendingLength > 0) this.handOver()
    }).unref()
  }

  flushSync(): void {
    if (this.pendingLength > 0) this.handOver()
    if (this.destroyed || this.broken) return
    try {
      this.sonic.flushSync()
    } catch (err) {
      // sonic-boom refuses flushSync while an async write is in flight; the write completes it.
      if (!/_writing|writing/i.test((err as Error).message)) throw err
    }
  }

  flush(): Promise<void> {
    if (this.pendingLength > 0) this.handOver()
    if (this.destroyed || this.broken) return this.pruning
    return new Promise<void>((resolve, reject) => {
      this.sonic.flush((err?: Error) => (err ? reject(err) : resolve()))
    }).then(() => this.pruning)
  }

  /** Renames the file to `<name>.<UTC time><ext>`, reopens the original path, prunes old files. */
  rotate(): void {
    const path = this.path
    // In async mode sonic-boom opens the new file later: one rotation at a time.
    if (path === undefined || this.closed || this.reopening) return
    try {
      this.flushSync()
      if (this.size === 0 && fileSize(path) === 0) return
      renameSync(path, rotatedName(path, new Date()))
      this.size = 0
      // sonic-boom closes the old descriptor once the new one is open: none is leaked.
      if (this.options.mode === 'async') {
        this.reopening = true
        this.sonic.once('ready', () => {
          this.reopening = false
        })
      }
      const sonic = this.sonic as unknown as { sync: boolean }
      const sync = sonic.sync
      sonic.sync = true // open the new file now, whatever the write mode
      this.sonic.reopen()
      sonic.sync = sync
    } catch (err) {
      this.onError(err as NodeJS.ErrnoException)
      return
    }
    this.prune(path)
  }

  private prune(path: string): void {
    const keep = this.options.maxFiles ?? 10
    const previous = this.pruning
    this.pruning = previous.then(async () => {
      const rotated = listRotated(path)
      for (const file of rotated.slice(0, Math.max(0, rotated.length - keep))) {
        try {
          await unlink(file)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onError(err as NodeJS.ErrnoException)
        }
      }
    })
  }

  private scheduleTimeRotation(): void {
    const interval = this.options.interval as number
    const now = Date.now()
    const next = Math.floor(now / interval) * interval + interval
    this.rotationTimer = setTimeout(() => {
      this.rotate()
      if (!this.closed) this.scheduleTimeRotation()
    }, next - now)
    this.rotationTimer.unref()
  }

  private dropAfterClose(): void {
    this.drop(1, 'closed')
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (err.code === 'EPIPE') {
      // The reader went away (stdout piped to `head`): stop writing rather than throwing forever.
      // Lines gathered here and the batch whose write failed are counted as dropped, as is
      // every line after (what sonic-boom had queued in async mode is lost uncounted).
      this.broken = true
      this.write = () => this.drop(1, 'broken')
      const lost = this.pendingLines + this.handingLines
      this.pending = ''
      this.pendingLength = 0
      this.pendingLines = 0
      this.handingLines = 0
      this.drop(lost, 'broken')
    }
    reportOutputError(this.name, err)
  }

  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    if (this.rotationTimer) clearTimeout(this.rotationTimer)
    this.closed = true
    this.unregisterExit()
    if (this.pendingLength > 0) this.handOver()
    await this.pruning
    if (this.destroyed) return
    if (this.broken) {
      this.sonic.destroy()
      return
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err)
      this.sonic.once('error', onError)
      this.sonic.once('close', () => {
        this.sonic.off('error', onError)
        resolve()
      })
      this.sonic.end()
    })
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function stamp(date: Date): string {
  return date.toISOString().replace(/:/g, '-')
}

/** `app.log` → `app.2026-11-21T00-00-00.000Z.log`, with `.1`, `.2` added on a collision. */
export function rotatedName(path: string, date: Date): string {
  const ext = extname(path)
  const base = path.slice(0, path.length - ext.length)
  let candidate = `${base}.${stamp(date)}${ext}`
  for (let n = 1; existsSync(candidate); n++) candidate = `${base}.${stamp(date)}.${n}${ext}`
  return candidate
}

const ROTATED = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z(?:\.(\d+))?$/

/** The rotated files of `path`, oldest first. */
export function listRotated(path: string): string[] {
  const dir = dirname(path)
  const ext = extname(path)
  const stem = basename(path, ext)
  const found: Array<{ file: string; key: string; n: number }> = []
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith(`${stem}.`) || !entry.endsWith(ext)) continue
    const middle = entry.slice(stem.length + 1, entry.length - ext.length)
    const m = ROTATED.exec(middle)
    if (m) found.push({ file: join(dir, entry), key: middle.slice(0, 24), n: Number(m[1] ?? 0) })
  }
  found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.n - b.n))
  return found.map((f) => f.file)
}
