import http from 'node:http'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { resetCache } from '@beaver-kit/cache'
import { resetDatabase } from '@beaver-kit/database'
import { initLogger, resetLogger } from '@beaver-kit/logger'
import { eventually } from '@beaver-kit/testkit'
import { main } from '../src/main.ts'
import type { Line } from './helpers.ts'

const start = join(import.meta.dirname, '..', 'src', 'start.ts')
const cwd = process.cwd()
const dir = mkdtempSync(join(tmpdir(), 'beaver-links-main-'))
beforeAll(() => process.chdir(dir)) // ./data of the default SQLite database goes here
afterAll(() => {
  process.chdir(cwd)
  rmSync(dir, { recursive: true, force: true })
})

/** What main() printed and whether it exited. */
function io(isTTY = false) {
  const out = { stdout: '', stderr: '', exit: undefined as number | undefined }
  return {
    out,
    options: {
      stdout: { write: (t: string) => (out.stdout += t), isTTY },
      stderr: { write: (t: string) => (out.stderr += t) },
      exit: (code: number) => void (out.exit = code),
      signals: false,
    },
  }
}

/** The default logger, writing JSON lines into `lines`. */
function captureDefaultLogger(): Line[] {
  const lines: Line[] = []
  initLogger({ outputs: [], sinks: [{ write: (l: string) => void lines.push(JSON.parse(l) as Line), format: 'json' }] })
  return lines
}

