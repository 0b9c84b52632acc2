// Local stand-ins for social login providers, following their documented endpoints, for the
// oauth tests: GitHub (github.com/login/oauth/* and the REST API's /user, /user/emails,
// DELETE /applications/{client_id}/grant), Facebook (Graph /vNN.N/dialog/oauth,
// /vNN.N/oauth/access_token, /vNN.N/me with appsecret_proof, DELETE /me/permissions) and a small
// OpenID provider shaped like Apple's (client secret = ES256 JWT checked with the team's public
// key, `email_verified` as the string "true") or Microsoft's (`{tenantid}` issuer, `tid` claim).
// The authorize endpoints consent at once and redirect with a code; every code is single-use
// and checked against its PKCE challenge.
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One account of a local provider. */
export interface LocalAccount {
  id: string
  login?: string
  name?: string
  email?: string
  emailVerified?: boolean
  avatarUrl?: string
}

/** A running local provider. */
export interface LocalProviderServer {
  /** Base URL (http://127.0.0.1:port). */
  url: string
  clientId: string
  clientSecret: string
  /** Every request the server saw: method, path and, for form bodies, the field names and values. */
  readonly requests: {
    method: string
    path: string
    form: Record<string, string>
    headers: Record<string, string | string[] | undefined>
  }[]
  /** Tokens revoked so far. */
  readonly revoked: readonly string[]
  /** Sign in as this account on the next authorize (default: the first account). */
  signInAs(id: string): void
  close(): Promise<void>
}

interface CodeEntry {
  account: LocalAccount
  challenge: string | undefined
  redirectUri: string
  nonce: string | undefined
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

function pkceOk(entry: CodeEntry, verifier: string | undefined): boolean {
  if (entry.challenge === undefined) return true
  return verifier !== undefined && createHash('sha256').update(verifier).digest('base64url') === entry.challenge
}

interface Base {
  server: Server
  url: string
  requests: LocalProviderServer['requests']
  codes: Map<string, CodeEntry>
  tokens: Map<string, LocalAccount>
  refreshTokens: Map<string, LocalAccount>
  revoked: string[]
  current: () => LocalAccount
  signInAs(id: string): void
}

async function startBase(
  accounts: readonly LocalAccount[],
  handle: (
    b: Base,
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    form: Record<string, string>,
  ) => Promise<boolean> | boolean,
): Promise<Base> {
  let currentId = accounts[0]?.id
  const base = {
    requests: [],
    codes: new Map(),
    tokens: new Map(),
    refreshTokens: new Map(),
    revoked: [],
    current: () => accounts.find((a) => a.id === currentId) ?? (accounts[0] as LocalAccount),
    signInAs(id: string) {
      currentId = id
    },
  } as unknown as Base
  base.server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', base.url)
      const text = await readBody(req)
      const form = (req.headers['content-type'] ?? '').includes('application/x-www-form-urlencoded')
        ? Object.fromEntries(new URLSearchParams(text))
        : (req.headers['content-type'] ?? '').includes('application/json') && text !== ''
          ? (JSON.parse(text) as Record<string, string>)
          : {}
      base.requests.push({ method: req.method ?? 'GET', path: url.pathname, form, headers: req.headers })
      if (!(await handle(base, req, res, url, form))) json(res, 404, { message: 'Not Found' })
    })().catch((err: unknown) => json(res, 500, { error: String(err) }))
  })
  await new Promise<void>((resolve) => base.server.listen(0, '127.0.0.1', resolve))
  base.url = `http://127.0.0.1:${(base.server.address() as AddressInfo).port}`
  return base
}

