import {
  createJwt,
  createRemoteJwks,
  decodeJwtUnverified,
  isKryptoError,
  type JwtKeySource,
  type JwtPayload,
  type RemoteJwks,
} from '@beaver-kit/krypto'
import { OAuthError } from './errors.ts'
import type { ProviderTransport } from './transport.ts'

/** Verifies ID tokens of one provider: signature from its JWKS, then iss, aud, azp, nonce and times. */
export interface IdTokenVerifier {
  verify(
    idToken: string,
    expect: { nonce?: string | undefined; issuer: string; algorithms: readonly string[] },
  ): Promise<JwtPayload>
  close(): void
}

const REASONS: Record<string, string> = {
  KRYPTO_JWT_EXPIRED: 'expired',
  KRYPTO_JWT_WRONG_AUDIENCE: 'audience',
  KRYPTO_JWT_BAD_SIGNATURE: 'signature',
  KRYPTO_KEY_NOT_FOUND: 'key',
  KRYPTO_JWT_NOT_YET_VALID: 'not-yet-valid',
  KRYPTO_JWT_CLAIM_INVALID: 'claim',
}

function invalid(provider: string, message: string, reason: string, cause?: unknown): OAuthError {
  return new OAuthError('OAUTH_ID_TOKEN_INVALID', `The ID token from ${provider} ${message}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { provider, reason },
  })
}

export function createIdTokenVerifier(options: {
  provider: string
  clientId: string
  jwksUri: string
  transport: ProviderTransport
  clockSkewMs: number
  cacheTtlMs: number
  cooldownMs: number
  allowHttp: boolean
  issuerTemplate: boolean
  now: () => number
}): IdTokenVerifier {
  const { provider, clientId, now } = options
  const jwks: RemoteJwks = createRemoteJwks(options.jwksUri, {
    cacheTtl: options.cacheTtlMs,
    cooldown: options.cooldownMs,
    allowHttp: options.allowHttp,
    fetch: options.transport.fetch,
    now,
  })
  let allowed: readonly string[] = []
  // Keys are handed out only for the algorithms the provider announced; krypto never returns an
  // HMAC key from a JWKS, so an HS256 token "signed with the public key" finds no key at all.
  const source: JwtKeySource = {
    getKeys: async (header) => (allowed.includes(header.alg) ? jwks.getKeys(header) : []),
  }
  const jwt = createJwt({
    jwks: source,
    audience: clientId,
    clockSkew: options.clockSkewMs,
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    now,
  })

  return {
    async verify(idToken, expect) {
      allowed = expect.algorithms
      let header: { alg: string }
      try {
        header = decodeJwtUnverified(idToken).header
      } catch (err) {
        throw invalid(provider, 'is malformed or uses a refused algorithm (never "none")', 'malformed', err)
      }
      if (!allowed.includes(header.alg))
        throw invalid(provider, `is signed with ${header.alg}, which the provider does not announce`, 'algorithm')
      let claims: JwtPayload
      try {
        claims = await jwt.verifyAsync(idToken)
      } catch (err) {
        if (isKryptoError(err, 'KRYPTO_JWKS_FETCH_FAILED') || isKryptoError(err, 'KRYPTO_CLOSED')) throw err
        const code = isKryptoError(err) ? err.code : 'unknown'
        const reason = REASONS[code] ?? code
        throw invalid(provider, `failed verification (${(err as Error).message})`, reason, err)
      }
      const iss = claims.iss as string
      const expectedIssuer =
        options.issuerTemplate && typeof claims.tid === 'string'
          ? expect.issuer.replace('{tenantid}', claims.tid)
          : expect.issuer
      if (iss !== expectedIssuer) throw invalid(provider, `has the issuer "${iss}", not "${expectedIssuer}"`, 'issuer')
      const aud = claims.aud
      // With several audiences the token must say it was issued to us (OIDC Core 3.1.3.7).
      if (Array.isArray(aud) && aud.length > 1 && claims.azp === undefined)
        throw invalid(provider, 'has several audiences and no "azp"', 'azp')
      if (claims.azp !== undefined && claims.azp !== clientId)
        throw invalid(provider, `was issued to "${String(claims.azp)}" (azp), not to this client`, 'azp')
      if (expect.nonce !== undefined && claims.nonce !== expect.nonce)
        throw invalid(provider, 'carries another nonce than this sign-in', 'nonce')
      return claims
    },
    close: () => jwks.close(),
  }
}
