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

// The browser walk through an OP's login pages lives in testkit, shared with the demo's tests.
export { signInAt } from '@beaver-kit/testkit/oauth-servers'
