// What the local provider servers share: accounts, single-use codes checked against their
// PKCE challenge, the consenting authorize endpoint, bearer tokens, and starting a server.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

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

export interface CodeEntry {
  account: LocalAccount
  challenge: string | undefined
  redirectUri: string
  nonce: string | undefined
}

export const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url')

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

export function pkceOk(entry: CodeEntry, verifier: string | undefined): boolean {
  if (entry.challenge === undefined) return true
  return verifier !== undefined && createHash('sha256').update(verifier).digest('base64url') === entry.challenge
}

export interface Base {
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

export async function startBase(
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
export function authorize(b: Base, res: ServerResponse, url: URL, clientId: string): void {
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

export function takeCode(b: Base, form: Record<string, string>): CodeEntry | undefined {
  const entry = form.code === undefined ? undefined : b.codes.get(form.code)
  if (entry === undefined) return undefined
  b.codes.delete(form.code as string)
  if (!pkceOk(entry, form.code_verifier) || form.redirect_uri !== entry.redirectUri) return undefined
  return entry
}

export function bearer(b: Base, req: IncomingMessage): LocalAccount | undefined {
  const h = req.headers.authorization ?? ''
  return h.startsWith('Bearer ') ? b.tokens.get(h.slice(7)) : undefined
}

export function issueTokens(b: Base, account: LocalAccount): { access: string; refresh: string } {
  const access = `at_${b64url(randomBytes(12))}`
  const refresh = `rt_${b64url(randomBytes(12))}`
  b.tokens.set(access, account)
  b.refreshTokens.set(refresh, account)
  return { access, refresh }
}

export function finish(b: Base, clientId: string, clientSecret: string): LocalProviderServer {
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
