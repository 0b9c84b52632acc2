import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { createCache, type Cache } from '@beaver-kit/cache'
import { createDatabase } from '@beaver-kit/database'
import { createUrlSigner, generateKeyRingEntry } from '@beaver-kit/krypto'
import { createLogger } from '@beaver-kit/logger'
import { createMailer, type Mailer } from '@beaver-kit/mail'
import { eventually } from '@beaver-kit/testkit'
import { startApp, type App, type AppOptions, type Deps } from '../src/app.ts'
import { linkMailTemplates } from '../src/link-mail.ts'

export type Line = Record<string, unknown>

/** A logger whose JSON lines land in `lines`. */
export function captureLogger(): { logger: Deps['logger']; lines: Line[] } {
  const lines: Line[] = []
  const logger = createLogger({
    envPrefix: false,
    level: 'info',
    outputs: [],
    sinks: [{ write: (line: string) => void lines.push(JSON.parse(line) as Line), format: 'json' }],
  })
  return { logger, lines }
}

export interface Harness {
  app: App
  deps: Deps & { mailer: Mailer }
  lines: Line[]
  close(): Promise<void>
}

/** The app on explicit instances (SQLite in memory, memory cache, a memory mailer, a logger that captures). */
export async function harness(
  config: AppOptions['config'] = {},
  deps: Partial<Deps> & { cache?: Cache } = {},
  // QR codes in memory unless a test says otherwise: tests write nothing under the working folder.
  env: NodeJS.ProcessEnv = { BEAVER_STORAGE_DRIVER: 'memory' },
): Promise<Harness> {
  const { logger, lines } = captureLogger()
  const all: Deps & { mailer: Mailer } = {
    db: createDatabase({ driver: 'sqlite', file: ':memory:', envPrefix: false }),
    cache: createCache({ driver: 'memory', envPrefix: false }),
    logger,
    signer: createUrlSigner({ envPrefix: false, keys: generateKeyRingEntry('test') }),
    mailer: createMailer({ envPrefix: false, driver: 'memory', templates: { inline: linkMailTemplates } }),
    ...deps,
  }
  const app = await startApp({ config: { port: 0, ...config }, env, deps: all })
  return {
    app,
    deps: all,
    lines,
    async close() {
      await app.close()
      await Promise.all([all.cache.close(), all.db.close(), all.logger.close(), all.mailer.close()])
    },
  }
}

/** A local page server: `/titled` has a title, `/slow` answers after `slowMs`, anything else 503. */
export async function pageServer(slowMs = 0): Promise<{ url: string; hits: string[]; close(): Promise<void> }> {
  const hits: string[] = []
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '')
    const send = (): void => {
      if (req.url === '/titled' || req.url === '/slow') {
        res.writeHead(200, { 'content-type': 'text/html' })
        res.end('<html><head><title>Beavers &amp; Dams</title></head><body>hi</body></html>')
      } else {
        res.writeHead(503)
        res.end()
      }
    }
    if (req.url === '/slow') setTimeout(send, slowMs)
    else send()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** POST /links with this url; the parsed answer and status. */
export async function shorten(
  app: App,
  url: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, string> }> {
  const res = await fetch(`${app.url}/links`, { method: 'POST', headers, body: JSON.stringify({ url }) })
  return { status: res.status, body: (await res.json()) as Record<string, string> }
}

/** The token in the link of the newest mail to `to` that links to `path`, once it is sent (sign-up mails go after the answer). */
export async function mailedToken(h: Harness, to: string, path: string): Promise<string> {
  let token = ''
  await eventually(
    () => {
      const mail = h.deps.mailer
        .sent()
        .filter((m) => m.to.some((r) => r.address === to) && m.text?.includes(path))
        .at(-1)
      const found = mail?.text?.match(/[?&]token=([^\s&]+)/)?.[1]
      if (!found) throw new Error(`no mail to ${to} linking to ${path} yet`)
      token = decodeURIComponent(found)
    },
    { timeoutMs: 5000 },
  )
  return token
}

/** Signs up as a user does: POST /auth/register, then the mailed link's token to POST /auth/register/complete. */
export async function signUp(h: Harness, email: string, password: string): Promise<{ id: string; email: string }> {
  const asked = await fetch(`${h.app.url}/auth/register`, { method: 'POST', body: JSON.stringify({ email, password }) })
  if (asked.status !== 202) throw new Error(`POST /auth/register answered ${asked.status}: ${await asked.text()}`)
  await asked.body?.cancel()
  const token = await mailedToken(h, email, '/auth/register/complete')
  const done = await fetch(`${h.app.url}/auth/register/complete`, { method: 'POST', body: JSON.stringify({ token }) })
  if (done.status !== 201) throw new Error(`POST /auth/register/complete answered ${done.status}: ${await done.text()}`)
  return (await done.json()) as { id: string; email: string }
}
