import { OAuthError } from '../errors.ts'
import { fetchUserJson, str } from '../profile.ts'
import type { OAuthProfile, ProviderSpec } from '../types.ts'
import { baseSpec, required, type ProviderInput } from './base.ts'

/** Any OAuth2 provider without OIDC: endpoints from settings, the profile from a userinfo URL mapped by `mapProfile`. */
export function oauth2Provider(
  input: ProviderInput,
  mapProfile?: (raw: Record<string, unknown>) => Partial<Omit<OAuthProfile, 'provider' | 'raw'>>,
): ProviderSpec {
  const userinfo = required(input, 'apiUrl', 'a userinfo URL (the user API)')
  return {
    ...baseSpec(input, 'oauth2'),
    issuer: undefined,
    endpoints: {
      authorization: required(input, 'authorizationUrl', 'an authorization endpoint'),
      token: required(input, 'tokenUrl', 'a token endpoint'),
      userinfo,
    },
    scopes: input.scopes ?? [],
    async profile(ctx) {
      const raw = (await fetchUserJson(ctx, userinfo)) as Record<string, unknown>
      const mapped = mapProfile?.(raw) ?? {}
      const id = mapped.id ?? str(raw.sub) ?? (typeof raw.id === 'number' ? String(raw.id) : str(raw.id))
      if (id === undefined)
        throw new OAuthError('OAUTH_USERINFO_FAILED', `The user API of ${ctx.provider} gave no id (sub or id)`, {
          details: { provider: ctx.provider },
        })
      const email = mapped.email ?? str(raw.email)
      return {
        provider: ctx.provider,
        id,
        email,
        emailVerified: mapped.emailVerified ?? (email !== undefined && raw.email_verified === true),
        name: mapped.name ?? str(raw.name),
        avatarUrl: mapped.avatarUrl ?? str(raw.picture) ?? str(raw.avatar_url),
        raw,
      }
    },
  }
}
