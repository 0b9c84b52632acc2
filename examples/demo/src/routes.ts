import type { AccountEndpoint } from './accounts.ts'

/** Short codes the demo makes: 8 URL-safe characters; 4-32 are accepted for links made elsewhere. */
export const CODE = /^[A-Za-z0-9_-]{4,32}$/

export type EndpointName =
  | 'health'
  | 'livez'
  | 'readyz'
  | 'metrics'
  | 'jobs'
  | 'admin-queues'
  | 'links'
  | 'link'
  | 'qr'
  | 'files'
  | 'mail-events'
  | 'webhook'
  | AccountEndpoint
  | 'redirect'

export interface Endpoint {
  name: EndpointName
  /** The path as the README and the start-up line write it. */
  path: string
  /** Methods answered; HEAD wherever GET is (the same headers, no body). */
  methods: readonly string[]
  summary: string
}

/** Every endpoint, in matching order: listed at start-up and in the README (a test keeps them equal). */
export const ENDPOINTS: readonly Endpoint[] = [
  {
    name: 'health',
    path: '/health',
    methods: ['GET', 'HEAD'],
    summary: '200 {"status":"ok"} or "degraded" (cache unreachable); 503 when the database is unreachable',
  },
  {
    name: 'livez',
    path: '/livez',
    methods: ['GET', 'HEAD'],
    summary: 'liveness probe (@beaver-kit/health): 200 while the process serves, also while draining',
  },
  {
    name: 'readyz',
    path: '/readyz',
    methods: ['GET', 'HEAD'],
    summary:
      'readiness probe: 200 when the database check passes (cache down: 200 "degraded"); 503 when it fails or on SIGTERM (draining)',
  },
  {
    name: 'metrics',
    path: '/metrics',
    methods: ['GET', 'HEAD'],
    summary: 'Prometheus text: requests by route template, method and status, the kit metrics, runtime metrics',
  },
  {
    name: 'jobs',
    path: '/jobs',
    methods: ['GET', 'HEAD'],
    summary:
      'the scheduled jobs (expired-cache purge every 5 minutes, daily link stats at 03:00 UTC): next runs, the last 10 runs of each, the latest stats',
  },
  {
    name: 'admin-queues',
    path: '/admin/queues',
    methods: ['GET', 'HEAD', 'POST'],
    summary:
      'the queue dashboard (@beaver-kit/queue/dashboard): counts, throughput, dead letters with retry and purge; HTTP Basic auth with BEAVER_DEMO_ADMIN_PASSWORD, 404 while that is unset',
  },
  {
    name: 'links',
    path: '/links',
    methods: ['POST'],
    summary:
      'create a short link from {"url": "https://...", "email"?: "..."}: 201 with code, shortUrl and a signed deleteUrl; the email gets a link-created mail; with a Bearer token the link belongs to that account',
  },
  {
    name: 'link',
    path: '/links/:code',
    methods: ['GET', 'HEAD', 'DELETE'],
    summary:
      'the link with its title, hits and owner; DELETE through the signed deleteUrl, or with a Bearer token of its owner or an admin (403 otherwise)',
  },
  {
    name: 'qr',
    path: '/links/:code/qr',
    methods: ['GET', 'HEAD'],
    summary: '302 to a signed URL of the QR-code PNG of the short link (stored on the local disk, or S3 by env)',
  },
  {
    name: 'files',
    path: '/files/*',
    methods: ['GET', 'HEAD'],
    summary: 'serves kit-signed file URLs (the QR codes on the local disk); 403 when the signature is bad or expired',
  },
  {
    name: 'mail-events',
    path: '/links/:code/mail',
    methods: ['GET', 'HEAD'],
    summary: 'the delivery events of the link-created mail (sent when POST /links names an "email")',
  },
  {
    name: 'webhook',
    path: '/webhooks/mail/:provider',
    methods: ['POST'],
    summary: "a mail provider's signed delivery webhook (ses, sendgrid, mailgun, postmark, resend); 401 unsigned",
  },
  {
    name: 'register',
    path: '/auth/register',
    methods: ['POST'],
    summary:
      'sign up with {"email", "password"} (12 characters or more): 202 and the same body for a new and a taken address; the link to finish goes by mail',
  },
  {
    name: 'register-complete',
    path: '/auth/register/complete',
    methods: ['GET', 'POST'],
    summary:
      'the mailed sign-up link: GET shows a button, POST {"token"} creates the account (201; addresses in BEAVER_DEMO_ADMINS get the admin role); a used link is 401',
  },
  {
    name: 'reset',
    path: '/auth/reset',
    methods: ['GET', 'POST'],
    summary:
      'the password link of the "you already have an account" mail: GET shows a form, POST {"token", "password"} sets a new password',
  },
  {
    name: 'login',
    path: '/auth/login',
    methods: ['POST'],
    summary:
      'sign in with {"email", "password"}: 200 with accessToken (send as Bearer) and refreshToken, and a session cookie (`@beaver-kit/session`) that signs the browser in',
  },
  {
    name: 'logout',
    path: '/auth/logout',
    methods: ['POST'],
    summary: 'ends the browser session: its record and its cookie; 200 {"signedOut": true|false}',
  },
  {
    name: 'oidc',
    path: '/auth/oidc',
    methods: ['GET'],
    summary:
      'development: sign in through the local OpenID Provider (any name and password); 302 there, back to the callback',
  },
  {
    name: 'oidc-callback',
    path: '/auth/oidc/callback',
    methods: ['GET'],
    summary: "the OpenID Provider's redirect: verifies the ID token, signs in (or creates) the account of its e-mail",
  },
  {
    name: 'audit-verify',
    path: '/admin/audit/verify',
    methods: ['GET'],
    summary:
      'admins: checks the hash chain of every audit stream (links, auth); {"ok": true} or the first broken record',
  },
  {
    name: 'redirect',
    path: '/:code',
    methods: ['GET', 'HEAD'],
    summary: '302 to the link target (through the cache; from the database while the cache is down)',
  },
]

