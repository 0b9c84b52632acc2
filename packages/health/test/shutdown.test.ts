import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'

it('SIGTERM: readiness fails at once while liveness stays up, in-flight requests finish, then the server closes', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/server.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', fixture], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = once(child, 'exit')
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer]
    const { port } = JSON.parse(line.toString()) as { port: number }
    const base = `http://127.0.0.1:${port}`
    const get = async (path: string): Promise<number | 'closed'> => {
      try {
        const res = await fetch(`${base}${path}`)
        await res.arrayBuffer()
        return res.status
      } catch {
        return 'closed'
      }
    }
    await eventually(async () => expect(await get('/readyz')).toBe(200), { timeoutMs: 20_000 })
    // A real probe loop, as the kubelet runs it, paced by the answers (the next probe when one is answered).
    const seen: Array<number | 'closed'> = []
    let probing = true
    const loop = (async () => {
      while (probing) seen.push(await get('/readyz'))
    })()
    const inFlight = fetch(`${base}/work?ms=800`).then(async (r) => [r.status, await r.text()])
    await eventually(() => seen.length >= 2)
    child.kill('SIGTERM')
    await eventually(() => seen.includes(503), { timeoutMs: 20_000 })
    expect(await get('/livez')).toBe(200)
    // A request that arrives while draining is still served.
    expect(await fetch(`${base}/work?ms=10`).then((r) => r.text())).toBe('done')
    await eventually(() => seen.at(-1) === 'closed', { timeoutMs: 30_000 })
    probing = false
    await loop
    expect(await inFlight).toEqual([200, 'done'])
    const [code] = (await exited) as [number]
    expect(code).toBe(0)
    // ready → not ready → closed, never back.
    const phases = seen.filter((s, i) => i === 0 || s !== seen[i - 1])
    expect(phases).toEqual([200, 503, 'closed'])
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}, 90_000)
