import { OAuthError } from './errors.ts'
import type { OAuthProfile, ProfileContext } from './types.ts'

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** GET a JSON object with the access token; a non-200 answer is OAUTH_USERINFO_FAILED. */
export async function fetchUserJson(
  ctx: Pick<ProfileContext, 'provider' | 'transport' | 'signal' | 'tokens'>,
  url: string,
  headers: Record<string, string> = {},
): Promise<unknown> {
  let res: { status: number; body: unknown }
  try {
    res = await ctx.transport.getJson(
      url,
      { authorization: `Bearer ${ctx.tokens.accessToken}`, ...headers },
      ctx.signal,
    )
  } catch (err) {
    throw new OAuthError(
      'OAUTH_USERINFO_FAILED',
      `Reading the user from ${ctx.provider} failed: ${(err as Error).message}`,
      {
        cause: err,
        details: { provider: ctx.provider },
      },
    )
  }
  if (res.status !== 200 || typeof res.body !== 'object' || res.body === null)
    throw new OAuthError('OAUTH_USERINFO_FAILED', `${ctx.provider} answered HTTP ${res.status} for the user`, {
      details: { provider: ctx.provider, status: res.status, url: new URL(url).pathname },
    })
  return res.body
}

/** `email_verified` is a boolean in the spec; Apple (and some others) send the string "true". */
export function verifiedFlag(value: unknown): boolean {
  return value === true || value === 'true'
}

/**
 * The profile from OIDC claims, completed by the userinfo endpoint when the ID token lacks the
 * email (the userinfo `sub` must be the ID token's, OIDC Core 5.3.2).
 */
export async function oidcProfile(ctx: ProfileContext): Promise<OAuthProfile> {
  let claims: Record<string, unknown> = { ...ctx.claims }
  const sub = str(claims.sub)
  if (sub === undefined)
    throw new OAuthError('OAUTH_ID_TOKEN_INVALID', `The ID token from ${ctx.provider} has no "sub"`)
  if (claims.email === undefined && ctx.endpoints.userinfo !== undefined) {
    const info = (await fetchUserJson(ctx, ctx.endpoints.userinfo)) as Record<string, unknown>
    if (info.sub !== sub)
      throw new OAuthError('OAUTH_USERINFO_FAILED', `The userinfo of ${ctx.provider} is about another subject`, {
        details: { provider: ctx.provider },
      })
    claims = { ...info, ...claims }
  }
  const email = str(claims.email)
  return {
    provider: ctx.provider,
    id: sub,
    email,
    emailVerified: email !== undefined && verifiedFlag(claims.email_verified),
    name:
      str(claims.name) ?? ([str(claims.given_name), str(claims.family_name)].filter(Boolean).join(' ') || undefined),
    avatarUrl: str(claims.picture),
    raw: claims,
  }
}