/** The endpoint a path belongs to, with its code; undefined for no endpoint (404). */
export function matchRoute(pathname: string): { endpoint: Endpoint; code?: string } | undefined {
  const find = (name: EndpointName): Endpoint => ENDPOINTS.find((e) => e.name === name) as Endpoint
  if (pathname === '/health') return { endpoint: find('health') }
  if (pathname === '/livez') return { endpoint: find('livez') }
  if (pathname === '/readyz') return { endpoint: find('readyz') }
  if (pathname === '/metrics') return { endpoint: find('metrics') }
  if (pathname === '/jobs') return { endpoint: find('jobs') }
  if (pathname === '/admin/queues' || pathname.startsWith('/admin/queues/')) return { endpoint: find('admin-queues') }
  if (pathname === '/links' || pathname === '/links/') return { endpoint: find('links') }
  const link = /^\/links\/([^/]+)$/.exec(pathname)
  if (link) return { endpoint: find('link'), code: link[1] as string }
  const qr = /^\/links\/([^/]+)\/qr$/.exec(pathname)
  if (qr) return { endpoint: find('qr'), code: qr[1] as string }
  if (pathname.startsWith('/files/')) return { endpoint: find('files') }
  const mail = /^\/links\/([^/]+)\/mail$/.exec(pathname)
  if (mail) return { endpoint: find('mail-events'), code: mail[1] as string }
  if (/^\/webhooks\/mail\/[a-z]+$/.test(pathname)) return { endpoint: find('webhook') }
  const fixed = ENDPOINTS.find((e) => e.path === pathname && !e.path.includes(':'))
  if (fixed) return { endpoint: fixed }
  const short = /^\/([^/]+)$/.exec(pathname)
  if (short && CODE.test(short[1] as string)) return { endpoint: find('redirect'), code: short[1] as string }
  return undefined
}
