import { timingSafeEqual } from 'node:crypto'
import type http from 'node:http'
import type { Queue } from '@beaver-kit/queue'
import { createDashboard, type DashboardHandler } from '@beaver-kit/queue/dashboard'

/** Where the demo mounts the queue dashboard. */
export const ADMIN_QUEUES_PATH = '/admin/queues'

/**
 * The queue dashboard behind HTTP Basic auth (any user name, BEAVER_DEMO_ADMIN_PASSWORD), so a
 * browser asks for the password; no password set: no dashboard.
 */
export function adminDashboard(queue: Queue, password: string | undefined): DashboardHandler | undefined {
  if (password === undefined || password === '') return undefined
  const expected = Buffer.from(password)
  return createDashboard({
    queue,
    basePath: ADMIN_QUEUES_PATH,
    title: 'Beaver Links queues',
    auth(req, res) {
      const header = req.headers.authorization ?? ''
      const given = header.startsWith('Basic ')
        ? Buffer.from(header.slice(6), 'base64').toString('utf8').split(':').slice(1).join(':')
        : ''
      const actual = Buffer.from(given)
      const ok = actual.length === expected.length && timingSafeEqual(actual, expected)
      if (!ok) res.setHeader('www-authenticate', 'Basic realm="Beaver Links admin", charset="UTF-8"')
      return ok
    },
  })
}

/** Serves one request with the dashboard; resolves its status once the answer is sent. */
export function serveDashboard(
  dashboard: DashboardHandler,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<number> {
  return new Promise((resolve, reject) => {
    res.once('finish', () => resolve(res.statusCode))
    dashboard(req, res, reject)
  })
}
