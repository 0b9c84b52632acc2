import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { onBeforeShutdown, registerForShutdown } from '@beaver-kit/core'
import { describeInstance, resolveConfig, type InstanceDescription, type SchemaOptions } from '@beaver-kit/config'
import { cache as defaultCache, type Cache } from '@beaver-kit/cache'
import { db as defaultDb, type Database } from '@beaver-kit/database'
import type { Krypto, UrlSigner } from '@beaver-kit/krypto'
import { logger as defaultLogger, type Logger } from '@beaver-kit/logger'
import type { Mailer } from '@beaver-kit/mail'
import { cacheCheck, createHealth, databaseCheck, type Health } from '@beaver-kit/health'
import { metrics as defaultMetrics, type Metrics } from '@beaver-kit/metrics'
import { createQueue, type Queue } from '@beaver-kit/queue'
import type { DashboardHandler } from '@beaver-kit/queue/dashboard'
import { createLimiter } from '@beaver-kit/ratelimit'
import { traceRequests, tracing as defaultTracing, type Tracing } from '@beaver-kit/tracing'
import { createAccounts, type Accounts } from './accounts.ts'
import { listen } from './listen.ts'
import { adminDashboard, serveDashboard } from './admin.ts'
import { demoSchema } from './config.ts'
import { startJobs, type Jobs } from './jobs.ts'
import { createLinkMail } from './link-mail.ts'
import { LinkStore } from './links.ts'
import { linkRoutes } from './link-routes.ts'
import { LinkResolver } from './resolver.ts'
import { HttpProblem, sendJson } from './respond.ts'
import { handleRequests, isProbe, routeTemplate } from './request-handler.ts'
import { ENDPOINTS, matchRoute, type Endpoint } from './routes.ts'
import { defaultSigner } from './signer.ts'
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
  const mail = createLinkMail({ db: database, log, mailer: options.deps?.mailer, env: options.env })
  let baseUrl = ''
  const accounts = createAccounts({
    db: database,
    cache,
    admins: settings.admins,
    devOidc: settings.devOidc,
    krypto: options.deps?.krypto,
    mailer: mail.mailer,
    baseUrl: () => baseUrl,
    env: options.env,
  })
  const resolver = new LinkResolver(cache.namespace('links'), store, {
    ttl: settings.linkTtl,
    notFoundTtl: settings.notFoundTtl,
    retryMs: settings.cacheRetry,
    log,
  })
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
  let qr: LinkQrCodes | undefined = undefined
  const links = linkRoutes({
    store,
    resolver,
    accounts,
    signer,
    creations,
    titles,
    mail,
    visits,
    log,
    fetchTitles: settings.fetchTitles,
    deleteLinkTtl: settings.deleteLinkTtl,
    mailJobs,
    baseUrl: () => baseUrl,
    // Made once the server listens; no request reaches a link route before.
    qr: () => qr as LinkQrCodes,
  })

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
        return links.create(req, res)
      case 'link':
        return method === 'DELETE' ? links.remove(req, res, url, code) : links.show(res, code)
      case 'register':
      case 'register-complete':
      case 'reset':
      case 'login':
      case 'logout':
      case 'oidc':
      case 'oidc-callback':
      case 'audit-verify':
        return accounts.route(endpoint.name, req, res, url)
      case 'qr':
        return links.qrCode(res, code)
      case 'files':
        return (qr as LinkQrCodes).serve(req, res, url)
      case 'mail-events':
        return sendJson(res, 200, { events: await mail.events(code) })
      case 'webhook':
        if (await mail.route(req, res, url.pathname)) return res.statusCode
        throw new HttpProblem(404, 'no such mail provider')
      case 'redirect':
        return links.redirect(req, res, code)
    }
  }

  const handle = handleRequests(route, log, () => baseUrl)
  const handleRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    requestMetrics(req, res)
    handle(req, res)
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
  const linkQr = new LinkQrCodes(storage, options.deps?.storage === undefined)
  qr = linkQr

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
        linkQr.close(),
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
