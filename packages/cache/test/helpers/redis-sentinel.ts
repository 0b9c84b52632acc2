// Starts a real Redis master and one Sentinel watching it (two redis-server processes on spare
// local ports, in a temp dir), and stops them and removes the dir afterwards.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually } from '@beaver-kit/testkit'
import { CLI, processGroup, run, startOnFreePort } from './redis-processes.ts'

export interface RedisSentinelHandle {
  sentinel: string
  name: string
  stop(): Promise<void>
}

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  const group = processGroup('beaver-cache-sentinel-')
  const { dir, stop } = group
  const name = 'beavermaster'
  try {
    const masterPort = await startOnFreePort(group, (p) => [
      '--port',
      String(p),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
    ])
    const sentinelPort = await startOnFreePort(group, (p) => {
      const conf = join(dir, `sentinel-${p}.conf`)
      writeFileSync(conf, `port ${p}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`)
      return [conf, '--sentinel']
    })
    await eventually(
      async () =>
        (await run(CLI, ['-p', String(sentinelPort), 'sentinel', 'get-master-addr-by-name', name])).stdout.includes(
          String(masterPort),
        ),
      {
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    )
    return { sentinel: `127.0.0.1:${sentinelPort}`, name, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
