// Private redis-server processes for tests that need their own (a Cluster, Sentinels, a server
// to kill and restart), never the shared one: the redis binaries, free local ports, and a group
// of processes in one temp dir that is stopped and removed as a whole.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll } from 'vitest'
import { eventually } from './eventually.ts'
import { freePort, isCI } from './services.ts'

export const run = promisify(execFile)
export const SERVER = process.env.BEAVER_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'
export const CLI = process.env.BEAVER_TEST_REDIS_CLI ?? '/usr/bin/redis-cli'

/**
 * Whether redis-server and redis-cli are installed; prints why not, naming `who` (and throws
 * with CI=true, where a skip is a failure).
 */
export function redisServersAvailable(who: string): boolean {
  if (existsSync(SERVER) && existsSync(CLI)) return true
  const reason = `redis-server/redis-cli not found at ${SERVER} / ${CLI}`
  if (isCI())
    throw new Error(`CI=true and the tests that start their own redis-server processes cannot run (${who}): ${reason}`)
  console.warn(`[${who}] skipping the tests that start their own redis-server processes: ${reason}`)
  return false
}

/**
 * Starts a redis-server of `group` on a free port and returns the port once that process (not
 * another one) answers there. A port is free when chosen but may be taken before redis-server
 * binds it (parallel sessions start servers too): the server then exits, and this tries again
 * on another port, up to five times, before failing with the ports it lost.
 * @param argsFor the arguments for a port (the function may write a config file for it)
 * @param usable an extra check on a candidate port (the cluster bus needs port + 10000 free)
 * @param password what the process requires of its clients (`requirepass`), if anything
 */
export async function startOnFreePort(
  group: ProcessGroup,
  argsFor: (port: number) => readonly string[],
  usable: (port: number) => Promise<boolean> = async () => true,
  password?: string,
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
        const info = await run(CLI, [...cliAuth(password), '-p', String(port), 'info', 'server']).then(
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

/** redis-cli's arguments to authenticate with `password`, if any. */
export function cliAuth(password: string | undefined): string[] {
  return password === undefined ? [] : ['-a', password, '--no-auth-warning']
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

/** One private redis-server to kill and start again (a restart mid-test). */
export interface RedisServerHandle {
  port: number
  url: string
  /** SIGKILLs the server (no shutdown save) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts it again on the same port and dir; resolves once it has loaded its data and answers. */
  restart(): Promise<void>
  /** Kills it and removes its dir. */
  stop(): Promise<void>
}

/**
 * Starts a private redis-server on a free port. With `appendOnly`, every write is fsync'd to an
 * append-only file in its dir, so a SIGKILL loses nothing and `restart()` comes back with it all.
 */
export async function startRedisServer(options: { appendOnly?: boolean } = {}): Promise<RedisServerHandle> {
  const group = processGroup('beaver-redis-')
  const persistence = options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  const argsFor = (p: number): string[] => [
    '--port',
    String(p),
    '--bind',
    '127.0.0.1',
    '--dir',
    group.dir,
    '--save',
    '',
    ...persistence,
  ]
  let current: ChildProcess | undefined
  const tracked: ProcessGroup = {
    ...group,
    start(args) {
      current = group.start(args)
      return current
    },
  }
  try {
    const port = await startOnFreePort(tracked, argsFor)
    const kill = async (): Promise<void> => {
      const proc = current
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGKILL')
      await exited
    }
    return {
      port,
      url: `redis://127.0.0.1:${port}`,
      kill,
      async restart() {
        tracked.start(argsFor(port))
        await eventually(
          async () => {
            const info = await run(CLI, ['-p', String(port), 'info', 'persistence']).then(
              (r) => r.stdout,
              () => '',
            )
            return info.includes('loading:0')
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        )
      },
      async stop() {
        await kill()
        await group.stop()
      },
    }
  } catch (error) {
    await group.stop()
    throw error
  }
}
