import type http from 'node:http'
import type { InstanceDescription } from '@beaver-kit/config'
import type { Cache } from '@beaver-kit/cache'
import type { Database } from '@beaver-kit/database'
import { createAudit, type Audit, type AuditEvent } from '@beaver-kit/audit'
import {
  auditSink,
  authErrorResponse,
  createAuth,
  createSqlAuthStore,
  isAuthError,
  type Auth,
  type AuthRequest,
  type Principal,
  type RoleTable,
} from '@beaver-kit/auth'
import { randomToken, type Krypto } from '@beaver-kit/krypto'
import { isBeaverError } from '@beaver-kit/core'
import { createSessions, type Sessions } from '@beaver-kit/session'
import type { Mailer } from '@beaver-kit/mail'
import type { OAuth } from '@beaver-kit/oauth'
import { accountMail, readForm, tokenPage } from './account-mail.ts'
import type { DevOidc } from './dev-oidc.ts'
import { HttpProblem, readJson, sendJson } from './respond.ts'

/**
 * Who may do what with links: members create and read, and delete the links they own (the
 * condition is checked on a link and compiled into the DELETE's WHERE); admins do anything
 * with links and read the audit trail.
 */
export const ROLES: RoleTable = {
  member: {
    permissions: ['link:create', 'link:read', { permission: 'link:delete', when: (s) => ({ ownerId: s.userId }) }],
  },
  admin: { inherits: ['member'], permissions: ['link:*', 'audit:read'] },
}

export interface AccountsOptions {
  db: Database
  /** Where browser sessions live (their own namespace): the demo's cache, unless BEAVER_SESSION_* says otherwise. */
  cache: Cache
  /** Addresses that get the admin role when they register or first sign in. */
  admins: readonly string[]
  /** Start the local OpenID Provider on the first GET /auth/oidc (never under NODE_ENV=production). */
  devOidc: boolean
  /** Signing keys and password hashing; default BEAVER_KRYPTO_* (a key made at start-up outside production). */
  krypto?: Krypto | undefined
  /** Sends the sign-up and password mails (the demo's mailer). */
  mailer: Mailer
  /** The public URL the mails' links start with, known once the server listens. */
  baseUrl: () => string
  env?: NodeJS.ProcessEnv | undefined
}

