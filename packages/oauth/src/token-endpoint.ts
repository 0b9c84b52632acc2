import { OAuthError } from './errors.ts'
import type { ProviderTransport } from './transport.ts'
import type { OAuthTokens, ProviderSpec } from './types.ts'

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)

/** The client secret of a spec now (Apple's is a JWT signed per call). */
export function secretOf(spec: ProviderSpec): string | undefined {
  return typeof spec.clientSecret === 'function' ? spec.clientSecret() : spec.clientSecret
}

/** Client authentication for the token and revocation endpoints (RFC 6749 2.3.1). */
export function clientAuthentication(spec: ProviderSpec): {
  form: Record<string, string>
  headers: Record<string, string>
} {
  const secret = secretOf(spec)
  if (secret === undefined) return { form: { client_id: spec.clientId }, headers: {} }
  if (spec.clientAuth === 'client_secret_post')
    return { form: { client_id: spec.clientId, client_secret: secret }, headers: {} }
  const encode = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+')
  const basic = Buffer.from(`${encode(spec.clientId)}:${encode(secret)}`).toString('base64')
  return { form: {}, headers: { authorization: `Basic ${basic}` } }
}

/**
 * One token request. An OAuth error answer (`invalid_grant`, ...) becomes OAUTH_TOKEN_REQUEST_FAILED
 * with the provider's error code in `details`; the response body itself (which may hold tokens
 * or secrets) is never put in a message.
 */
export async function requestTokens(
  spec: ProviderSpec,
  tokenUrl: string,
  transport: ProviderTransport,
  form: Record<string, string>,
  now: () => number,
  signal: AbortSignal | undefined,
): Promise<OAuthTokens> {
  const auth = clientAuthentication(spec)
  let res: { status: number; body: unknown }
  try {
    res = await transport.postForm(tokenUrl, { ...form, ...auth.form }, auth.headers, signal)
  } catch (err) {
    throw new OAuthError(
      'OAUTH_TOKEN_REQUEST_FAILED',
      `The token request to ${spec.name} failed: ${(err as Error).message}`,
      {
        cause: err,
        details: { provider: spec.name, grant: form.grant_type },
      },
    )
  }
  const body = (typeof res.body === 'object' && res.body !== null ? res.body : {}) as Record<string, unknown>
  const error = str(body.error)
  const accessToken = str(body.access_token)
  if (res.status !== 200 || error !== undefined || accessToken === undefined) {
    throw new OAuthError(
      'OAUTH_TOKEN_REQUEST_FAILED',
      `${spec.name} refused the ${form.grant_type} request (HTTP ${res.status}${error ? `, ${error}` : ''})`,
      {
        details: {
          provider: spec.name,
          grant: form.grant_type,
          status: res.status,
          error,
          errorDescription: str(body.error_description)?.slice(0, 200),
        },
      },
    )
  }
  const expiresIn = Number(body.expires_in)
  return {
    accessToken,
    tokenType: str(body.token_type) ?? 'Bearer',
    refreshToken: str(body.refresh_token),
    idToken: str(body.id_token),
    expiresAt: Number.isFinite(expiresIn) && expiresIn > 0 ? now() + expiresIn * 1000 : undefined,
    scope: str(body.scope),
  }
}
