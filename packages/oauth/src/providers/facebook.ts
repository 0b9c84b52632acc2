import { createHmac } from 'node:crypto'
import { OAuthError } from '../errors.ts'
import { fetchUserJson, str } from '../profile.ts'
import type { ProviderSpec } from '../types.ts'
import { baseSpec, endpointOverrides, required, type ProviderInput } from './base.ts'

/**
 * Facebook Login: plain OAuth2 on the Graph API (`/oauth/access_token`, `/me?fields=...`), every
 * Graph call signed with `appsecret_proof`. Facebook does not say whether it verified the email,
 * so `emailVerified` is false: link such accounts only after the user confirms.
 */
export function facebookProvider(input: ProviderInput): ProviderSpec {
  const version = input.apiVersion ?? 'v19.0'
  const graph = `${(input.apiUrl ?? 'https://graph.facebook.com').replace(/\/$/, '')}/${version}`
  const secret = (): string => required(input, 'clientSecret', 'an app secret')
  const proof = (token: string): string => createHmac('sha256', secret()).update(token).digest('hex')
  const spec: ProviderSpec = {
    ...baseSpec(input, 'facebook'),
    issuer: undefined,
    clientAuth: input.tokenAuth ?? 'client_secret_post',
    endpoints: {
      authorization: `https://www.facebook.com/${version}/dialog/oauth`,
      token: `${graph}/oauth/access_token`,
      userinfo: `${graph}/me`,
      ...endpointOverrides(input),
    },
    scopes: input.scopes ?? ['email', 'public_profile'],
    scopeSeparator: ',',
    async profile(ctx) {
      const token = ctx.tokens.accessToken
      const fields = 'id,name,email,picture.type(large)'
      const me = (await fetchUserJson(
        ctx,
        `${graph}/me?fields=${encodeURIComponent(fields)}&appsecret_proof=${proof(token)}`,
      )) as Record<string, unknown>
      const id = str(me.id)
      if (id === undefined)
        throw new OAuthError('OAUTH_USERINFO_FAILED', 'Facebook answered /me without an id', {
          details: { provider: ctx.provider },
        })
      const picture = (me.picture as { data?: { url?: unknown; is_silhouette?: unknown } } | undefined)?.data
      return {
        provider: ctx.provider,
        id,
        email: str(me.email),
        emailVerified: false,
        name: str(me.name),
        avatarUrl: picture?.is_silhouette === true ? undefined : str(picture?.url),
        raw: me,
      }
    },
    async revoke({ token, transport, signal }) {
      const res = await transport.request(
        'DELETE',
        `${graph}/me/permissions?appsecret_proof=${proof(token)}`,
        { authorization: `Bearer ${token}` },
        signal,
      )
      if (res.status !== 200)
        throw new OAuthError(
          'OAUTH_PROVIDER_ERROR',
          `Facebook refused to revoke the permissions (HTTP ${res.status})`,
          {
            details: { provider: spec.name, status: res.status },
          },
        )
    },
  }
  return spec
}
