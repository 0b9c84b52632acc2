// What the cluster and sentinel helpers share: the redis binaries, free local ports, and a
// group of redis-server processes in one temp dir that is stopped and removed as a whole.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll } from 'vitest'

export const run = promisify(execFile)
export const SERVER = process.env.BEAVER_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'
export const CLI = process.env.BEAVER_TEST_REDIS_CLI ?? '/usr/bin/redis-cli'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export interface ProcessGroup {
  /** The group's temp dir, removed by stop(). */
  dir: string
  /** Starts `redis-server` with these arguments as part of the group. */
  start(args: readonly string[]): void
  /** SIGTERMs every process, waits for each to exit, removes the dir. */
  stop(): Promise<void>
}

export function processGroup(prefix: string): ProcessGroup {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const procs: ChildProcess[] = []
  return {
    dir,
    start(args) {
      procs.push(spawn(SERVER, [...args], { stdio: 'ignore' }))
    },
    async stop() {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve()
              p.once('exit', () => resolve())
              p.kill('SIGTERM')
            }),
        ),
      )
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Starts a set of Redis processes once for the test file (when `available`) and stops it after
 * the file; the returned getter gives the handle, and throws if it did not start.
 * @example const cluster = useRedisProcesses(withCluster, startRedisCluster, 'the Redis Cluster')
 */
export function useRedisProcesses<H extends { stop(): Promise<void> }>(
  available: boolean,
  start: () => Promise<H>,
  what: string,
): () => H {
  let handle: H | undefined
  beforeAll(async () => {
    if (available) handle = await start()
  }, 60_000)
  afterAll(async () => {
    await handle?.stop()
  })
  return () => {
    if (handle === undefined) throw new Error(`${what} did not start`)
    return handle
  }
}
