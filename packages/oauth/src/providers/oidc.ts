import { oidcProfile } from '../profile.ts'
import type { ProviderSpec } from '../types.ts'
import { baseSpec, endpointOverrides, required, withDefaults, type ProviderInput } from './base.ts'

const OIDC_SCOPES = ['openid', 'email', 'profile']

/** Any OpenID Connect provider: endpoints and keys from `<issuer>/.well-known/openid-configuration`. */
export function oidcProvider(input: ProviderInput, type = 'oidc'): ProviderSpec {
  return {
    ...baseSpec(input, type),
    issuer: required(input, 'issuer', 'an issuer URL'),
    endpoints: endpointOverrides(input),
    scopes: input.scopes ?? OIDC_SCOPES,
    profile: oidcProfile,
  }
}

/** Google: OIDC at https://accounts.google.com; `email_verified` is reliable for Gmail and Workspace. */
export function googleProvider(input: ProviderInput): ProviderSpec {
  return oidcProvider(withDefaults(input, { issuer: 'https://accounts.google.com' }), 'google')
}

/**
 * Microsoft identity platform (v2.0). The multi-tenant issuer is `.../{tenantid}/v2.0`, checked
 * against the token's `tid`. Microsoft's `email` claim is not verified by Microsoft (any tenant
 * admin can set it), so `emailVerified` is false unless the token carries `xms_edov: true`.
 */
export function microsoftProvider(input: ProviderInput): ProviderSpec {
  const tenant = input.tenant ?? 'common'
  const spec = oidcProvider(
    withDefaults(input, { issuer: `https://login.microsoftonline.com/${tenant}/v2.0` }),
    'microsoft',
  )
  return {
    ...spec,
    issuerTemplate: true,
    async profile(ctx) {
      const profile = await oidcProfile(ctx)
      const claims = ctx.claims ?? {}
      const email =
        profile.email ??
        (typeof claims.preferred_username === 'string' && claims.preferred_username.includes('@')
          ? claims.preferred_username
          : undefined)
      return { ...profile, email, emailVerified: email !== undefined && claims.xms_edov === true }
    },
  }
}
