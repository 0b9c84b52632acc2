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

/**
 * Starts a redis-server of `group` on a free port and returns the port once that process (not
 * another one) answers there. A port is free when chosen but may be taken before redis-server
 * binds it (parallel sessions start servers too): the server then exits, and this tries again
 * on another port, up to five times, before failing with the ports it lost.
 * @param argsFor the arguments for a port (the function may write a config file for it)
 * @param usable an extra check on a candidate port (the cluster bus needs port + 10000 free)
 */
export async function startOnFreePort(
  group: ProcessGroup,
  argsFor: (port: number) => readonly string[],
  usable: (port: number) => Promise<boolean> = async () => true,
): Promise<number> {
  const lost: number[] = []
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort()
    if (!(await usable(port))) continue
    const proc = group.start(argsFor(port))
    const exited = new Promise<'exited'>((resolve) => proc.once('exit', () => resolve('exited')))
    const answering = (async (): Promise<'ours' | 'exited'> => {
      for (;;) {
        if (proc.exitCode !== null || proc.signalCode !== null) return 'exited'
        const info = await run(CLI, ['-p', String(port), 'info', 'server']).then(
          (r) => r.stdout,
          () => '',
        )
        if (info.includes(`process_id:${proc.pid}\r`) || info.includes(`process_id:${proc.pid}\n`)) return 'ours'
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })()
    const outcome = await Promise.race([answering, exited, delay(10_000).then(() => 'slow' as const)])
    if (outcome === 'ours') return port
    if (outcome === 'slow') throw new Error(`redis-server on port ${port} did not answer within 10 s`)
    lost.push(port)
  }
  throw new Error(
    `redis-server could not bind a free port: ${lost.join(', ')} were taken by other processes between choosing and binding`,
  )
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}

export interface ProcessGroup {
  /** The group's temp dir, removed by stop(). */
  dir: string
  /** Starts `redis-server` with these arguments as part of the group. */
  start(args: readonly string[]): ChildProcess
  /** SIGTERMs every process, waits for each to exit, removes the dir. */
  stop(): Promise<void>
}

export function processGroup(prefix: string): ProcessGroup {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const procs: ChildProcess[] = []
  return {
    dir,
    start(args) {
      const proc = spawn(SERVER, [...args], { stdio: 'ignore' })
      procs.push(proc)
      return proc
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