describe('main(): start-up', () => {
  afterEach(async () => {
    vi.unstubAllEnvs()
    await Promise.all([resetDatabase(), resetCache()])
    await resetLogger()
  })

  it('reports every bad variable of every package at once, plainly, and exits 1', async () => {
    vi.stubEnv('BEAVER_DEMO_PORT', 'eighty')
    vi.stubEnv('BEAVER_LOG_LEVEL', 'loud')
    vi.stubEnv('BEAVER_DB_POOL_MAX', 'many')
    vi.stubEnv('BEAVER_CACHE_DEFAULT_TTL', 'forever')
    const { out, options } = io()
    expect(await main(options)).toBeUndefined()
    expect(out.exit).toBe(1)
    for (const name of ['BEAVER_DEMO_PORT', 'BEAVER_LOG_LEVEL', 'BEAVER_DB_POOL_MAX', 'BEAVER_CACHE_DEFAULT_TTL'])
      expect(out.stderr).toContain(name)
    expect(out.stderr).not.toMatch(/\\n|^\{/) // plain text, not a JSON-escaped log line
    expect(out.stdout).toBe('')
  })

  it('logs each instance description as structured fields, the endpoints, and a table on a terminal', async () => {
    vi.stubEnv('BEAVER_DEMO_PORT', '0')
    const lines = captureDefaultLogger()
    const { out, options } = io(true)
    const app = await main(options)
    try {
      expect(app).toBeDefined()
      const configuration = lines.find((l) => l.msg === 'configuration')?.configuration as Array<{
        package: string
        settings: Array<{ name: string; value?: string }>
      }>
      expect(configuration.map((d) => d.package)).toEqual([
        'demo',
        'database',
        'cache',
        'http',
        'urlsigner',
        'mail',
        'queue',
        'metrics',
        'tracing',
        'health',
        'scheduler',
        'auth',
        'audit',
        'session',
        'storage',
      ])
      expect(configuration[0]?.settings.find((s) => s.name === 'BEAVER_DEMO_PORT')?.value).toBe('0')
      expect(lines.find((l) => String(l.msg).startsWith('Beaver Links listening'))).toMatchObject({
        url: app?.url,
        endpoints: [
          'GET,HEAD /health',
          'GET,HEAD /livez',
          'GET,HEAD /readyz',
          'GET,HEAD /metrics',
          'GET,HEAD /jobs',
          'GET,HEAD,POST /admin/queues',
          'POST /links',
          'GET,HEAD,DELETE /links/:code',
          'GET,HEAD /links/:code/qr',
          'GET,HEAD /files/*',
          'GET,HEAD /links/:code/mail',
          'POST /webhooks/mail/:provider',
          'POST /auth/register',
          'GET,POST /auth/register/complete',
          'GET,POST /auth/reset',
          'POST /auth/login',
          'POST /auth/logout',
          'GET /auth/oidc',
          'GET /auth/oidc/callback',
          'GET /admin/audit/verify',
          'GET,HEAD /:code',
        ],
      })
      expect(out.stdout).toMatch(/^BEAVER_DEMO_PORT +0 +env$/m)
      expect(out.stdout).toMatch(/^BEAVER_DB_FILE +\.\/data\/beaver\.db +default$/m)
    } finally {
      await app?.close()
    }
  })

  it('starts without the cache when it is unreachable, and says so', async () => {
    vi.stubEnv('BEAVER_DEMO_PORT', '0')
    vi.stubEnv('BEAVER_CACHE_DRIVER', 'redis')
    vi.stubEnv('BEAVER_CACHE_REDIS_URL', 'redis://127.0.0.1:1')
    const lines = captureDefaultLogger()
    const { out, options } = io()
    const app = await main(options)
    try {
      expect(app?.cacheState).toBe('degraded')
      expect(
        lines.find((l) => l.msg === 'started without the cache: links are served from the database'),
      ).toMatchObject({
        level: 40,
      })
      expect(out.stderr).toBe('')
    } finally {
      await app?.close()
    }
  })

  it('logs why it could not start when a server is unreachable, and exits 1', async () => {
    vi.stubEnv('BEAVER_DEMO_PORT', '0')
    vi.stubEnv('BEAVER_DB_URL', 'postgres://postgres@127.0.0.1:1/test')
    vi.stubEnv('BEAVER_DB_POOL_CONNECT_TIMEOUT', '2s')
    const lines = captureDefaultLogger()
    const { out, options } = io()
    expect(await main(options)).toBeUndefined()
    expect(out.exit).toBe(1)
    const fatal = lines.find((l) => l.level === 60)
    expect(fatal?.msg).toMatch(/^could not start: /)
    expect((fatal?.err as { code: string }).code).toBe('DB_CONNECTION')
  })

  it('names BEAVER_DEMO_PORT when the port is taken, plainly on stderr', async () => {
    const other = http.createServer()
    other.listen(0, '127.0.0.1')
    await once(other, 'listening')
    vi.stubEnv('BEAVER_DEMO_PORT', String((other.address() as AddressInfo).port))
    captureDefaultLogger()
    const { out, options } = io()
    try {
      expect(await main(options)).toBeUndefined()
      expect(out.exit).toBe(1)
      expect(out.stderr).toContain('is in use by another process (set BEAVER_DEMO_PORT; port 0 picks a free one)')
    } finally {
      other.close()
    }
  })
})

/** `npm start` as a process: its output lines, and a way to signal it. */
function startProcess(env: Record<string, string>) {
  const child = spawn(process.execPath, ['--conditions=@beaver-kit/source', start], {
    cwd: dir,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const out = { stdout: '', stderr: '' }
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const lines = (): Line[] =>
    out.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line)
  return { child, out, exited, lines }
}

describe('npm start (src/start.ts) as a process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'logs the shutdown on %s, in order, and exits 0',
    async (signal) => {
      const p = startProcess({ BEAVER_DEMO_PORT: '0', BEAVER_HEALTH_DRAIN_DELAY: '1500ms' })
      await eventually(
        () => expect(p.lines().some((l) => String(l.msg).startsWith('Beaver Links listening'))).toBe(true),
        {
          timeoutMs: 30_000,
        },
      )
      const url = String(p.lines().find((l) => String(l.msg).startsWith('Beaver Links listening'))?.url)
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
      p.child.kill(signal)
      // Draining: not ready at once, still alive and serving until the drain delay is over.
      await eventually(async () => expect((await fetch(`${url}/readyz`)).status).toBe(503))
      expect((await fetch(`${url}/livez`)).status).toBe(200)
      expect(await p.exited).toBe(0)
      // The probes above are logged as requests; the rest is the shutdown, in order.
      const messages = p
        .lines()
        .map((l) => l.msg)
        .filter((m) => m !== 'request')
      const tail = messages.slice(messages.indexOf('shutting down'))
      expect(tail).toEqual([
        'shutting down',
        'stopping: no new requests, finishing the ones in flight',
        'Beaver Links stopped',
      ])
      expect(p.lines().find((l) => l.msg === 'shutting down')).toMatchObject({ signal })
      expect(p.out.stderr).toBe('')
      // Start-up (every kit package imported from source) may take most of the 30 s wait on a
      // loaded machine: the test's own limit leaves room for the shutdown after it.
    },
    60_000,
  )

  it('prints a configuration error plainly on stderr and exits 1 without logging', async () => {
    const p = startProcess({ BEAVER_CACHE_DRIVER: 'reddis', BEAVER_LOG_LEVEL: 'loud' })
    expect(await p.exited).toBe(1)
    expect(p.out.stdout).toBe('')
    expect(p.out.stderr).toContain('BEAVER_CACHE_DRIVER')
    expect(p.out.stderr).toContain('BEAVER_LOG_LEVEL is "loud"')
  })
})
