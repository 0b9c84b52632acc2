import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import { afterAll, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import { createSessions, type Session } from '@beaver-kit/session'

const servers: Server[] = []
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r))
})

it('Express: req.session loaded, saved and its cookie set when the response ends', async () => {
  const sessions = createSessions({
    envPrefix: false,
    keys: [generateKeyRingEntry('k')],
    secure: false,
    cache: createCache({ envPrefix: false }),
  })
  const app = express()
  // express-session (used by another test file) types req.session as its own: this app does not use it.
  app.use(sessions.middleware() as unknown as express.RequestHandler)
  app.get('/count', (req, res) => {
    const session = (req as unknown as { session: Session }).session
    const n = (session.get<number>('n') ?? 0) + 1
    session.set('n', n)
    res.send(String(n))
  })
  const server = createServer(app)
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const first = await fetch(`${base}/count`)
  expect(await first.text()).toBe('1')
  const cookie = first.headers.getSetCookie()
  expect(cookie).toHaveLength(1)
  expect(cookie[0]).toMatch(/^sid=[^;]+; Path=\/; Max-Age=86400; HttpOnly; SameSite=Lax$/)
  const jar = (cookie[0] as string).split(';')[0] as string
  expect(await (await fetch(`${base}/count`, { headers: { cookie: jar } })).text()).toBe('2')
  expect(await (await fetch(`${base}/count`, { headers: { cookie: jar } })).text()).toBe('3')
})
