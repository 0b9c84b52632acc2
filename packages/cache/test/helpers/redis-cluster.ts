// Starts a real three-node Redis Cluster (three redis-server processes on spare local ports,
// in a temp dir) for the tests, and stops it and removes the dir afterwards.
import { existsSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { eventually, isCI } from '@beaver-kit/testkit'
import { CLI, processGroup, run, SERVER, startOnFreePort } from './redis-processes.ts'

export interface RedisClusterHandle {
  nodes: string[]
  stop(): Promise<void>
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
  })
}

/** Whether redis-server is installed; prints why not (and throws with CI=true, where a skip is a failure). */
export function clusterAvailable(): boolean {
  if (existsSync(SERVER) && existsSync(CLI)) return true
  const reason = `redis-server/redis-cli not found at ${SERVER} / ${CLI}`
  if (isCI()) throw new Error(`CI=true and the Redis Cluster tests cannot run: ${reason}`)
  console.warn(`[cache tests] skipping Redis Cluster tests: ${reason}`)
  return false
}

/** Starts the cluster; call only when clusterAvailable(). */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const group = processGroup('beaver-cache-cluster-')
  const { dir, stop } = group
  const ports: number[] = []
  try {
    // Each node's port and its cluster bus port (port + 10000) must be free.
    const busFree = async (p: number): Promise<boolean> => p + 10_000 < 65_536 && (await portIsFree(p + 10_000))
    for (let i = 0; i < 3; i++) {
      const port = await startOnFreePort(
        group,
        (p) => [
          '--port',
          String(p),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${p}.conf`,
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--daemonize',
          'no',
          '--logfile',
          `${join(dir, String(p))}.log`,
        ],
        busFree,
      )
      ports.push(port)
    }
    await run(CLI, [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ])
    for (const port of ports) {
      await eventually(
        async () => (await run(CLI, ['-p', String(port), 'cluster', 'info'])).stdout.includes('cluster_state:ok'),
        { timeoutMs: 20_000, intervalMs: 100 },
      )
    }
    return { nodes: ports.map((p) => `127.0.0.1:${p}`), stop }
  } catch (err) {
    await stop()
    throw err
  }
}
