import type { IncomingMessage, ServerResponse } from 'node:http'
import { dashboardCss, dashboardHtml, dashboardJs } from './dashboard-page.ts'
import { QueueError, isQueueError } from './errors.ts'
import type { Queue } from './queue-api.ts'

/** Options of `createDashboard()`. */
export interface DashboardOptions {
  /** The queue whose namespace the dashboard shows. */
  queue: Pick<Queue, 'queues' | 'counts' | 'dlq'>
  /**
   * Decides whether a request may see and act: return true to allow. Required, unless
   * `allowUnauthenticated` says on purpose that anyone who reaches the handler may. A refusal
   * answers 401; the check may set headers on `res` first (`WWW-Authenticate` for Basic auth).
   */
  auth?: ((req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>) | undefined
  /** Serve without an auth check (a dashboard behind your own gate). Default false. */
  allowUnauthenticated?: boolean | undefined
  /**
   * The path the handler is mounted at on a bare node:http server or Fastify (`/admin/queues`):
   * stripped from `req.url`. Leave unset under Express's `app.use(path, handler)`, which strips it.
   */
  basePath?: string | undefined
  /** Queues to list even before they hold a message (the driver lists those it has seen). */
  queues?: readonly string[] | undefined
  /** Page title. Default `Queues`. */
  title?: string | undefined
  /** How often the page refreshes its counts, in ms. Default 2000. */
  refreshMs?: number | undefined
  /**
   * Hears a failure the page only sees as a code (a backend error). Default: a process
   * warning. Under Express the error goes to `next(error)` instead.
   */
  onError?: ((error: unknown) => void) | undefined
}

/** A request handler for node:http, Express (`app.use(path, handler)`), or Fastify/Hono's raw request. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void

const JSON_TYPE = 'application/json; charset=utf-8'
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
}

/**
 * The queue dashboard: queues with waiting/active/delayed/failed/dead/completed counts and
 * throughput, and each queue's dead letters with retry and purge. Refuses to be created
 * without an auth check unless `allowUnauthenticated: true`. Actions are POSTs that must carry
 * the page's `x-beaver-dashboard` header (a cross-site form cannot), from the same origin.
 * @example
 * const dashboard = createDashboard({ queue: queue(), basePath: '/admin/queues', auth: (req) => isAdmin(req) })
 * http.createServer((req, res) => req.url?.startsWith('/admin/queues') ? dashboard(req, res) : app(req, res))
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const {
    queue,
    auth,
    allowUnauthenticated = false,
    title = 'Queues',
    refreshMs = 2000,
    onError = (error: unknown) => process.emitWarning(`queue dashboard: ${String(error)}`, 'BeaverQueueDashboard'),
  } = options
  if (auth === undefined && allowUnauthenticated !== true) {
    throw new QueueError(
      'QUEUE_OPTIONS_INVALID',
      'createDashboard() needs an auth check (auth: (req) => boolean) so that not everyone can retry and purge dead letters; pass allowUnauthenticated: true to serve it without one on purpose.',
    )
  }
  if (!Number.isInteger(refreshMs) || refreshMs < 200) {
    throw new QueueError(
      'QUEUE_OPTIONS_INVALID',
      `Dashboard refreshMs must be an integer of at least 200; got ${refreshMs}.`,
    )
  }
  const basePath = (options.basePath ?? '').replace(/\/+$/, '')
  const extra = [...(options.queues ?? [])]

  async function listQueues(): Promise<unknown> {
    const names = [...new Set([...extra, ...(await queue.queues())])].sort()
    const queues = await Promise.all(names.map(async (name) => ({ name, counts: await queue.counts(name) })))
    return { queues }
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid')
    let path = url.pathname
    if (basePath !== '' && (path === basePath || path.startsWith(`${basePath}/`))) path = path.slice(basePath.length)
    const full = new URL((req as { originalUrl?: string }).originalUrl ?? req.url ?? '/', 'http://dashboard.invalid')
    // The mount path as the browser sees it: the full path without the route inside the dashboard.
    const mount = (
      full.pathname.endsWith(path)
        ? full.pathname.slice(0, full.pathname.length - path.length)
        : path === '/'
          ? full.pathname
          : basePath
    ).replace(/\/+$/, '')
    if (auth !== undefined && !(await auth(req, res)))
      return send(res, 401, JSON_TYPE, JSON.stringify({ error: 'unauthorized' }))
    const method = req.method ?? 'GET'
    if (method === 'GET' || method === 'HEAD') {
      if (path === '' || path === '/')
        return send(res, 200, 'text/html; charset=utf-8', dashboardHtml(mount, title, refreshMs))
      if (path === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', dashboardJs)
      if (path === '/app.css') return send(res, 200, 'text/css; charset=utf-8', dashboardCss)
      if (path === '/api/queues') return sendJson(res, await listQueues())
      const dead = /^\/api\/queues\/([^/]+)\/dead$/.exec(path)
      if (dead) {
        const limit = Math.min(1000, Math.max(1, Number(url.searchParams.get('limit')) || 100))
        const offset = Math.max(0, Number(url.searchParams.get('offset')) || 0)
        return sendJson(res, { messages: await queue.dlq(decode(dead[1])).list({ limit, offset }) })
      }
      return send(res, 404, JSON_TYPE, JSON.stringify({ error: 'not found' }))
    }
    if (method !== 'POST') return send(res, 405, JSON_TYPE, JSON.stringify({ error: 'method not allowed' }))
    if (req.headers['x-beaver-dashboard'] !== '1' || !sameOrigin(req)) {
      return send(res, 403, JSON_TYPE, JSON.stringify({ error: 'cross-site request refused' }))
    }
    const action = /^\/api\/queues\/([^/]+)\/dead(?:\/([^/]+))?\/(retry|purge)$/.exec(path)
    if (!action) return send(res, 404, JSON_TYPE, JSON.stringify({ error: 'not found' }))
    const dlq = queue.dlq(decode(action[1]))
    const id = action[2] === undefined ? undefined : decode(action[2])
    const count =
      action[3] === 'retry'
        ? id === undefined
          ? await dlq.replayAll()
          : Number(await dlq.replay(id))
        : await dlq.purge(id)
    return sendJson(res, { count })
  }

  return function queueDashboard(req, res, next) {
    route(req, res).catch((error: unknown) => {
      if (isQueueError(error, 'QUEUE_OPTIONS_INVALID')) {
        return send(res, 400, JSON_TYPE, JSON.stringify({ error: error.message }))
      }
      if (next) return next(error)
      // The backend's message may name hosts or tables: the page gets a code, the server the error.
      onError(error)
      send(res, 500, JSON_TYPE, JSON.stringify({ error: isQueueError(error) ? error.code : 'internal error' }))
    })
  }
}

function decode(segment: string | undefined): string {
  try {
    return decodeURIComponent(segment ?? '')
  } catch {
    return ''
  }
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin
  if (origin === undefined) return true
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false
  }
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, JSON_TYPE, JSON.stringify(value))
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent) return
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}
