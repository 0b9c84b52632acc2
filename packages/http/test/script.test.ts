import { describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const script = fileURLToPath(new URL('./fixtures/unreachable.ts', import.meta.url))

/** Runs the fixture in its own Node process, as `node script.ts` would. */
function run(mode: 'catch' | 'throw'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', script, mode], {
      // Backoff long enough that the process would have nothing else to hold it while waiting.
      env: { ...process.env, BEAVER_HTTP_RETRY_BASE_DELAY: '300ms', BEAVER_HTTP_RETRY_MAX_ATTEMPTS: '3' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

describe('a standalone script calling an unreachable host', () => {
  it('sees the call reject after its retries (the backoff holds the process)', async () => {
    const { code, stdout, stderr } = await run('catch')
    expect(stderr).not.toMatch(/unsettled top-level await/i)
    expect(stdout.trim()).toBe('rejected HTTP_NETWORK after 3 attempts')
    expect(code).toBe(0)
  })

  it('an uncaught rejection fails the process with the error, not a silent exit 13', async () => {
    const { code, stderr } = await run('throw')
    expect(stderr).toMatch(/HttpNetworkError/)
    expect(stderr).toMatch(/ECONNREFUSED/)
    expect(code).toBe(1)
  })
})
