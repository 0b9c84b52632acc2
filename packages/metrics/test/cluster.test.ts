import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

it('under node:cluster the primary serves the sum of its workers’ counters', async () => {
  const fixture = fileURLToPath(new URL('./fixtures/cluster.ts', import.meta.url))
  const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', fixture], {
    stdio: ['pipe', 'pipe', 'inherit'],
  })
  try {
    const [line] = (await once(child.stdout, 'data')) as [Buffer]
    const { port } = JSON.parse(line.toString()) as { port: number }
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    // Worker ids 1 and 2 each added their id: 1 + 2.
    expect(text).toMatch(/^jobs_total\{kind="mail"\} 3$/m)
  } finally {
    child.stdin.end()
    await once(child, 'exit')
  }
}, 60_000)
