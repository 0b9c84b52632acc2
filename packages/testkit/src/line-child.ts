// A second Node process for tests that need two (two limiters, two session managers on one
// store): a script run from source, spoken to one line at a time over stdin and stdout.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'

export interface LineChild {
  /** The child's next stdout line; rejects with its stderr once it has exited. */
  next(): Promise<string>
  /** Writes one line to the child's stdin. */
  send(line: string): void
  /** Closes the child's stdin (its cue to finish) and waits for it to exit. */
  end(): Promise<void>
}

/**
 * Starts `script` (a .ts file, run with the kit's source condition) with `argument` as JSON in
 * argv[2].
 * @example const child = startLineChild(fileURLToPath(new URL('./helpers/child.ts', import.meta.url)), { url })
 */
export function startLineChild(script: string, argument: unknown): LineChild {
  const proc = spawn(process.execPath, ['--conditions=@beaver-kit/source', script, JSON.stringify(argument)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stderr = ''
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
  const exit = once(proc, 'exit')
  const exited = exit.then(([code]) => {
    throw new Error(`the child exited with ${String(code)}: ${stderr}`)
  })
  exited.catch(() => undefined)
  const lines = createInterface({ input: proc.stdout })[Symbol.asyncIterator]()
  return {
    async next() {
      const line = await Promise.race([lines.next(), exited])
      if (line.done === true) await exited // stdout closed: the child is exiting, and says why
      return String(line.value)
    },
    send(line) {
      proc.stdin.write(`${line}\n`)
    },
    async end() {
      proc.stdin.end()
      if (proc.exitCode === null && proc.signalCode === null) await exit
    },
  }
}
