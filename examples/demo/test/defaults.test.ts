import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { resetCache } from '@beaver-kit/cache'
import { resetDatabase } from '@beaver-kit/database'
import { resetLogger } from '@beaver-kit/logger'
import { startApp, type App } from '../src/app.ts'
import { pageServer, shorten } from './helpers.ts'

// What `npm start` runs: no instance injected, no BEAVER_* variable, so every package builds its
// default instance from embedded defaults (SQLite under ./data, memory cache, JSON logs on
// stdout, an ephemeral URL-signing key). In a folder of its own, so ./data is the test's.
describe('Beaver Links on embedded defaults', () => {
  const cwd = process.cwd()
  const dir = mkdtempSync(join(tmpdir(), 'beaver-links-'))
  let app: App
  let pages: Awaited<ReturnType<typeof pageServer>>
  beforeAll(async () => {
    process.chdir(dir)
    for (const name of Object.keys(process.env)) if (name.startsWith('BEAVER_')) delete process.env[name]
    pages = await pageServer()
    app = await startApp({ config: { port: 0 } })
  })
  afterAll(async () => {
    await app.close()
    await Promise.all([resetDatabase(), resetCache(), pages.close()])
    await resetLogger()
    process.chdir(cwd)
    rmSync(dir, { recursive: true, force: true })
  })

  it('serves /health with SQLite and the memory cache', async () => {
    const res = await fetch(`${app.url}/health`)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ status: 'ok', database: { status: 'ok' }, cache: { status: 'ok' } })
    const described = app.describe()
    expect(described.map((d) => d.package)).toEqual([
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
    expect(described[1]?.state).toMatchObject({ driver: 'sqlite' })
  })

  it('shortens, redirects and deletes a link; the title fetch to a private address is refused', async () => {
    const { status, body } = await shorten(app, `${pages.url}/titled`)
    expect(status).toBe(201)
    const res = await fetch(`${app.url}/${body.code}`, { redirect: 'manual' })
    expect([res.status, res.headers.get('location')]).toEqual([302, `${pages.url}/titled`])
    await app.idle()
    expect(pages.hits).toEqual([]) // the guarded client never connected to the local page
    const info = (await (await fetch(`${app.url}/links/${body.code}`)).json()) as { title: unknown; hits: number }
    expect(info).toMatchObject({ title: null, hits: 1 })
    expect((await fetch(body.deleteUrl as string, { method: 'DELETE' })).status).toBe(200)
  })
})