/** The authorize step: consent at once and redirect back with a single-use code. */
function authorize(b: Base, res: ServerResponse, url: URL, clientId: string): void {
  const q = url.searchParams
  const redirectUri = q.get('redirect_uri') ?? ''
  if (q.get('client_id') !== clientId || redirectUri === '') return json(res, 400, { error: 'invalid_request' })
  if (q.get('code_challenge') !== null && q.get('code_challenge_method') !== 'S256')
    return json(res, 400, { error: 'invalid_request' })
  const code = b64url(randomBytes(16))
  b.codes.set(code, {
    account: b.current(),
    challenge: q.get('code_challenge') ?? undefined,
    redirectUri,
    nonce: q.get('nonce') ?? undefined,
  })
  const back = new URL(redirectUri)
  back.searchParams.set('code', code)
  back.searchParams.set('state', q.get('state') ?? '')
  res.writeHead(302, { location: back.href }).end()
}

function takeCode(b: Base, form: Record<string, string>): CodeEntry | undefined {
  const entry = form.code === undefined ? undefined : b.codes.get(form.code)
  if (entry === undefined) return undefined
  b.codes.delete(form.code as string)
  if (!pkceOk(entry, form.code_verifier) || form.redirect_uri !== entry.redirectUri) return undefined
  return entry
}

function bearer(b: Base, req: IncomingMessage): LocalAccount | undefined {
  const h = req.headers.authorization ?? ''
  return h.startsWith('Bearer ') ? b.tokens.get(h.slice(7)) : undefined
}

function issueTokens(b: Base, account: LocalAccount): { access: string; refresh: string } {
  const access = `at_${b64url(randomBytes(12))}`
  const refresh = `rt_${b64url(randomBytes(12))}`
  b.tokens.set(access, account)
  b.refreshTokens.set(refresh, account)
  return { access, refresh }
}

function finish(b: Base, clientId: string, clientSecret: string): LocalProviderServer {
  return {
    url: b.url,
    clientId,
    clientSecret,
    requests: b.requests,
    revoked: b.revoked,
    signInAs: (id) => b.signInAs(id),
    close: () =>
      new Promise<void>((resolve) => {
        b.server.closeAllConnections()
        b.server.close(() => resolve())
      }),
  }
}

/**
 * GitHub's OAuth endpoints and user API on one server: `/login/oauth/authorize`,
 * `POST /login/oauth/access_token` (client_secret_post; errors as 200 + `error`, as GitHub does;
 * expiring user tokens with refresh when `expiring: true`), `GET /user`, `GET /user/emails`,
 * `DELETE /applications/{client_id}/grant` (Basic auth, `access_token` in the JSON body).
 */
