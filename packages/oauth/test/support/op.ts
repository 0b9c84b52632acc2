import { generateKeyPairSync, type JsonWebKey } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

/** A real OpenID Provider (oidc-provider) on 127.0.0.1:0 with one confidential client and devInteractions. */
export interface TestOp {
  issuer: string
  clientId: string
  clientSecret: string
  redirectUri: string
  /** The current signing key (private JWK, with kid and alg). */
  key: JsonWebKey & { kid: string }
  /** Replaces the OP by one whose JWKS has a new first key (the old one kept for verification). */
  rotateKeys(): JsonWebKey & { kid: string }
  close(): Promise<void>
}

let counter = 0
export function rsaJwk(): JsonWebKey & { kid: string } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  counter += 1
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `k${counter}-${Date.now().toString(36)}`,
    alg: 'RS256',
    use: 'sig',
  }
}

export async function startTestOp(options: { redirectUri?: string } = {}): Promise<TestOp> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end()
  const server = createServer((req, res) => handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clientId = 'beaver-test-client'
  const clientSecret = 'beaver-test-secret-0123456789abcdef'
  const redirectUri = options.redirectUri ?? 'http://127.0.0.1:9/auth/callback'
  let keys = [rsaJwk()]

  function build(): void {
    const op = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
        },
      ],
      jwks: { keys },
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
      findAccount: (_ctx: unknown, sub: string) => ({
        accountId: sub,
        claims: () => ({
          sub,
          email: `${sub}@example.test`,
          email_verified: sub !== 'unverified',
          name: `User ${sub}`,
          picture: `https://img.example.test/${sub}.png`,
        }),
      }),
      // HS256 announced on purpose: the client must still refuse HMAC-signed ID tokens.
      enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
      features: { devInteractions: { enabled: true }, revocation: { enabled: true } },
      issueRefreshToken: async () => true,
      pkce: { required: () => true },
      // Every scope asked is granted at once, so the flow is login then redirect.
      loadExistingGrant: async (ctx: {
        oidc: {
          client: { clientId: string }
          session: { accountId: string }
          provider: { Grant: new (o: object) => GrantLike }
          params: { scope?: string }
        }
      }) => {
        const grant = new ctx.oidc.provider.Grant({
          clientId: ctx.oidc.client.clientId,
          accountId: ctx.oidc.session.accountId,
        })
        grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid')
        grant.addOIDCClaims(['email', 'email_verified', 'name', 'picture'])
        await grant.save()
        return grant
      },
      ttl: {
        AccessToken: 3600,
        IdToken: 3600,
        RefreshToken: 86400,
        Interaction: 600,
        Session: 600,
        Grant: 86400,
        AuthorizationCode: 60,
      },
    } as never)
    op.on('server_error', (_ctx, err) => {
      if (process.env.OP_DEBUG) console.error('OP error', err)
    })
    handler = op.callback() as typeof handler
  }
  build()
  return {
    issuer,
    clientId,
    clientSecret,
    redirectUri,
    get key() {
      return keys[0] as JsonWebKey & { kid: string }
    },
    rotateKeys() {
      keys = [rsaJwk(), ...keys]
      build()
      return keys[0] as JsonWebKey & { kid: string }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

interface GrantLike {
  addOIDCScope(scope: string): void
  addOIDCClaims(claims: string[]): void
  save(): Promise<string>
}

/**
 * Plays the browser through the OP: follows redirects, posts the devInteractions login form
 * (any login, any password), and returns the redirect to the client's callback.
 */
export async function signInAt(authorizationUrl: string, redirectUri: string, login = 'alice'): Promise<URL> {
  const jar = new Map<string, string>()
  let url = new URL(authorizationUrl)
  let init: RequestInit = { method: 'GET' }
  for (let step = 0; step < 12; step++) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as object), ...(cookie ? { cookie } : {}) },
    })
    for (const set of res.headers.getSetCookie()) {
      const [pair = ''] = set.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const value = pair.slice(eq + 1)
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(set)) jar.delete(name)
      else jar.set(name, value)
    }
    const location = res.headers.get('location')
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel()
      const next = new URL(location, url)
      if (next.href.startsWith(redirectUri)) return next
      url = next
      init = { method: 'GET' }
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`The OP answered ${res.status}: ${html.slice(0, 300)}`)
    const action = /action="([^"]+)"/.exec(html)?.[1]
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1]
    if (!action || !prompt) throw new Error(`No interaction form in the OP page: ${html.slice(0, 300)}`)
    url = new URL(action.replaceAll('&amp;', '&'), url)
    const form: Record<string, string> = prompt === 'login' ? { prompt, login, password: 'any' } : { prompt }
    init = {
      method: 'POST',
      body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }
  }
  throw new Error('The sign-in at the OP did not reach the callback in 12 steps')
}
