import { createJwt, type Jwt } from '@beaver-kit/krypto'
import { oidcProfile, str } from '../profile.ts'
import type { ProviderSpec } from '../types.ts'
import { required, withDefaults, type ProviderInput } from './base.ts'
import { oidcProvider } from './oidc.ts'

const APPLE_ISSUER = 'https://appleid.apple.com'
// Apple accepts client secrets valid up to 6 months; a short one signed on demand leaks less.
const SECRET_LIFETIME_S = 300

/**
 * Sign in with Apple: OIDC at https://appleid.apple.com, the client secret an ES256 JWT signed
 * with the team's key (iss team id, sub Services ID, aud Apple), and `response_mode=form_post`
 * (the callback is a cross-site POST, so the binding cookie is SameSite=None; Secure). The
 * user's name arrives once, in the `user` form field of the first callback.
 */
export function appleProvider(input: ProviderInput, now: () => number = Date.now): ProviderSpec {
  const teamId = required(input, 'teamId', 'the Apple team id')
  const keyId = required(input, 'keyId', 'the Sign in with Apple key id')
  const privateKey = required(input, 'privateKey', 'the Sign in with Apple private key (PKCS#8 PEM)')
  const signer: Jwt = createJwt({
    keys: [{ key: privateKey, kid: keyId, alg: 'ES256' }],
    issuer: teamId,
    audience: APPLE_ISSUER,
    expiresIn: `${SECRET_LIFETIME_S}s`,
    jti: false,
    now,
  })
  let cached: { secret: string; until: number } | undefined
  const spec = oidcProvider(withDefaults(input, { issuer: APPLE_ISSUER, scopes: ['name', 'email'] }), 'apple')
  return {
    ...spec,
    clientAuth: input.tokenAuth ?? 'client_secret_post',
    clientSecret: () => {
      const t = now()
      if (cached === undefined || t >= cached.until) {
        cached = { secret: signer.sign({}, { subject: spec.clientId }), until: t + (SECRET_LIFETIME_S - 60) * 1000 }
      }
      return cached.secret
    },
    authParams: { response_mode: 'form_post' },
    async profile(ctx) {
      const profile = await oidcProfile({ ...ctx, endpoints: { ...ctx.endpoints, userinfo: undefined } })
      let name = profile.name
      const user = ctx.params.get('user')
      if (name === undefined && user !== null && user.length < 4096) {
        try {
          const parsed = JSON.parse(user) as { name?: { firstName?: unknown; lastName?: unknown } }
          name = [str(parsed.name?.firstName), str(parsed.name?.lastName)].filter(Boolean).join(' ') || undefined
        } catch {
          // A malformed `user` field only loses the name; the identity comes from the verified ID token.
        }
      }
      return { ...profile, name }
    },
  }
}