export async function startGitHubServer(options: {
  accounts: readonly LocalAccount[]
  expiring?: boolean
  clientId?: string
  clientSecret?: string
}): Promise<LocalProviderServer> {
  const clientId = options.clientId ?? 'Iv1.testclient'
  const clientSecret = options.clientSecret ?? 'github-test-secret'
  const b = await startBase(options.accounts, (b, req, res, url, form) => {
    if (url.pathname === '/login/oauth/authorize') return (authorize(b, res, url, clientId), true)
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      if (form.client_id !== clientId || form.client_secret !== clientSecret)
        return (
          json(res, 200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          }),
          true
        )
      let account: LocalAccount | undefined
      if (form.grant_type === 'refresh_token') {
        account = b.refreshTokens.get(form.refresh_token ?? '')
        b.refreshTokens.delete(form.refresh_token ?? '')
        if (!account) return (json(res, 200, { error: 'bad_refresh_token' }), true)
      } else {
        account = takeCode(b, form)?.account
        if (!account)
          return (
            json(res, 200, {
              error: 'bad_verification_code',
              error_description: 'The code passed is incorrect or expired.',
            }),
            true
          )
      }
      const t = issueTokens(b, account)
      const wantsJson = (req.headers.accept ?? '').includes('application/json')
      const body: Record<string, string | number> = {
        access_token: t.access,
        token_type: 'bearer',
        scope: 'read:user,user:email',
      }
      if (options.expiring)
        Object.assign(body, { expires_in: 28800, refresh_token: t.refresh, refresh_token_expires_in: 15897600 })
      if (wantsJson) json(res, 200, body)
      else
        res
          .writeHead(200, { 'content-type': 'application/x-www-form-urlencoded' })
          .end(new URLSearchParams(body as Record<string, string>).toString())
      return true
    }
    if (url.pathname === '/user' && req.method === 'GET') {
      const a = bearer(b, req)
      if (!a) return (json(res, 401, { message: 'Bad credentials' }), true)
      json(res, 200, {
        login: a.login ?? a.id,
        id: Number(a.id),
        avatar_url: a.avatarUrl ?? null,
        name: a.name ?? null,
        email: null,
      })
      return true
    }
    if (url.pathname === '/user/emails' && req.method === 'GET') {
      const a = bearer(b, req)
      if (!a) return (json(res, 401, { message: 'Bad credentials' }), true)
      json(
        res,
        200,
        a.email
          ? [
              { email: `${a.id}@users.noreply.github.com`, primary: false, verified: true, visibility: null },
              { email: a.email, primary: true, verified: a.emailVerified ?? false, visibility: 'private' },
            ]
          : [],
      )
      return true
    }
    if (url.pathname === `/applications/${clientId}/grant` && req.method === 'DELETE') {
      const basic = `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`
      if (req.headers.authorization !== basic) return (json(res, 401, { message: 'Requires authentication' }), true)
      if (!b.tokens.has(form.access_token ?? '')) return (json(res, 404, { message: 'Not Found' }), true)
      b.tokens.delete(form.access_token as string)
      b.revoked.push(form.access_token as string)
      res.writeHead(204).end()
      return true
    }
    return false
  })
  return finish(b, clientId, clientSecret)
}

/**
 * Facebook Login on the Graph API: `/vNN.N/dialog/oauth`, `/vNN.N/oauth/access_token` (GET or
 * POST), `/vNN.N/me?fields=...` (refused without a correct `appsecret_proof`),
 * `DELETE /vNN.N/me/permissions`.
 */
export async function startFacebookServer(options: {
  accounts: readonly LocalAccount[]
  version?: string
  clientId?: string
  clientSecret?: string
}): Promise<LocalProviderServer> {
  const clientId = options.clientId ?? '1234567890'
  const clientSecret = options.clientSecret ?? 'facebook-test-secret'
  const v = options.version ?? 'v19.0'
  const proofOk = (token: string, proof: string | null): boolean =>
    proof === createHmac('sha256', clientSecret).update(token).digest('hex')
  const graphError = (res: ServerResponse, status: number, message: string, code: number): boolean => (
    json(res, status, { error: { message, type: 'OAuthException', code, fbtrace_id: 'test' } }),
    true
  )
  const b = await startBase(options.accounts, (b, req, res, url, form) => {
    if (url.pathname === `/${v}/dialog/oauth`) return (authorize(b, res, url, clientId), true)
    if (url.pathname === `/${v}/oauth/access_token`) {
      const p = { ...Object.fromEntries(url.searchParams), ...form }
      if (p.client_id !== clientId || p.client_secret !== clientSecret)
        return graphError(res, 400, 'Error validating client secret.', 1)
      const account = takeCode(b, p)?.account
      if (!account) return graphError(res, 400, 'This authorization code has been used.', 100)
      const t = issueTokens(b, account)
      json(res, 200, { access_token: t.access, token_type: 'bearer', expires_in: 5183944 })
      return true
    }
    const token =
      (req.headers.authorization ?? '').replace(/^Bearer /, '') || (url.searchParams.get('access_token') ?? '')
    if (url.pathname === `/${v}/me` && req.method === 'GET') {
      const a = b.tokens.get(token)
      if (!a) return graphError(res, 400, 'Invalid OAuth access token.', 190)
      if (!proofOk(token, url.searchParams.get('appsecret_proof')))
        return graphError(res, 400, 'Invalid appsecret_proof provided in the API argument', 100)
      const fields = (url.searchParams.get('fields') ?? 'id,name').split(',').map((f) => f.split('.')[0])
      const all: Record<string, unknown> = {
        id: a.id,
        name: a.name,
        email: a.email,
        picture: {
          data: {
            url: a.avatarUrl ?? 'https://static.example/silhouette.png',
            is_silhouette: a.avatarUrl === undefined,
            height: 200,
            width: 200,
          },
        },
      }
      json(
        res,
        200,
        Object.fromEntries(
          fields.filter((f) => f !== undefined && all[f] !== undefined).map((f) => [f, all[f as string]]),
        ),
      )
      return true
    }
    if (url.pathname === `/${v}/me/permissions` && req.method === 'DELETE') {
      if (!b.tokens.has(token) || !proofOk(token, url.searchParams.get('appsecret_proof')))
        return graphError(res, 400, 'Invalid OAuth access token.', 190)
      b.tokens.delete(token)
      b.revoked.push(token)
      json(res, 200, { success: true })
      return true
    }
    return false
  })
  return finish(b, clientId, clientSecret)
}

