// Starts a real Redis master, its replicas and the Sentinels watching it (redis-server
// processes on spare local ports, in a temp dir), and stops them and removes the dir afterwards.
// Call only when redisServersAvailable().
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually } from './eventually.ts'
import { CLI, cliAuth, processGroup, run, startOnFreePort, useRedisProcesses } from './redis-processes.ts'

export interface RedisSentinelHandle {
  /** The first sentinel's address, `host:port`. */
  sentinel: string
  /** Every sentinel's address. */
  sentinels: string[]
  name: string
  /** The ports of the master and its replicas as started (the master first). */
  dataPorts: number[]
  stop(): Promise<void>
}

export interface RedisSentinelTopology {
  /** Replicas of the master; default 0. */
  replicas?: number
  /** Sentinels; default 1, and the quorum is a majority of them. */
  sentinels?: number
  /** How long a silent master takes to be judged down; default Sentinel's own (30 s). */
  downAfterMs?: number
  /** A password the sentinels require of their clients (`requirepass`); default none. */
  password?: string
}

/** The master's address as `sentinelPort`'s sentinel reports it, e.g. `127.0.0.1:6380`. */
export async function masterAddress(sentinelPort: number, name: string, password?: string): Promise<string> {
  const { stdout } = await run(CLI, [
    ...cliAuth(password),
    '-p',
    String(sentinelPort),
    'sentinel',
    'get-master-addr-by-name',
    name,
  ])
  return stdout.trim().split('\n').join(':')
}

/**
 * What the first sentinel answers a client that gives no password when asked for the master:
 * `NOAUTH ...` when the sentinels require one (redis-cli prints a server's error and exits 0).
 */
export async function sentinelAnswerWithoutPassword(handle: RedisSentinelHandle): Promise<string> {
  const port = handle.sentinel.slice(handle.sentinel.lastIndexOf(':') + 1)
  const { stdout } = await run(CLI, ['-p', port, 'sentinel', 'get-master-addr-by-name', handle.name])
  return stdout.trim()
}

/**
 * The `<envPrefix>REDIS_*` settings that point a package's Redis client at these sentinels
 * (`envPrefix` such as `BEAVER_SESSION_`), with the sentinels' password when given.
 */
export function sentinelEnv(envPrefix: string, handle: RedisSentinelHandle, password?: string): Record<string, string> {
  return {
    [`${envPrefix}REDIS_MODE`]: 'sentinel',
    [`${envPrefix}REDIS_SENTINELS`]: handle.sentinels.join(','),
    [`${envPrefix}REDIS_SENTINEL_NAME`]: handle.name,
    ...(password === undefined ? {} : { [`${envPrefix}REDIS_SENTINEL_PASSWORD`]: password }),
  }
}

export async function startRedisSentinel(topology: RedisSentinelTopology = {}): Promise<RedisSentinelHandle> {
  const { replicas = 0, sentinels = 1, downAfterMs, password } = topology
  const group = processGroup('beaver-sentinel-')
  const { dir, stop } = group
  const name = 'beavermaster'
  const dataArgs = (p: number): string[] => ['--port', String(p), '--bind', '127.0.0.1', '--save', '']
  try {
    const masterPort = await startOnFreePort(group, (p) => [...dataArgs(p), '--appendonly', 'no', '--dir', dir])
    const dataPorts = [masterPort]
    for (let i = 0; i < replicas; i++) {
      const port = await startOnFreePort(group, (p) => [
        ...dataArgs(p),
        '--dir',
        dir,
        '--replicaof',
        '127.0.0.1',
        String(masterPort),
      ])
      dataPorts.push(port)
    }
    const quorum = Math.floor(sentinels / 2) + 1
    const sentinelPorts: number[] = []
    for (let i = 0; i < sentinels; i++) {
      const port = await startOnFreePort(
        group,
        (p) => {
          const conf = join(dir, `sentinel-${p}.conf`)
          const lines = [
            `port ${p}`,
            'bind 127.0.0.1',
            `dir ${dir}`,
            `sentinel monitor ${name} 127.0.0.1 ${masterPort} ${quorum}`,
          ]
          if (password !== undefined) lines.push(`requirepass ${password}`)
          if (downAfterMs !== undefined) {
            lines.push(`sentinel down-after-milliseconds ${name} ${downAfterMs}`)
            lines.push(`sentinel failover-timeout ${name} ${Math.max(downAfterMs * 10, 10_000)}`)
          }
          writeFileSync(conf, `${lines.join('\n')}\n`)
          return [conf, '--sentinel']
        },
        undefined,
        password,
      )
      sentinelPorts.push(port)
    }
    // Ready when every sentinel sees the master, every replica in sync, and the other sentinels
    // (a failover needs a majority of them to know each other).
    for (const port of sentinelPorts) {
      await eventually(
        async () => {
          if ((await masterAddress(port, name, password)) !== `127.0.0.1:${masterPort}`) return false
          const master = await run(CLI, [...cliAuth(password), '-p', String(port), 'sentinel', 'master', name])
          const field = (key: string): string | undefined => {
            const lines = master.stdout.split('\n')
            const at = lines.indexOf(key)
            return at < 0 ? undefined : lines[at + 1]
          }
          return field('num-slaves') === String(replicas) && field('num-other-sentinels') === String(sentinels - 1)
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      )
    }
    for (const port of dataPorts.slice(1)) {
      await eventually(
        async () =>
          (await run(CLI, ['-p', String(port), 'info', 'replication'])).stdout.includes('master_link_status:up'),
        { timeoutMs: 20_000, intervalMs: 100 },
      )
    }
    return {
      sentinel: `127.0.0.1:${sentinelPorts[0]}`,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`),
      name,
      dataPorts,
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

/**
 * For a test file that checks a package through Sentinel: a sentinel set whose sentinels need
 * no password (`open`) and one whose sentinels require `password` (`guarded`), each started once
 * before the file's tests when `available` and stopped after them.
 */
export function useSentinelSets(
  available: boolean,
  password: string,
): { open: () => RedisSentinelHandle; guarded: () => RedisSentinelHandle } {
  return {
    open: useRedisProcesses(available, startRedisSentinel, 'the Redis Sentinel'),
    guarded: useRedisProcesses(available, () => startRedisSentinel({ password }), 'the Redis Sentinel with a password'),
  }
}
