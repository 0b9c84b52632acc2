// Starts a real three-node Redis Cluster (three redis-server processes on spare local ports,
// in a temp dir) for the tests, and stops it and removes the dir afterwards.
import net from 'node:net'
import { join } from 'node:path'
import { eventually } from './eventually.ts'
import { CLI, processGroup, run, startOnFreePort } from './redis-processes.ts'

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

/** Starts the cluster; call only when redisServersAvailable(). */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const group = processGroup('beaver-redis-cluster-')
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
