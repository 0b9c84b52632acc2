import { hashToken, randomToken, uuidv7 } from '@beaver-kit/krypto'
import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import type { FlowContext } from './context.ts'
import { AuthError, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import type { UserRecord } from './store.ts'
import type { VerifyOptions } from '@beaver-kit/krypto'

/** What a login or a refresh hands the client. */
export interface TokenPair {
  tokenType: 'Bearer'
  /** A short-lived JWT (`typ: at+jwt`), verified without any store lookup. */
  accessToken: string
  /** Seconds until the access token expires. */
  expiresIn: number
  /** An opaque single-use token: present it once to `refresh()` for a new pair. */
  refreshToken: string
  /** When the refresh token expires (epoch ms). */
  refreshExpiresAt: number
}

/** Who a request acts for, as `authenticate()` and `verifyAccessToken()` give it. */
export interface Principal {
  userId: string
  roles: string[]
  /** API-key scopes; absent for users signed in with a password. */
  scopes?: string[] | undefined
  via: 'bearer' | 'apiKey' | 'session'
  /** The refresh family (sign-in) an access token belongs to, or the API key id. */
  sessionId?: string | undefined
}

/** Claims of an access token. */
interface AccessClaims {
  sub: string
  roles: string[]
  sid: string
}

const REFRESH_PREFIX = 'rt_'
const MAX_TOKEN = 4096

/**
 * The verify options of access tokens, built once per instance: `iss`, `aud` and the claim
 * shapes are checked in one validate function over the parsed payload, so a verification
 * allocates nothing per call beyond what the JWT itself needs.
 */
function accessOptions(ctx: FlowContext): VerifyOptions<AccessClaims> {
  const { issuer, audience } = ctx.settings
  return {
    requiredClaims: ['exp', 'sub'],
    validate(payload) {
      const { sub, roles, sid, iss, aud } = payload
      if (issuer !== undefined && iss !== issuer) throw new Error(`iss is not ${issuer}`)
      if (audience !== undefined && aud !== audience && !(Array.isArray(aud) && aud.includes(audience)))
        throw new Error(`aud does not include ${audience}`)
      if (typeof sub !== 'string' || typeof sid !== 'string' || !Array.isArray(roles))
        throw new Error('sub, sid and roles are required')
      for (const r of roles as unknown[]) if (typeof r !== 'string') throw new Error('roles must be strings')
      return { sub, sid, roles: roles as string[] }
    },
  }
}

const optionsByContext = new WeakMap<FlowContext, VerifyOptions<AccessClaims>>()

/** Signs an access token for a user of a refresh family. */
export function signAccess(ctx: FlowContext, user: Pick<UserRecord, 'id' | 'roles'>, familyId: string): string {
  const { issuer, audience, accessTtl } = ctx.settings
  return ctx.jwt.sign(
    { roles: user.roles, sid: familyId },
    {
      subject: user.id,
      expiresIn: accessTtl,
      header: { typ: 'at+jwt' },
      ...(issuer !== undefined ? { issuer } : {}),
      ...(audience !== undefined ? { audience } : {}),
    },
  )
}

/**
 * Verifies an access token: signature by `kid` from the key ring, `typ`, `exp`, and `iss`/`aud`
 * when configured. Any failure is one AUTH_TOKEN_INVALID (the cause says why, for logs).
 */
export function verifyAccess(ctx: FlowContext, token: string): Principal {
  let options = optionsByContext.get(ctx)
  if (options === undefined) optionsByContext.set(ctx, (options = accessOptions(ctx)))
  try {
    if (token.length > MAX_TOKEN) throw new Error('too long')
    const { header, payload } = ctx.jwt.verifyComplete(token, options)
    // Only tokens typed as access tokens (RFC 9068): an ID token or another JWT signed with the
    // same keys is not accepted as one.
    if (
      header.typ !== 'at+jwt' &&
      header.typ?.toLowerCase() !== 'at+jwt' &&
      header.typ?.toLowerCase() !== 'application/at+jwt'
    )
      throw new Error(`typ is ${String(header.typ)}, not at+jwt`)
    return { userId: payload.sub, roles: payload.roles, via: 'bearer', sessionId: payload.sid }
  } catch (err) {
    // Signature, typ, time, issuer, audience or claim shape: one answer; the cause says which.
    throw new AuthError('AUTH_TOKEN_INVALID', 'The access token is invalid, expired or already used.', {
      cause: err,
      details: { kind: 'access token' },
    })
  }
}

/** A new refresh token in a family (a new family at login, the same one on rotation). */
async function issueRefresh(
  ctx: FlowContext,
  userId: string,
  familyId: string,
  familyExpiresAt: number,
): Promise<{ token: string; expiresAt: number }> {
  const token = randomToken({ prefix: REFRESH_PREFIX })
  const now = ctx.now()
  const expiresAt = Math.min(now + ctx.settings.refreshTtl, familyExpiresAt)
  await ctx.store.insertRefresh({
    hash: hashToken(token),
    familyId,
    userId,
    createdAt: now,
    expiresAt,
    familyExpiresAt,
    usedAt: null,
    revokedAt: null,
  })
  return { token, expiresAt }
}

/** Starts a sign-in: a new refresh family and its first pair. */
export async function startFamily(ctx: FlowContext, user: UserRecord): Promise<{ pair: TokenPair; familyId: string }> {
  const familyId = uuidv7()
  const refresh = await issueRefresh(ctx, user.id, familyId, ctx.now() + ctx.settings.familyTtl)
  return { pair: pairOf(ctx, user, familyId, refresh), familyId }
}

function pairOf(
  ctx: FlowContext,
  user: UserRecord,
  familyId: string,
  refresh: { token: string; expiresAt: number },
): TokenPair {
  return {
    tokenType: 'Bearer',
    accessToken: signAccess(ctx, user, familyId),
    expiresIn: Math.floor(ctx.settings.accessTtl / 1000),
    refreshToken: refresh.token,
    refreshExpiresAt: refresh.expiresAt,
  }
}

function readRefresh(token: unknown): string {
  if (typeof token !== 'string' || !token.startsWith(REFRESH_PREFIX) || token.length > 200)
    throw invalidToken('refresh token')
  return token
}

/**
 * Rotates a refresh token: the presented one is spent, a new one of the same family comes
 * back with a fresh access token. A token presented a second time (stolen and used by two
 * parties) revokes the whole family: both parties must sign in again.
 */
export function rotate(ctx: FlowContext, presented: unknown, request?: RequestContext): Promise<TokenPair> {
  return traceAsync(
    channels.refresh,
    () => ({ store: ctx.store.name }),
    async () => {
      const token = readRefresh(presented)
      const use = await ctx.store.useRefresh(hashToken(token), ctx.now())
      if (use.state === 'unknown') {
        await ctx.emit({ type: 'auth.refresh', outcome: 'failure', reason: 'unknown' }, request)
        throw invalidToken('refresh token')
      }
      const { record } = use
      if (use.state === 'used') {
        const revoked = await ctx.store.revokeFamily(record.familyId, ctx.now())
        await ctx.emit(
          {
            type: 'auth.refresh',
            outcome: 'failure',
            reason: 'reused',
            userId: record.userId,
            target: record.familyId,
          },
          request,
        )
        throw new AuthError(
          'AUTH_REFRESH_REUSED',
          'This refresh token was already used; the sign-in it belonged to has been ended everywhere. Sign in again.',
          { details: { revoked } },
        )
      }
      if (use.state !== 'fresh') {
        await ctx.emit(
          {
            type: 'auth.refresh',
            outcome: 'failure',
            reason: use.state,
            userId: record.userId,
            target: record.familyId,
          },
          request,
        )
        throw invalidToken('refresh token')
      }
      const user = await ctx.store.findUserById(record.userId)
      if (!user) {
        await ctx.store.revokeFamily(record.familyId, ctx.now())
        throw invalidToken('refresh token')
      }
      const refresh = await issueRefresh(ctx, user.id, record.familyId, record.familyExpiresAt)
      await ctx.emit({ type: 'auth.refresh', outcome: 'success', userId: user.id, target: record.familyId }, request)
      return pairOf(ctx, user, record.familyId, refresh)
    },
  )
}

/** The family of a refresh token without spending it (logout, change password), if it is live. */
export async function familyOf(
  ctx: FlowContext,
  presented: unknown,
): Promise<{ familyId: string; userId: string } | undefined> {
  let token: string
  try {
    token = readRefresh(presented)
  } catch {
    return undefined
  }
  const found = await ctx.store.findRefresh(hashToken(token))
  if (!found || found.revokedAt !== null) return undefined
  return { familyId: found.familyId, userId: found.userId }
}
