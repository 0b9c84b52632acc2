// A small OpenID provider shaped like Apple's (client secret = ES256 JWT checked with the
// team's public key, `email_verified` as the string "true") or Microsoft's (`{tenantid}`
// issuer, `tid` claim).
import { generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import {
  b64url,
  json,
  startBase,
  authorize,
  takeCode,
  issueTokens,
  finish,
  type LocalAccount,
  type LocalProviderServer,
} from './base.ts'

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
