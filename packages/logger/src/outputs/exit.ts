import { writeSync } from 'node:fs'

interface SyncFlushable {
  readonly name: string
  flushSync(): void
}

const live = new Set<SyncFlushable>()
let installed = false

// At 'exit' the event loop is gone: whatever is still buffered must be written synchronously,
// or a `fatal` line followed by process.exit() would be lost.
function flushAllSync(): void {
  for (const output of live) {
    try {
      output.flushSync()
    } catch (err) {
      try {
        writeSync(2, `@beaver-kit/logger: could not flush ${output.name} at exit: ${(err as Error).message}\n`)
      } catch {
        // stderr is gone too; nothing is left to tell
      }
    }
  }
}

/** Flushes `output` synchronously at process exit until the returned function is called. */
export function flushAtExit(output: SyncFlushable): () => void {
  if (!installed) {
    installed = true
    process.on('exit', flushAllSync)
  }
  live.add(output)
  return () => {
    live.delete(output)
  }
}
