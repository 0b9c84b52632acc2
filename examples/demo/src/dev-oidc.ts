import http from 'node:http'
import { once } from 'node:events'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

/** The local OpenID Provider the demo signs in with in development: any login name, any password. */
export interface DevOidc {
  issuer: string
  clientId: string
  clientSecret: string
  close(): Promise<void>
}

interface GrantLike {
  addOIDCScope(scope: string): void
  addOIDCClaims(claims: string[]): void
  save(): Promise<string>
}

interface InteractionContext {
  oidc: {
    client: { clientId: string }
    session: { accountId: string }
    provider: { Grant: new (o: object) => GrantLike }
    params: { scope?: string }
  }
}

/**
 * Starts oidc-provider (a certified OpenID Provider) on 127.0.0.1 with one confidential client
 * whose redirect is the demo's callback. Its login page (devInteractions) takes any name and
 * password and says `<name>@example.test`, verified: a stand-in for Google or Microsoft that
 * needs no account and no network, never for production.
 */
export async function startDevOidc(redirectUri: string): Promise<DevOidc> {
  let handle: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_req, res) => res.end()
  const server = http.createServer((req, res) => handle(req, res))
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const clientId = 'beaver-links'
  const clientSecret = randomBytes(24).toString('base64url')
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    // Keys of this process, so nothing is shared with (or warned about as) a development default.
    jwks: {
      keys: [
        {
          ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
          kid: 'dev',
          alg: 'RS256',
          use: 'sig',
        },
      ],
    },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    findAccount: (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: () => ({ sub, email: `${sub}@example.test`, email_verified: true, name: sub }),
    }),
    features: { devInteractions: { enabled: true } },
    ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    pkce: { required: () => true },
    // Consent is granted at once: the flow is the login page, then back to the demo.
    loadExistingGrant: async (ctx: InteractionContext) => {
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      })
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid')
      grant.addOIDCClaims(['email', 'email_verified', 'name'])
      await grant.save()
      return grant
    },
  })
  handle = provider.callback()
  return {
    issuer,
    clientId,
    clientSecret,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
