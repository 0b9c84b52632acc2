import { OAuthError } from '../errors.ts'
import { fetchUserJson, str } from '../profile.ts'
import { clientAuthentication } from '../token-endpoint.ts'
import type { ProviderSpec } from '../types.ts'
import { baseSpec, endpointOverrides, type ProviderInput } from './base.ts'

const GITHUB_HEADERS = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }

/**
 * GitHub (OAuth apps and GitHub apps): plain OAuth2, the user from `GET /user`, the email from
 * `GET /user/emails` (the primary one, verified flag as GitHub states it).
 */
export function githubProvider(input: ProviderInput): ProviderSpec {
  const api = (input.apiUrl ?? 'https://api.github.com').replace(/\/$/, '')
  const spec: ProviderSpec = {
    ...baseSpec(input, 'github'),
    issuer: undefined,
    clientAuth: input.tokenAuth ?? 'client_secret_post',
    endpoints: {
      authorization: 'https://github.com/login/oauth/authorize',
      token: 'https://github.com/login/oauth/access_token',
      userinfo: `${api}/user`,
      ...endpointOverrides(input),
    },
    scopes: input.scopes ?? ['read:user', 'user:email'],
    async profile(ctx) {
      const user = (await fetchUserJson(ctx, `${api}/user`, GITHUB_HEADERS)) as Record<string, unknown>
      if (typeof user.id !== 'number' && typeof user.id !== 'string')
        throw new OAuthError('OAUTH_USERINFO_FAILED', 'GitHub answered /user without an id', {
          details: { provider: ctx.provider },
        })
      // /user/emails needs the user:email scope; without it only a public, unverified-by-us email is known.
      let email: string | undefined
      let emailVerified = false
      let emails: unknown
      try {
        emails = await fetchUserJson(ctx, `${api}/user/emails`, GITHUB_HEADERS)
      } catch {
        emails = undefined
      }
      if (Array.isArray(emails)) {
        const primary = emails.find((e: { primary?: unknown }) => e.primary === true) as
          { email?: unknown; verified?: unknown } | undefined
        email = str(primary?.email)
        emailVerified = email !== undefined && primary?.verified === true
      }
      email ??= str(user.email)
      return {
        provider: ctx.provider,
        id: String(user.id),
        email,
        emailVerified,
        name: str(user.name) ?? str(user.login),
        avatarUrl: str(user.avatar_url),
        raw: { ...user, ...(Array.isArray(emails) ? { emails } : {}) },
      }
    },
    async revoke({ token, transport, signal }) {
      // DELETE /applications/{client_id}/grant revokes the grant (every token of the user for this app).
      const auth = clientAuthentication({ ...spec, clientAuth: 'client_secret_basic' })
      const res = await transport.request(
        'DELETE',
        `${api}/applications/${encodeURIComponent(spec.clientId)}/grant`,
        { ...GITHUB_HEADERS, ...auth.headers },
        signal,
        { access_token: token },
      )
      if (res.status !== 204 && res.status !== 404)
        throw new OAuthError('OAUTH_PROVIDER_ERROR', `GitHub refused to revoke the grant (HTTP ${res.status})`, {
          details: { provider: spec.name, status: res.status },
        })
    },
  }
  return spec
}
