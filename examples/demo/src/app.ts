import http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { onBeforeShutdown, registerForShutdown } from '@beaver-kit/core'
import { describeInstance, resolveConfig, type InstanceDescription, type SchemaOptions } from '@beaver-kit/config'
import { cache as defaultCache, type Cache } from '@beaver-kit/cache'
import { db as defaultDb, isDatabaseError, type Database } from '@beaver-kit/database'
import {
  createUrlSigner,
  generateKeyRingEntry,
  isKryptoError,
  uuidv7,
  type Krypto,
  type UrlSigner,
} from '@beaver-kit/krypto'
import { logger as defaultLogger, withLogContext, type Logger } from '@beaver-kit/logger'
import { isValidAddress, type Mailer } from '@beaver-kit/mail'
import { cacheCheck, createHealth, databaseCheck, type Health } from '@beaver-kit/health'
import { metrics as defaultMetrics, type Metrics } from '@beaver-kit/metrics'
import { createQueue, type Queue } from '@beaver-kit/queue'
import type { DashboardHandler } from '@beaver-kit/queue/dashboard'
import { createLimiter, rateLimitHeaders } from '@beaver-kit/ratelimit'
import { traceRequests, tracing as defaultTracing, type Tracing } from '@beaver-kit/tracing'
import { createAccounts, type Accounts } from './accounts.ts'
import { listen } from './listen.ts'
import { adminDashboard, serveDashboard } from './admin.ts'
import { demoSchema } from './config.ts'
import { startJobs, type Jobs } from './jobs.ts'
import { createLinkMail } from './link-mail.ts'
import { LINK_COLUMNS, LinkStore } from './links.ts'
import { LinkResolver } from './resolver.ts'
import { HttpProblem, readJson, sendJson } from './respond.ts'
import { ENDPOINTS, matchRoute, type Endpoint } from './routes.ts'
import { normalizeTarget } from './targets.ts'
import { TitleFetcher } from './titles.ts'
import { startVisits, type Visits } from './visits.ts'
import { demoStorage, LinkQrCodes } from './qr-codes.ts'
import type { Storage } from '@beaver-kit/storage'

/** The kit instances the demo uses; each defaults to the package's default instance (env-configured). */
export interface Deps {
  db: Database
  cache: Cache
  logger: Logger
  signer: UrlSigner
  /** Default: a mailer configured by BEAVER_MAIL_* (the log transport when nothing is set). */
  mailer?: Mailer
  /** Where link visits are queued; default: a queue on `db` (or as BEAVER_QUEUE_* says). */
  queue?: Queue
  /** `/metrics` and the request metrics; default: the default registry (BEAVER_METRICS_*), kit metrics on. */
  metrics?: Metrics
  /**
   * `/livez` and `/readyz`; the app registers its database (critical) and cache (not critical)
   * checks on it. Default: one made from BEAVER_HEALTH_*, closed with the app.
   */
  health?: Health
  /** Spans of every request and kit operation; default: the default tracing (OTEL_* / BEAVER_TRACING_*, exporter none). */
  tracing?: Tracing
  /** Access-token keys and password hashing of the accounts; default BEAVER_KRYPTO_*. */
  krypto?: Krypto
  /**
   * Where the QR codes of links are stored (used as given, not closed); default: one made from
   * BEAVER_STORAGE_* (the local disk under .data/storage; S3 by BEAVER_STORAGE_DRIVER=s3).
   */
  storage?: Storage
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
  endpoints: readonly Endpoint[]
  /** The demo's own settings and its instances' descriptions (secrets masked), to log at start-up. */
  describe(): InstanceDescription[]
  /** The scheduled jobs (GET /jobs): trigger, pause or read their history through `jobs.scheduler`. */
  readonly jobs: Jobs
  /** 'ok', or 'degraded' while the cache is unreachable. */
  readonly cacheState: 'ok' | 'degraded'
  /** Accounts (`accounts.auth`) and the audit trail (`accounts.audit`). */
  readonly accounts: Accounts
  /** Resolves when background work (title fetches) has settled. */
  idle(): Promise<void>
  close(): Promise<void>
}

