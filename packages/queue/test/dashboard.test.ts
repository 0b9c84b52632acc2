// The dashboard's handler over real HTTP: auth, the cross-site guard, routes, mounting under a
// path on a bare node:http server and under Express. The page itself runs in Chromium in
// dashboard-browser.test.ts.
import { createServer, type RequestListener, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterEach, describe, expect, it } from 'vitest'
import { createQueue, isQueueError, type Queue } from '@beaver-kit/queue'
import { createDashboard } from '@beaver-kit/queue/dashboard'

const open: { close(): unknown }[] = []
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close()
})

function memoryQueue(): Queue {
  const q = createQueue({ driver: 'memory', namespace: 'dash', envPrefix: false })
  open.push(q)
  return q
}

async function serve(listener: RequestListener): Promise<string> {
  const server: Server = createServer(listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  open.push({ close: () => new Promise((r) => server.close(r)) })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

const admin = { authorization: 'Bearer admin' }
const post = { method: 'POST', headers: { ...admin, 'x-beaver-dashboard': '1' } }

describe('queue dashboard handler', () => {
  it('refuses to be created without an auth check, unless told so', () => {
    const q = memoryQueue()
    let error: unknown
    try {
      createDashboard({ queue: q })
    } catch (e) {
      error = e
    }
    expect(isQueueError(error, 'QUEUE_OPTIONS_INVALID')).toBe(true)
    expect((error as Error).message).toMatch(/allowUnauthenticated/)
    expect(() => createDashboard({ queue: q, allowUnauthenticated: true, refreshMs: 10 })).toThrow(/refreshMs/)
    expect(typeof createDashboard({ queue: q, allowUnauthenticated: true })).toBe('function')
  })

  it('asks the auth check on every request, and refuses cross-site actions', async () => {
    const q = memoryQueue()
    const dashboard = createDashboard({
      queue: q,
      basePath: '/admin/queues/',
      auth: (req) => req.headers.authorization === 'Bearer admin',
    })
    const base = await serve(dashboard)
    expect((await fetch(`${base}/admin/queues/`)).status).toBe(401)
    expect((await fetch(`${base}/admin/queues/api/queues`, { headers: { authorization: 'Bearer x' } })).status).toBe(
      401,
    )
    const page = await fetch(`${base}/admin/queues`, { headers: admin })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(await page.text()).toContain('src="/admin/queues/app.js"')
    for (const asset of ['app.js', 'app.css']) {
      expect((await fetch(`${base}/admin/queues/${asset}`, { headers: admin })).status).toBe(200)
    }
    // A form from another site can neither set the header nor come from this origin.
    const plain = await fetch(`${base}/admin/queues/api/queues/jobs/dead/retry`, { method: 'POST', headers: admin })
    expect(plain.status).toBe(403)
    const foreign = await fetch(`${base}/admin/queues/api/queues/jobs/dead/retry`, {
      ...post,
      headers: { ...post.headers, origin: 'https://evil.example' },
    })
    expect(foreign.status).toBe(403)
    expect((await fetch(`${base}/admin/queues/api/queues/jobs/dead/retry`, post)).status).toBe(200)
    expect((await fetch(`${base}/admin/queues/nope`, { headers: admin })).status).toBe(404)
    expect((await fetch(`${base}/admin/queues/api/queues/jobs/dead/x/explode`, post)).status).toBe(404)
    expect((await fetch(`${base}/admin/queues/`, { method: 'DELETE', headers: admin })).status).toBe(405)
    expect((await fetch(`${base}/admin/queues/api/queues/bad%20name/dead`, { headers: admin })).status).toBe(400)
  })

  it('lists queues with counts, and retries and purges dead letters by id or all', async () => {
    const q = memoryQueue()
    const base = await serve(createDashboard({ queue: q, allowUnauthenticated: true, queues: ['idle'] }))
    await q.publish('jobs', 1)
    const c = await q.consume('jobs', () => {
      throw new Error('broken')
    })
    const ids = await q.publishBatch('jobs', [
      { payload: 2, attempts: 1 },
      { payload: 3, attempts: 1 },
      { payload: 4, attempts: 1 },
    ])
    await expect.poll(async () => (await q.counts('jobs')).dead, { timeout: 10_000 }).toBeGreaterThanOrEqual(3)
    await c.close()
    const listed = (await (await fetch(`${base}/api/queues`)).json()) as {
      queues: { name: string; counts: Record<string, number> }[]
    }
    expect(listed.queues.map((x) => x.name)).toEqual(['idle', 'jobs'])
    expect(listed.queues[1]?.counts.dead).toBeGreaterThanOrEqual(3)
    const dead = (await (await fetch(`${base}/api/queues/jobs/dead?limit=2`)).json()) as { messages: { id: string }[] }
    expect(dead.messages).toHaveLength(2)
    const action = (path: string) =>
      fetch(`${base}/api/queues/jobs/dead/${path}`, { method: 'POST', headers: { 'x-beaver-dashboard': '1' } }).then(
        async (r) => ((await r.json()) as { count: number }).count,
      )
    expect(await action(`${ids[0]}/retry`)).toBe(1)
    expect((await q.get('jobs', ids[0] as string))?.state).toBe('waiting')
    expect(await action(`${ids[1]}/purge`)).toBe(1)
    expect(await action('retry')).toBeGreaterThanOrEqual(1)
    expect(await action('purge')).toBe(0)
    expect((await q.counts('jobs')).dead).toBe(0)
  })

  it('mounts under Express with app.use(path), and hands backend errors to next()', async () => {
    const q = memoryQueue()
    const app = express()
    app.use('/ops/queues', createDashboard({ queue: q, auth: () => true }))
    const failing = createDashboard({
      queue: { ...q, queues: () => Promise.reject(new Error('backend down')) },
      auth: () => true,
    })
    app.use('/broken', failing)
    const seen: unknown[] = []
    app.use((error: unknown, _req: unknown, res: { status(n: number): { end(): void } }, _next: unknown) => {
      seen.push(error)
      res.status(503).end()
    })
    const base = await serve(app)
    const page = await fetch(`${base}/ops/queues`)
    expect(await page.text()).toContain('src="/ops/queues/app.js"')
    expect((await fetch(`${base}/ops/queues/api/queues`)).status).toBe(200)
    expect((await fetch(`${base}/broken/api/queues`)).status).toBe(503)
    expect(String(seen[0])).toContain('backend down')
  })

  it('answers a backend failure with its code only, and reports it to onError', async () => {
    const q = memoryQueue()
    const errors: unknown[] = []
    const base = await serve(
      createDashboard({
        queue: { ...q, queues: () => Promise.reject(new Error('secret host db.internal unreachable')) },
        allowUnauthenticated: true,
        onError: (e) => errors.push(e),
      }),
    )
    const res = await fetch(`${base}/api/queues`)
    expect(res.status).toBe(500)
    expect(await res.text()).not.toContain('db.internal')
    expect(String(errors[0])).toContain('db.internal')
  })
})
