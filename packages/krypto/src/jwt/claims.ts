import { toMs } from '@beaver-kit/config'
import { KryptoError } from '../errors.ts'
import { fail, normalizeTyp } from './parse.ts'
import type { JwtHeader, JwtPayload, VerifyOptions } from './types.ts'

/** @internal What a verifier checks unless a call overrides it. */
export interface ClaimDefaults {
  now: () => number
  skewS: number
  maxAgeS: number | undefined
  required: readonly string[]
  typ: string | undefined
  issuers: readonly string[] | undefined
  audiences: readonly string[] | undefined
}

/** @internal One string or a list as a list. */
export function asList(value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined
  return typeof value === 'string' ? [value] : value
}

function checkTimes(payload: JwtPayload, d: ClaimDefaults, maxAge: number | undefined): void {
  const nowS = d.now() / 1000
  const skewS = d.skewS
  const { exp, nbf, iat } = payload
  if (exp !== undefined) {
    if (typeof exp !== 'number' || !Number.isFinite(exp))
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "exp" claim is not a number', { claim: 'exp' })
    if (nowS >= exp + skewS)
      fail('KRYPTO_JWT_EXPIRED', `The JWT expired at ${new Date(exp * 1000).toISOString()}`, { exp })
  }
  if (nbf !== undefined) {
    if (typeof nbf !== 'number' || !Number.isFinite(nbf))
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "nbf" claim is not a number', { claim: 'nbf' })
    if (nowS + skewS < nbf)
      fail('KRYPTO_JWT_NOT_YET_VALID', `The JWT is not valid before ${new Date(nbf * 1000).toISOString()}`, { nbf })
  }
  if (iat !== undefined) {
    if (typeof iat !== 'number' || !Number.isFinite(iat))
      fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "iat" claim is not a number', { claim: 'iat' })
    if (nowS + skewS < iat)
      fail(
        'KRYPTO_JWT_NOT_YET_VALID',
        `The JWT claims to be issued in the future (${new Date(iat * 1000).toISOString()})`,
        { iat },
      )
  }
  if (maxAge !== undefined) {
    if (typeof iat !== 'number') fail('KRYPTO_JWT_CLAIM_INVALID', 'maxAge needs an "iat" claim', { claim: 'iat' })
    if (nowS - iat > maxAge + skewS)
      fail('KRYPTO_JWT_TOO_OLD', `The JWT was issued more than ${maxAge} s ago`, { iat, maxAge })
  }
}

function checkParties(
  payload: JwtPayload,
  wantIss: readonly string[] | undefined,
  wantAud: readonly string[] | undefined,
): void {
  if (wantIss !== undefined) {
    if (typeof payload.iss !== 'string' || !wantIss.includes(payload.iss)) {
      fail(
        'KRYPTO_JWT_WRONG_ISSUER',
        `The JWT issuer ${JSON.stringify(payload.iss)} is not one of ${wantIss.join(', ')}`,
        { iss: payload.iss },
      )
    }
  } else if (payload.iss !== undefined && typeof payload.iss !== 'string') {
    fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "iss" claim is not a string', { claim: 'iss' })
  }
  const aud = payload.aud
  if (
    aud !== undefined &&
    typeof aud !== 'string' &&
    !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))
  ) {
    fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "aud" claim is neither a string nor an array of strings', {
      claim: 'aud',
    })
  }
  if (wantAud !== undefined) {
    const ok =
      typeof aud === 'string' ? wantAud.includes(aud) : Array.isArray(aud) && aud.some((a) => wantAud.includes(a))
    if (!ok)
      fail(
        'KRYPTO_JWT_WRONG_AUDIENCE',
        `The JWT audience ${JSON.stringify(aud)} does not include ${wantAud.join(' or ')}`,
        {
          aud,
        },
      )
  }
}

/**
 * @internal Checks the claims of a payload whose signature already verified: required claims,
 * registered claim types, times with the clock skew, issuer, audience, subject, `typ`, then the
 * caller's `validate`.
 */
export function checkClaims<T>(
  payload: JwtPayload,
  header: JwtHeader,
  d: ClaimDefaults,
  opts: VerifyOptions<T> | undefined,
): T {
  for (const claim of opts?.requiredClaims ?? d.required) {
    if (payload[claim] === undefined)
      fail('KRYPTO_JWT_CLAIM_INVALID', `The JWT has no "${claim}" claim, which is required`, { claim })
  }
  checkTimes(payload, d, opts?.maxAge === undefined ? d.maxAgeS : toMs(opts.maxAge, 'maxAge') / 1000)
  checkParties(
    payload,
    opts?.issuer === undefined ? d.issuers : asList(opts.issuer),
    opts?.audience === undefined ? d.audiences : asList(opts.audience),
  )
  if (payload.sub !== undefined && typeof payload.sub !== 'string')
    fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "sub" claim is not a string', { claim: 'sub' })
  if (opts?.subject !== undefined && payload.sub !== opts.subject) {
    fail('KRYPTO_JWT_WRONG_SUBJECT', `The JWT subject ${JSON.stringify(payload.sub)} is not ${opts.subject}`, {
      sub: payload.sub,
    })
  }
  if (payload.jti !== undefined && typeof payload.jti !== 'string')
    fail('KRYPTO_JWT_CLAIM_INVALID', 'The JWT "jti" claim is not a string', { claim: 'jti' })
  const wantTyp = opts?.typ === undefined ? d.typ : normalizeTyp(opts.typ)
  if (wantTyp !== undefined && (header.typ === undefined || normalizeTyp(header.typ) !== wantTyp)) {
    fail('KRYPTO_JWT_CLAIM_INVALID', `The JWT header typ ${JSON.stringify(header.typ)} is not ${wantTyp}`, {
      typ: header.typ,
    })
  }
  if (!opts?.validate) return payload as T
  try {
    return opts.validate(payload)
  } catch (err) {
    throw new KryptoError('KRYPTO_JWT_CLAIM_INVALID', `The JWT payload failed validation: ${(err as Error).message}`, {
      cause: err,
    })
  }
}
