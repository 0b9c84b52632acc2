import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { onBeforeShutdown, registerForShutdown } from '@beaver-kit/core'
import { resolveConfig, type SchemaOptions } from '@beaver-kit/config'
import { cache as defaultCache, type Cache } from '@beaver-kit/cache'
import { db as defaultDb, type Database } from '@beaver-kit/database'
import { http as defaultHttp, type HttpClient } from '@beaver-kit/http'
import { randomBytes } from 'node:crypto'
import { createUrlSigner, generateKeyRingEntry, isKryptoError, uuidv7, type UrlSigner } from '@beaver-kit/krypto'
import { logger as defaultLogger, withLogContext, type Logger } from '@beaver-kit/logger'
import { createQueue, type Queue } from '@beaver-kit/queue'
import { demoSchema } from './config.ts'
import { isValidAddress, type Mailer } from '@beaver-kit/mail'
import { createLinkMail } from './link-mail.ts'
import { LinkStore, type Link } from './links.ts'
import { fetchTitle } from './titles.ts'
import { startVisits } from './visits.ts'

/** The kit instances the demo uses; each defaults to the package's default instance (env-configured). */
export interface Deps {
  db: Database
  cache: Cache
  http: HttpClient
  logger: Logger
  signer: UrlSigner
  /** Default: a mailer configured by BEAVER_MAIL_* (the log transport when nothing is set). */
  mailer?: Mailer
  /** Where link visits are queued; default: a queue on `db` (or as BEAVER_QUEUE_* says). */
  queue?: Queue
}

export interface AppOptions {
  config?: SchemaOptions<typeof demoSchema>
  /** The environment to read BEAVER_DEMO_* from (tests); default process.env. */
  env?: NodeJS.ProcessEnv
  deps?: Partial<Deps>
}

export interface App {
  url: string
  server: http.Server
  /** The resolved demo configuration, secrets masked, one line per setting. */
  description: string
  /** Resolves when background work (title fetches) has settled. */
  idle(): Promise<void>
  close(): Promise<void>
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url))
const CODE = /^[A-Za-z0-9_-]{4,32}$/

class HttpProblem extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

/**
 * Builds and starts Beaver Links: links in the database (SQLite by default, PostgreSQL or MySQL
 * by BEAVER_DB_URL alone), resolved through the cache (memory by default, Redis or the database
 * by BEAVER_CACHE_DRIVER alone), page titles fetched with the HTTP client, signed delete URLs
 * from krypto, and every request logged with its request id in context.
 */