/** A small OpenID provider shaped like Apple's or Microsoft's (see the file comment). */
export interface LocalOidcServer extends LocalProviderServer {
  /** The issuer to configure (Apple: the base URL; Microsoft: `<base>/<tenant>/v2.0`). */
  issuer: string
  /** Signs an ID token with the server key (for tests that need a token outside the flow). */
  signIdToken(claims: Record<string, unknown>): string
}

/**
 * Apple mode: the token endpoint takes `client_secret` as an ES256 JWT (kid = `keyId`, iss =
 * `teamId`, sub = client id, aud = https://appleid.apple.com), verified with `applePublicKey`.
 * Microsoft mode: discovery names the issuer `<base>/{tenantid}/v2.0`; tokens carry `tid` and
 * their issuer with the tenant filled in; `email` is unverified (no `email_verified`).
 */
export async function startOidcLikeServer(options: {
  mode: 'apple' | 'microsoft'
  accounts: readonly LocalAccount[]
  clientId?: string
  applePublicKey?: KeyObject
  teamId?: string
  keyId?: string
  tenantId?: string
}): Promise<LocalOidcServer> {
  const clientId =
    options.clientId ?? (options.mode === 'apple' ? 'com.example.web' : '00000000-aaaa-bbbb-cccc-000000000001')
  const clientSecret = options.mode === 'apple' ? '(an ES256 JWT)' : 'microsoft-test-secret'
  const tenantId = options.tenantId ?? '9188040d-6c67-4c5b-b112-36a304b66dad'
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `kid-${b64url(randomBytes(6))}`
  let base = ''
  const tokenIssuer = (): string => (options.mode === 'apple' ? base : `${base}/${tenantId}/v2.0`)
  const signIdToken = (claims: Record<string, unknown>): string => {
    const input = `${b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`
    return `${input}.${b64url(sign('sha256', Buffer.from(input), privateKey))}`
  }
  const clientSecretOk = (secret: string | undefined, authorization?: string): boolean => {
    if (options.mode !== 'apple')
      return (
        secret === clientSecret ||
        authorization === `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`
      )
    const parts = (secret ?? '').split('.')
    if (parts.length !== 3 || !options.applePublicKey) return false
    const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString()) as { alg?: string; kid?: string }
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString()) as Record<string, unknown>
    const signed = verify(
      'sha256',
      Buffer.from(`${parts[0]}.${parts[1]}`),
      { key: options.applePublicKey, dsaEncoding: 'ieee-p1363' },
      Buffer.from(parts[2] as string, 'base64url'),
    )
    const now = Date.now() / 1000
    return (
      signed &&
      header.alg === 'ES256' &&
      header.kid === options.keyId &&
      claims.iss === options.teamId &&
      claims.sub === clientId &&
      claims.aud === 'https://appleid.apple.com' &&
      typeof claims.exp === 'number' &&
      claims.exp > now &&
      claims.exp - now <= 15777000
    )
  }
  const b = await startBase(options.accounts, (b, req, res, url, form) => {
    const prefix = options.mode === 'apple' ? '' : `/${tenantId === 'common' ? 'common' : tenantId}/v2.0`
    if (
      url.pathname === `${prefix}/.well-known/openid-configuration` ||
      url.pathname === '/common/v2.0/.well-known/openid-configuration'
    ) {
      json(res, 200, {
        issuer: options.mode === 'apple' ? base : `${base}/{tenantid}/v2.0`,
        authorization_endpoint: `${base}/auth/authorize`,
        token_endpoint: `${base}/auth/token`,
        revocation_endpoint: `${base}/auth/revoke`,
        jwks_uri: `${base}/auth/keys`,
        response_types_supported: ['code'],
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'name'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
      })
      return true
    }
    if (url.pathname === '/auth/keys') {
      json(res, 200, {
        keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }],
      })
      return true
    }
    if (url.pathname === '/auth/authorize') {
      if (
        options.mode === 'apple' &&
        url.searchParams.get('response_mode') !== 'form_post' &&
        (url.searchParams.get('scope') ?? '') !== ''
      )
        return (
          json(res, 400, {
            error: 'invalid_request',
            error_description: 'response_mode must be form_post when name or email scope is requested',
          }),
          true
        )
      return (authorize(b, res, url, clientId), true)
    }
    if (url.pathname === '/auth/token' && req.method === 'POST') {
      if (
        (form.client_id !== undefined && form.client_id !== clientId) ||
        !clientSecretOk(form.client_secret, req.headers.authorization)
      )
        return (json(res, 400, { error: 'invalid_client' }), true)
      let account: LocalAccount | undefined
      let nonce: string | undefined
      if (form.grant_type === 'refresh_token') {
        account = b.refreshTokens.get(form.refresh_token ?? '')
        if (!account) return (json(res, 400, { error: 'invalid_grant' }), true)
      } else {
        const entry = takeCode(b, form)
        if (!entry) return (json(res, 400, { error: 'invalid_grant' }), true)
        account = entry.account
        nonce = entry.nonce
      }
      const t = issueTokens(b, account)
      const now = Math.floor(Date.now() / 1000)
      const claims: Record<string, unknown> = {
        iss: tokenIssuer(),
        aud: clientId,
        sub: account.id,
        iat: now,
        exp: now + 600,
        ...(nonce ? { nonce } : {}),
      }
      if (options.mode === 'apple') {
        if (account.email)
          Object.assign(claims, {
            email: account.email,
            email_verified: String(account.emailVerified ?? true),
            is_private_email: 'false',
          })
      } else {
        Object.assign(claims, {
          tid: tenantId,
          name: account.name,
          preferred_username: account.email,
          ...(account.email ? { email: account.email } : {}),
        })
      }
      json(res, 200, {
        access_token: t.access,
        token_type: 'Bearer',
        expires_in: 3600,
        id_token: signIdToken(claims),
        ...(form.grant_type === 'refresh_token' ? {} : { refresh_token: t.refresh }),
      })
      return true
    }
    if (url.pathname === '/auth/revoke' && req.method === 'POST') {
      if (
        (form.client_id !== undefined && form.client_id !== clientId) ||
        !clientSecretOk(form.client_secret, req.headers.authorization)
      )
        return (json(res, 400, { error: 'invalid_client' }), true)
      b.refreshTokens.delete(form.token ?? '')
      b.tokens.delete(form.token ?? '')
      b.revoked.push(form.token ?? '')
      res.writeHead(200).end()
      return true
    }
    return false
  })
  base = b.url
  return {
    ...finish(b, clientId, clientSecret),
    issuer: options.mode === 'apple' ? base : `${base}/${tenantId}/v2.0`,
    signIdToken,
  }
}