const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url))

/** A database failure that means it is unreachable or overloaded: 503, try again later. */
function isDatabaseOutage(err: unknown): boolean {
  return isDatabaseError(err, 'DB_CONNECTION', 'DB_TIMEOUT', 'DB_NOT_READY', 'DB_AUTH')
}

/**
 * Builds and starts Beaver Links: links in the database (SQLite by default, PostgreSQL or MySQL
 * by BEAVER_DB_URL alone), resolved through the cache (memory by default, Redis or the database
 * by BEAVER_CACHE_DRIVER alone) with the database as fallback, page titles fetched from the
 * public internet only, signed delete URLs from krypto, and every request logged with its
 * request id in context.
 */
export async function startApp(options: AppOptions = {}): Promise<App> {
  const config = resolveConfig(
    demoSchema,
    options.env ? { options: options.config, env: options.env } : { options: options.config },
  )
  const settings = config.values
  const log = (options.deps?.logger ?? defaultLogger()).for('demo')
  const database = options.deps?.db ?? defaultDb()
  const cache = options.deps?.cache ?? defaultCache()
  const signer = options.deps?.signer ?? defaultSigner(log)
  // Observability by environment alone: spans are made for every request and kit operation
  // (exported only when OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER says where; log
  // lines carry their trace ids either way), metrics come from the kit's channels.
  const tracer = options.deps?.tracing ?? defaultTracing()
  const registry = options.deps?.metrics ?? defaultMetrics()
  const probes = options.deps?.health ?? createHealth(options.env ? { kit: false, env: options.env } : { kit: false })
  const ownProbes = options.deps?.health === undefined
  const unregisterChecks = [
    probes.register('database', databaseCheck(database)),
    // Links are served from the database while the cache is down: degraded, not unready.
    probes.register('cache', cacheCheck(cache), { critical: false }),
  ]
  const requestMetrics = registry.httpServer({ route: routeTemplate })
  // Link creation (and with it, title fetching) per client: a sliding window on the limiter's
  // store (memory by default; BEAVER_RATELIMIT_STORE=redis shares it between instances).
  const creations = createLimiter({
    namespace: 'demo-links',
    limit: settings.linksPerMinute,
    window: '1m',
    ...(options.env ? { env: options.env } : {}),
  })
  const store = new LinkStore(database)
  const accounts = createAccounts({
    db: database,
    admins: settings.admins,
    devOidc: settings.devOidc,
    krypto: options.deps?.krypto,
    env: options.env,
  })
  const resolver = new LinkResolver(cache.namespace('links'), store, {
    ttl: settings.linkTtl,
    notFoundTtl: settings.notFoundTtl,
    retryMs: settings.cacheRetry,
    log,
  })
  const mail = createLinkMail({ db: database, log, mailer: options.deps?.mailer, env: options.env })
  const mailJobs = new Set<Promise<void>>()
  const titles = new TitleFetcher({
    timeoutMs: settings.titleTimeout,
    concurrency: settings.titleConcurrency,
    allow: settings.titleAllow,
    log,
    store: async (code, title) => {
      await store.setTitle(code, title)
      await resolver.forget(code)
    },
  })

  const closeProbes = async (): Promise<void> => {
    for (const unregister of unregisterChecks) unregister()
    if (ownProbes) await probes.close()
  }
  const cleanUp = async (): Promise<void> => {
    resolver.close()
    await Promise.all([
      titles.close(),
      mail.close(),
      recorder?.close(),
      creations.close(),
      closeProbes(),
      scheduled?.close(),
      accounts.close(),
    ])
  }
  let recorder: Visits | undefined
  let scheduled: Jobs | undefined
  let dashboard: DashboardHandler | undefined
  try {
    await database.migrator({ dir: MIGRATIONS, table: 'beaver_links_migrations' }).up()
    const queue = options.deps?.queue ?? createQueue({ driverOptions: { database } })
    recorder = await startVisits(store, queue, options.deps?.queue === undefined, log)
    dashboard = adminDashboard(queue, settings.adminPassword)
    scheduled = startJobs({ db: database, cache, log, env: options.env })
  } catch (err) {
    await cleanUp()
    throw err
  }
  const visits = recorder
  const jobs = scheduled
  let baseUrl = ''

  async function health(res: http.ServerResponse): Promise<number> {
    await resolver.probe(1000)
    const cacheState = resolver.state === 'ok' ? 'ok' : 'unreachable'
    try {
      const latencyMs = await database.ping({ timeoutMs: 2000 })
      const status = resolver.state === 'ok' ? 'ok' : 'degraded'
      return sendJson(res, 200, { status, database: { status: 'ok', latencyMs }, cache: { status: cacheState } })
    } catch (err) {
      log.warn({ err }, 'health: the database is unreachable')
      return sendJson(res, 503, {
        status: 'unavailable',
        database: { status: 'unreachable' },
        cache: { status: cacheState },
      })
    }
  }

  async function createLink(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const allowed = await creations.limit(creations.clientKey(req.socket.remoteAddress, req.headers))
    const limitHeaders = rateLimitHeaders(creations, allowed)
    if (!allowed.allowed)
      throw new HttpProblem(429, 'too many links created from this address; retry later', limitHeaders)
    for (const [name, value] of Object.entries(limitHeaders)) res.setHeader(name, value)
    const body = await readJson(req)
    const fields = typeof body === 'object' && body !== null ? (body as { url?: unknown; email?: unknown }) : {}
    const target = normalizeTarget(fields.url)
    if (!target.ok) throw new HttpProblem(400, target.reason)
    const { email } = fields
    if (email !== undefined && (typeof email !== 'string' || !isValidAddress(email)))
      throw new HttpProblem(400, 'email must be an address the link mail can go to')
    // A short code is an address, not a secret: 6 random bytes, 8 URL-safe characters.
    const owner = await accounts.principal(req)
    const link = await store.create(randomBytes(6).toString('base64url'), target.url, owner?.userId ?? null)
    await accounts.record(req, {
      action: 'link.create',
      actor: owner ? `user:${owner.userId}` : 'anonymous',
      target: `link:${link.code}`,
      after: { url: link.url, ownerId: link.ownerId },
    })
    log.info({ code: link.code, host: new URL(link.url).host }, 'link created')
    if (settings.fetchTitles) titles.start(link.code, link.url)
    const deleteUrl = signer.sign(new URL(`/links/${link.code}`, baseUrl), {
      method: 'DELETE',
      expiresIn: settings.deleteLinkTtl,
    })
    const shortUrl = new URL(`/${link.code}`, baseUrl).href
    await qr.store(link.code, shortUrl)
    const qrUrl = new URL(`/links/${link.code}/qr`, baseUrl).href
    if (typeof email === 'string') {
      const job = mail.linkCreated({ code: link.code, url: link.url, shortUrl, deleteUrl }, email)
      mailJobs.add(job)
      void job.finally(() => mailJobs.delete(job))
    }
    return sendJson(res, 201, { ...link, shortUrl, qrUrl, deleteUrl })
  }

  /** DELETE /links/:code: with the signed delete URL, or by a principal allowed to delete it (its owner, an admin). */
  async function deleteLink(req: http.IncomingMessage, res: http.ServerResponse, url: URL, code: string) {
    const signed = url.searchParams.has('sig')
    const who = signed ? undefined : await accounts.principal(req)
    if (signed) {
      const check = await signer.check(url, { method: 'DELETE' })
      if (!check.ok) throw new HttpProblem(403, `delete URL rejected: ${check.reason}`)
    } else if (!who)
      throw new HttpProblem(401, 'sign in (Bearer token) or use the signed deleteUrl', { 'www-authenticate': 'Bearer' })
    // The permission's condition (owner_id = the caller, or none for admins) is part of the DELETE itself.
    const allowed = who && accounts.auth.permit(who, 'link:delete').where({ columns: LINK_COLUMNS })
    const removed = await store.remove(code, allowed)
    if (!removed && who && (await store.find(code)))
      throw new HttpProblem(403, 'only its owner or an admin deletes a link')
    await Promise.all([resolver.forget(code), removed ? qr.remove(code) : undefined])
    if (removed)
      await accounts.record(req, {
        action: 'link.delete',
        actor: who ? `user:${who.userId}` : 'signed-url',
        target: `link:${code}`,
      })
    log.info({ code, removed }, 'link deleted')
    return sendJson(res, removed ? 200 : 404, { deleted: removed })
  }

  async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    const method = req.method ?? 'GET'
    const found = matchRoute(url.pathname)
    if (!found) throw new HttpProblem(404, 'not found')
    const { endpoint, code = '' } = found
    if (!endpoint.methods.includes(method)) {
      const hint = endpoint.name === 'links' ? '; GET /links/:code shows one link' : ''
      throw new HttpProblem(405, `${endpoint.path} answers ${endpoint.methods.join(', ')}${hint}`, {
        allow: endpoint.methods.join(', '),
      })
    }
    switch (endpoint.name) {
      case 'health':
        return health(res)
      case 'livez':
      case 'readyz': {
        const report = probes.probe(endpoint.name === 'livez' ? 'liveness' : 'readiness')
        return sendJson(res, report.ok ? 200 : 503, report)
      }
      case 'metrics': {
        const text = await registry.render()
        res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
        res.end(method === 'HEAD' ? undefined : text)
        return 200
      }
      case 'jobs':
        return sendJson(res, 200, await jobs.report())
      case 'admin-queues':
        if (!dashboard) throw new HttpProblem(404, 'the queue dashboard is off; set BEAVER_DEMO_ADMIN_PASSWORD')
        return serveDashboard(dashboard, req, res)
      case 'links':
        return createLink(req, res)
      case 'link': {
        if (method === 'DELETE') return deleteLink(req, res, url, code)
        const link = await store.find(code)
        if (!link) throw new HttpProblem(404, `no link ${code}`)
        return sendJson(res, 200, link)
      }
      case 'register':
      case 'login':
      case 'oidc':
      case 'oidc-callback':
      case 'audit-verify':
        return accounts.route(endpoint.name, req, res, url)
      case 'qr': {
        if (!(await store.find(code))) throw new HttpProblem(404, `no link ${code}`)
        const location = await qr.url(code, new URL(`/${code}`, baseUrl).href)
        res.writeHead(302, { location, 'cache-control': 'no-store' })
        res.end()
        return 302
      }
      case 'files':
        return qr.serve(req, res, url)
      case 'mail-events':
        return sendJson(res, 200, { events: await mail.events(code) })
      case 'webhook':
        if (await mail.route(req, res, url.pathname)) return res.statusCode
        throw new HttpProblem(404, 'no such mail provider')
      case 'redirect': {
        const link = await resolver.resolve(code)
        if (!link) throw new HttpProblem(404, `no link ${code}`)
        // Counted through the queue: the redirect does not wait for the counter update.
        if (method === 'GET') await visits.record(code)
        res.writeHead(302, { location: link.url, 'cache-control': 'no-store' })
        res.end()
        return 302
      }
    }
  }

  const server = http.createServer(
    {
      requestTimeout: settings.requestTimeout,
      headersTimeout: Math.min(settings.headersTimeout, settings.requestTimeout),
      // How often Node checks those two timeouts (its default is 30 s, longer than either).
      connectionsCheckingInterval: Math.max(250, Math.min(settings.headersTimeout, settings.requestTimeout) / 4),
    },
    traceRequests(handleRequest, {
      route: routeTemplate,
      // Probes and scrapes every few seconds would drown the traces that matter.
      ignore: (req) => isProbe(req.url),
    }),
  )
  function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    requestMetrics(req, res)
    const requestId = headerValue(req.headers['x-request-id']) ?? uuidv7()
    res.setHeader('x-request-id', requestId)
    const started = performance.now()
    void withLogContext({ requestId }, async () => {
      let status: number
      // The path only: a query may hold a capability (the signed delete URL's sig=).
      let path = '(unparsable)'
      try {
        const url = parseTarget(req.url, baseUrl)
        path = url.pathname
        status = await route(req, res, url)
      } catch (err) {
        status = err instanceof HttpProblem ? err.status : isDatabaseOutage(err) ? 503 : 500
        if (status === 500) log.error({ err }, 'request failed')
        if (status === 503) log.warn({ err }, 'request failed: the database is unavailable')
        const message =
          err instanceof HttpProblem
            ? err.message
            : status === 503
              ? 'database unavailable, try again'
              : 'internal error'
        if (!res.headersSent) sendJson(res, status, { error: message }, err instanceof HttpProblem ? err.headers : {})
        else res.destroy()
      }
      const ms = Math.round((performance.now() - started) * 10) / 10
      log.info({ method: req.method, path, status, ms }, 'request')
    })
  }
  try {
    await resolver.probe(2000)
    // Every check runs once before the port opens, so /readyz answers from a result at once.
    await probes.checkNow()
    await listen(server, settings.host, settings.port)
  } catch (err) {
    await cleanUp()
    throw err
  }
  const address = server.address() as AddressInfo
  const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${address.port}`
  baseUrl = settings.baseUrl ?? url
  // Made once the address is known (kit-signed URLs point back at this server's /files); no
  // request reaches the routes that use it before.
  const storage = options.deps?.storage ?? demoStorage(options.env, baseUrl, log)
  const qr = new LinkQrCodes(storage, options.deps?.storage === undefined)

  let closed: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      log.info('stopping: no new requests, finishing the ones in flight')
      const stopped = new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())))
      server.closeIdleConnections()
      resolver.close()
      await Promise.all([stopped, titles.close(), Promise.allSettled(mailJobs)])
      await Promise.all([
        visits.close(),
        mail.close(),
        closeProbes(),
        jobs.close(),
        creations.close(),
        accounts.close(),
        qr.close(),
      ])
      log.info('Beaver Links stopped')
    })())
  const removeHook = onBeforeShutdown(close)
  const unregister = registerForShutdown('demo http server', { close })

  return {
    url,
    server,
    endpoints: ENDPOINTS,
    jobs,
    accounts,
    describe: () => [
      describeInstance('demo', 'BEAVER_', config.entries, { url, cache: resolver.state }),
      database.describe(),
      cache.describe(),
      titles.client.describe(),
      signer.describe(),
      mail.describe(),
      visits.describe(),
      registry.describe(),
      tracer.describe(),
      probes.describe(),
      jobs.describe(),
      ...accounts.describe(),
      storage.describe(),
    ],
    get cacheState() {
      return resolver.state
    },
    async idle() {
      await titles.idle()
      while (mailJobs.size > 0) await Promise.allSettled(mailJobs)
      await visits.idle()
    },
    async close() {
      removeHook()
      unregister()
      await close()
    },
  }
}

/** The route template of a request (`/links/:code`), never its raw path: a bounded metric label and span name. */
function routeTemplate(req: http.IncomingMessage): string {
  const target = req.url ?? '/'
  const query = target.indexOf('?')
  return matchRoute(query < 0 ? target : target.slice(0, query))?.endpoint.path ?? 'unmatched'
}

function isProbe(target: string | undefined): boolean {
  const path = target?.split('?', 1)[0]
  return path === '/livez' || path === '/readyz' || path === '/metrics'
}

/** The request target as a URL; a target no URL parser accepts (`GET http://[`) is a 400, not a crash. */
function parseTarget(target: string | undefined, base: string): URL {
  try {
    return new URL(target ?? '/', base)
  } catch {
    throw new HttpProblem(400, 'the request target is not a valid URL')
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

function headerValue(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  return v && /^[\w.-]{1,128}$/.test(v) ? v : undefined
}