/** Accounts, sign-in and the audit trail of Beaver Links. */
export interface Accounts {
  readonly auth: Auth
  readonly audit: Audit
  /** Browser sessions: a sign-in sets the cookie, and `principal()` reads it when no Bearer token comes. */
  readonly sessions: Sessions
  /** The signed-in principal of a request; undefined when it presents nothing; 401 for a bad token. */
  principal(req: http.IncomingMessage): Promise<Principal | undefined>
  /** The principal of a request allowed to `permission` without condition, or 401/403. */
  authorize(req: http.IncomingMessage, permission: string): Promise<Principal>
  /** Appends to the `links` stream of the trail, with the request's address and user agent. */
  record(req: http.IncomingMessage, event: AuditEvent): Promise<void>
  /**
   * POST /auth/register (and the page and POST of its mailed link), /auth/reset, /auth/login
   * and /auth/logout, GET /auth/oidc and /auth/oidc/callback, GET /admin/audit/verify.
   */
  route(name: AccountEndpoint, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number>
  describe(): InstanceDescription[]
  close(): Promise<void>
}

export type AccountEndpoint =
  'register' | 'register-complete' | 'reset' | 'login' | 'logout' | 'oidc' | 'oidc-callback' | 'audit-verify'

/**
 * What POST /auth/register answers, for an address with an account and for one without alike:
 * the owner of the address learns which it was, by mail; the caller does not.
 */
export const SIGN_UP_ANSWER = {
  status: 'check-your-mail',
  message: 'If this address can sign up, a link to finish has been sent to it.',
} as const

/** An AuthError as the demo's HttpProblem (same status, message and headers); anything else as it is. */
function problemOf(err: unknown): unknown {
  if (!isAuthError(err)) return err
  const { status, headers } = authErrorResponse(err)
  const { 'content-type': _json, ...rest } = headers
  return new HttpProblem(status, err.message, rest)
}

const requestContext = (req: http.IncomingMessage) => ({
  ip: req.socket.remoteAddress,
  userAgent: req.headers['user-agent'],
})

/** Builds accounts (tables in the demo's database), the audit trail (same database) and, in development, OIDC sign-in. */
export function createAccounts(options: AccountsOptions): Accounts {
  const { db, env = {} } = options
  // From BEAVER_SESSION_* of the real environment when none is given: BEAVER_SESSION_KEYS is
  // then required under NODE_ENV=production (sessions must survive a restart). First, so that
  // refusal leaves nothing open.
  const sessions = createSessions({ cache: options.cache, ...(options.env ? { env: options.env } : {}) })
  const audit = createAudit({ env, store: 'database', database: db, db: { table: 'demo_audit' } })
  const store = createSqlAuthStore({ database: db, table: 'demo_auth' })
  const auth = createAuth({
    env,
    storeInstance: store,
    sessions,
    ...(options.krypto ? { krypto: options.krypto } : {}),
    issuer: 'beaver-links',
    audience: 'beaver-links',
    roles: ROLES,
    onEvent: auditSink(audit, { stream: 'auth' }),
    deliver: accountMail({ mailer: options.mailer, baseUrl: options.baseUrl, env: options.env }),
  })
  const admins = new Set(options.admins.map((a) => a.toLowerCase()))
  const rolesFor = (email: string): string[] => (admins.has(email.toLowerCase()) ? ['admin'] : ['member'])
  // The real environment's NODE_ENV when none is given: the local provider signs anyone in.
  const devOidc = options.devOidc && (options.env ?? process.env).NODE_ENV !== 'production'
  let oidc: Promise<{ op: DevOidc; oauth: OAuth }> | undefined

  function startOidc(redirectUri: string): Promise<{ op: DevOidc; oauth: OAuth }> {
    oidc ??= (async () => {
      // Loaded on first use: oidc-provider is large, and production never starts it.
      const [{ startDevOidc }, { createOAuth }] = await Promise.all([
        import('./dev-oidc.ts'),
        import('@beaver-kit/oauth'),
      ])
      const op = await startDevOidc(redirectUri)
      const oauth = createOAuth({
        envPrefix: false,
        allowHttp: true,
        providers: {
          local: {
            type: 'oidc',
            issuer: op.issuer,
            clientId: op.clientId,
            clientSecret: op.clientSecret,
            redirectUri,
            scopes: ['openid', 'email', 'profile'],
          },
        },
      })
      return { op, oauth }
    })()
    oidc.catch(() => (oidc = undefined))
    return oidc
  }

  async function principal(req: http.IncomingMessage): Promise<Principal | undefined> {
    try {
      return await auth.authenticate(req as AuthRequest)
    } catch (err) {
      throw problemOf(err)
    }
  }

  async function body(req: http.IncomingMessage): Promise<{ email?: unknown; password?: unknown }> {
    const value = await readJson(req)
    return typeof value === 'object' && value !== null ? value : {}
  }

  async function oidcCallback(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<number> {
    if (!oidc) throw new HttpProblem(400, 'no sign-in in progress: start at GET /auth/oidc')
    const { oauth } = await oidc
    const result = await oauth
      .callback('local', { params: url, cookieHeader: req.headers.cookie })
      .catch((err: unknown) => {
        // Any OAuth refusal (state replayed or missing, a bad ID token) is the client's 400.
        throw isBeaverError(err) && err.code.startsWith('OAUTH_')
          ? new HttpProblem(400, `sign-in failed: ${err.code}`)
          : err
      })
    const { email, emailVerified } = result.profile
    // Linked to an existing account by address only when the provider vouches for it.
    if (!email || !emailVerified) throw new HttpProblem(403, 'the provider gave no verified e-mail address')
    const user =
      (await auth.findUserByEmail(email)) ??
      (await auth.register(
        // The provider vouched for the address: the account starts verified, no mail.
        { email, password: randomToken(), roles: rolesFor(email), emailVerified: true },
        requestContext(req),
      ))
    const pair = await auth.signIn(user.id, { method: 'oidc:local' }, requestContext(req))
    res.appendHeader('set-cookie', result.clearCookie)
    await startSession(req, res, user.id)
    return sendJson(res, 200, pair)
  }

  /** A new session id for the user (never the one the request came with: fixation), its cookie on `res`. */
  async function startSession(req: http.IncomingMessage, res: http.ServerResponse, userId: string): Promise<void> {
    const session = await sessions.load(req)
    const device = req.headers['user-agent']?.slice(0, 200)
    await session.login(userId, {
      ...(device ? { device } : {}),
      ...(req.socket.remoteAddress ? { ip: req.socket.remoteAddress } : {}),
    })
    await sessions.commit(session, res)
  }

  async function handle(
    name: AccountEndpoint,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
  ): Promise<number> {
    switch (name) {
      case 'register': {
        // Enumeration-safe: the same answer and work whether the address has an account or not
        // (register() would answer 409 for a taken one); the mail says which, to its owner only.
        const { email, password } = await body(req)
        if (typeof email !== 'string' || typeof password !== 'string')
          throw new HttpProblem(400, 'send {"email": "...", "password": "..."}')
        await auth.requestSignUp({ email, password, roles: rolesFor(email) }, requestContext(req))
        return sendJson(res, 202, SIGN_UP_ANSWER)
      }
      case 'register-complete':
      case 'reset': {
        if (req.method === 'GET') return sendPage(res, tokenPage(name === 'reset' ? 'reset' : 'sign-up', tokenOf(url)))
        const { token, password } = await readForm(req)
        if (typeof token !== 'string') throw new HttpProblem(400, 'send the "token" of the mailed link')
        if (name === 'register-complete')
          return sendJson(res, 201, await auth.completeSignUp(token, requestContext(req)))
        if (typeof password !== 'string') throw new HttpProblem(400, 'send {"token": "...", "password": "..."}')
        await auth.resetPassword(token, password, requestContext(req))
        return sendJson(res, 200, { reset: true })
      }
      case 'login': {
        const { email, password } = await body(req)
        if (typeof email !== 'string' || typeof password !== 'string')
          throw new HttpProblem(400, 'send {"email": "...", "password": "..."}')
        const signedIn = await auth.login({ email, password }, requestContext(req))
        await startSession(req, res, signedIn.user.id)
        return sendJson(res, 200, signedIn)
      }
      case 'logout': {
        // Ends the browser session (its record and cookie); tokens end with their expiry or refresh family.
        const session = await sessions.load(req)
        const signedIn = session.userId !== undefined
        session.destroy()
        await sessions.commit(session, res)
        return sendJson(res, 200, { signedOut: signedIn })
      }
      case 'oidc': {
        if (!devOidc) throw new HttpProblem(404, 'OIDC sign-in runs in development only (BEAVER_DEMO_DEV_OIDC)')
        const redirectUri = new URL('/auth/oidc/callback', url).href
        const { oauth } = await startOidc(redirectUri)
        const { url: to, cookie } = await oauth.authorize('local', { redirectUri })
        res.writeHead(302, { location: to, 'set-cookie': cookie.header, 'cache-control': 'no-store' })
        res.end()
        return 302
      }
      case 'oidc-callback':
        return oidcCallback(req, res, url)
      case 'audit-verify': {
        await authorize(req, 'audit:read')
        const streams = await Promise.all((await audit.streams()).map((stream) => audit.verify({ stream })))
        return sendJson(res, 200, { ok: streams.every((s) => s.ok), streams })
      }
    }
  }

  const tokenOf = (url: URL): string => {
    const token = url.searchParams.get('token')
    if (!token) throw new HttpProblem(400, 'open the link from the mail: it carries a token')
    return token
  }

  function sendPage(res: http.ServerResponse, html: string): number {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      // The token is in this page's URL: never sent on as a Referer, and nothing runs here.
      'referrer-policy': 'no-referrer',
      'content-security-policy': "default-src 'none'; form-action 'self'; frame-ancestors 'none'",
    })
    res.end(html)
    return 200
  }

  async function authorize(req: http.IncomingMessage, permission: string): Promise<Principal> {
    try {
      return await auth.authorize(req as AuthRequest, { permissions: [permission] })
    } catch (err) {
      throw problemOf(err)
    }
  }

  return {
    auth,
    audit,
    sessions,
    principal,
    authorize,
    async record(req, event) {
      await audit.record({ stream: 'links', ...requestContext(req), ...event })
    },
    route: (name, req, res, url) => handle(name, req, res, url).catch((err: unknown) => Promise.reject(problemOf(err))),
    describe: () => [auth.describe(), audit.describe(), sessions.describe()],
    async close() {
      const started = await oidc?.catch(() => undefined)
      await Promise.all([auth.close(), started?.oauth.close(), started?.op.close()])
      await Promise.all([store.close(), audit.close(), sessions.close()])
    },
  }
}
