// Starts a real Redis master and one Sentinel watching it (two redis-server processes on spare
// local ports, in a temp dir), and stops them and removes the dir afterwards.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { eventually } from '@beaver-kit/testkit'

const run = promisify(execFile)
const SERVER = process.env.BEAVER_TEST_REDIS_SERVER ?? '/usr/bin/redis-server'
const CLI = process.env.BEAVER_TEST_REDIS_CLI ?? '/usr/bin/redis-cli'

export interface RedisSentinelHandle {
  sentinel: string
  name: string
  stop(): Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
  })
}

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'beaver-cache-sentinel-'))
  const masterPort = await freePort()
  const sentinelPort = await freePort()
  const name = 'beavermaster'
  const procs: ChildProcess[] = []
  const stop = async (): Promise<void> => {
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
  }
  try {
    procs.push(
      spawn(
        SERVER,
        ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
        { stdio: 'ignore' },
      ),
    )
    await eventually(async () => (await run(CLI, ['-p', String(masterPort), 'ping'])).stdout.includes('PONG'), {
      timeoutMs: 10_000,
    })
    const conf = join(dir, 'sentinel.conf')
    writeFileSync(
      conf,
      `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor ${name} 127.0.0.1 ${masterPort} 1\n`,
    )
    procs.push(spawn(SERVER, [conf, '--sentinel'], { stdio: 'ignore' }))
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