export async function startApp(options: AppOptions = {}): Promise<App> {
  const config = resolveConfig(
    demoSchema,
    options.env ? { options: options.config, env: options.env } : { options: options.config },
  )
  const { host, port } = config.values
  const log = (options.deps?.logger ?? defaultLogger()).for('demo')
  const database = options.deps?.db ?? defaultDb()
  const links = (options.deps?.cache ?? defaultCache()).namespace('links')
  const client = options.deps?.http ?? defaultHttp()
  const signer = options.deps?.signer ?? defaultSigner(log)
  const store = new LinkStore(database)
  const mail = createLinkMail({ db: database, log, mailer: options.deps?.mailer, env: options.env })

  await database.migrator({ dir: MIGRATIONS, table: 'beaver_links_migrations' }).up()
  const visits = await startVisits(
    store,
    options.deps?.queue ?? createQueue({ driverOptions: { database } }),
    options.deps?.queue === undefined,
    log,
  )

  const background = new Set<Promise<void>>()
  const shutdownController = new AbortController()
  let baseUrl = ''

  function resolveLink(code: string): Promise<Link | undefined> {
    return links.getOrSet<Link | undefined>(code, () => store.find(code), {
      ttl: config.values.linkTtl,
      negativeTtl: config.values.notFoundTtl,
    })
  }

  function fetchTitleLater(link: Link): void {
    if (!config.values.fetchTitles) return
    const job = withLogContext({ job: 'title', code: link.code }, async () => {
      try {
        const title = await fetchTitle(client, link.url, {
          timeoutMs: config.values.titleTimeout,
          signal: shutdownController.signal,
        })
        if (title === undefined) return
        await store.setTitle(link.code, title)
        await links.delete(link.code)
        log.info({ title }, 'page title stored')
      } catch (err) {
        log.warn({ err, url: link.url }, 'could not fetch the page title')
      }
    })
    background.add(job)
    void job.finally(() => background.delete(job))
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const url = new URL(req.url ?? '/', baseUrl)
    const method = req.method ?? 'GET'
    const path = url.pathname

    if (method === 'GET' && path === '/health') {
      const dbLatencyMs = await database.ping({ timeoutMs: 2000 })
      return sendJson(res, 200, { status: 'ok', dbLatencyMs: Math.round(dbLatencyMs * 100) / 100 })
    }

    if (method === 'POST' && path === '/links') {
      const body = await readJson(req)
      const target = typeof body === 'object' && body !== null ? (body as { url?: unknown }).url : undefined
      if (typeof target !== 'string' || !isHttpUrl(target))
        throw new HttpProblem(400, 'body must be {"url": "http(s)://..."}')
      const email = (body as { email?: unknown }).email
      if (email !== undefined && (typeof email !== 'string' || !isValidAddress(email)))
        throw new HttpProblem(400, 'email must be an address the link mail can go to')
      // A short code is an address, not a secret: 6 random bytes, 8 URL-safe characters.
      const link = await store.create(randomBytes(6).toString('base64url'), target)
      log.info({ code: link.code, url: target }, 'link created')
      fetchTitleLater(link)
      const deleteUrl = signer.sign(new URL(`/links/${link.code}`, baseUrl), {
        method: 'DELETE',
        expiresIn: config.values.deleteLinkTtl,
      })
      const shortUrl = new URL(`/${link.code}`, baseUrl).toString()
      if (typeof email === 'string') {
        const job = mail.linkCreated({ code: link.code, url: target, shortUrl, deleteUrl }, email)
        background.add(job)
        void job.finally(() => background.delete(job))
      }
      return sendJson(res, 201, { ...link, shortUrl, deleteUrl })
    }

    if (await mail.route(req, res, path)) return res.statusCode
    const mailOf = /^\/links\/([^/]+)\/mail$/.exec(path)
    if (method === 'GET' && mailOf) return sendJson(res, 200, { events: await mail.events(mailOf[1] as string) })

    const info = /^\/links\/([^/]+)$/.exec(path)
    if (info) {
      const code = info[1] as string
      if (method === 'GET') {
        const link = CODE.test(code) ? await store.find(code) : undefined
        if (!link) throw new HttpProblem(404, `no link ${code}`)
        return sendJson(res, 200, link)
      }
      if (method === 'DELETE') {
        const check = await signer.check(url, { method })
        if (!check.ok) throw new HttpProblem(403, `delete URL rejected: ${check.reason}`)
        const removed = await store.remove(code)
        await links.delete(code)
        log.info({ code, removed }, 'link deleted')
        return sendJson(res, removed ? 200 : 404, { deleted: removed })
      }
    }

    const short = /^\/([^/]+)$/.exec(path)
    if (method === 'GET' && short && CODE.test(short[1] as string)) {
      const code = short[1] as string
      const link = await resolveLink(code)
      if (!link) throw new HttpProblem(404, `no link ${code}`)
      await visits.record(code)
      res.writeHead(302, { location: link.url, 'cache-control': 'no-store' })
      res.end()
      return 302
    }

    throw new HttpProblem(404, 'not found')
  }

  const server = http.createServer(function handleRequest(req, res) {
    const requestId = headerValue(req.headers['x-request-id']) ?? uuidv7()
    res.setHeader('x-request-id', requestId)
    const started = performance.now()
    void withLogContext({ requestId }, async () => {
      let status: number
      try {
        status = await route(req, res)
      } catch (err) {
        status = err instanceof HttpProblem ? err.status : 500
        if (status === 500) log.error({ err }, 'request failed')
        if (!res.headersSent)
          sendJson(res, status, { error: err instanceof HttpProblem ? err.message : 'internal error' })
        else res.destroy()
      }
      log.info(
        { method: req.method, path: req.url, status, ms: Math.round((performance.now() - started) * 10) / 10 },
        'request',
      )
    })
  })
  server.listen(port, host)
  await once(server, 'listening')
  const address = server.address() as AddressInfo
  const url = `http://${host}:${address.port}`
  baseUrl = config.values.baseUrl ?? url

  let closed: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
      server.closeIdleConnections()
      shutdownController.abort()
      await stopped
      await Promise.allSettled(background)
      await visits.close()
      await mail.close()
    })())
  const removeHook = onBeforeShutdown(close)
  const unregister = registerForShutdown('demo http server', { close })

  return {
    url,
    server,
    description: config.describe(),
    async idle() {
      while (background.size > 0) await Promise.allSettled(background)
      await visits.idle()
    },
    async close() {
      removeHook()
      unregister()
      await close()
    },
  }
}

/** The signer from BEAVER_URLSIGNER_KEYS / BEAVER_KRYPTO_KEYS, or with a key made at start-up. */
function defaultSigner(log: Logger): UrlSigner {
  const signer = createUrlSigner()
  try {
    signer.sign('/probe')
    return signer
  } catch (err) {
    if (!isKryptoError(err, 'KRYPTO_KEYS_MISSING')) throw err
    log.warn(
      'no BEAVER_URLSIGNER_KEYS set: delete URLs are signed with a key made at start-up and die with the process',
    )
    return createUrlSigner({ keys: generateKeyRingEntry('ephemeral') })
  }
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value)
    return (u.protocol === 'http:' || u.protocol === 'https:') && value.length <= 2048
  } catch {
    return false
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v && /^[\w.-]{1,128}$/.test(v) ? v : undefined
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 16_384) throw new HttpProblem(413, 'body over 16 KiB')
    chunks.push(chunk)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    throw new HttpProblem(400, 'body must be JSON')
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): number {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
  return status
}
