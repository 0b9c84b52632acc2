import { randomBytes } from 'node:crypto'
import { toMs, type Duration } from '@beaver-kit/config'
import { hashToken, randomToken, verifyTokenHash } from '@beaver-kit/krypto'
import type { FlowContext } from './context.ts'
import { AuthError, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import type { ApiKeyRecord } from './store.ts'
import type { Principal } from './tokens.ts'

/** What `createApiKey()` takes. */
export interface ApiKeyInput {
  /** A label for the owner's list ("CI deploy"). */
  name: string
  /** What the key may do; `can()` checks permissions against them. Default none. */
  scopes?: string[]
  /** Lifetime (`'90d'`, ms); default: no expiry. */
  expiresIn?: Duration
}

/** An API key as listed: never its secret nor its hash. */
export interface ApiKeyInfo {
  id: string
  name: string
  scopes: string[]
  createdAt: number
  expiresAt: number | null
  lastUsedAt: number | null
  revokedAt: number | null
}

/** A new API key: `key` is shown once and never stored. */
export interface CreatedApiKey extends ApiKeyInfo {
  key: string
}

const ID_HEX = 24
/** last-used is written at most this often per key, so a busy key does not write on every request. */
const TOUCH_EVERY_MS = 60_000

function info(k: ApiKeyRecord): ApiKeyInfo {
  const { id, name, scopes, createdAt, expiresAt, lastUsedAt, revokedAt } = k
  return { id, name, scopes: [...scopes], createdAt, expiresAt, lastUsedAt, revokedAt }
}

/** Creates an API key for a user: `<prefix><id>_<secret>`, the secret stored only as a hash. */
export async function createApiKey(
  ctx: FlowContext,
  userId: string,
  input: ApiKeyInput,
  request?: RequestContext,
): Promise<CreatedApiKey> {
  const name = String(input.name ?? '').slice(0, 200)
  const scopes = [...(input.scopes ?? [])]
  if (scopes.length > 100 || scopes.some((s) => typeof s !== 'string' || s.length > 100))
    throw new AuthError('AUTH_OPTIONS_INVALID', 'An API key has at most 100 scopes of at most 100 characters.')
  const user = await ctx.store.findUserById(userId)
  if (!user) throw new AuthError('AUTH_USER_NOT_FOUND', 'No such user.', { details: { userId } })
  const id = randomBytes(ID_HEX / 2).toString('hex')
  const secret = randomToken()
  const now = ctx.now()
  const record: ApiKeyRecord = {
    id,
    userId,
    name,
    hash: hashToken(secret),
    scopes,
    createdAt: now,
    expiresAt: input.expiresIn === undefined ? null : now + toMs(input.expiresIn, 'expiresIn'),
    lastUsedAt: null,
    revokedAt: null,
  }
  await ctx.store.insertApiKey(record)
  await ctx.emit({ type: 'auth.apiKeyCreate', outcome: 'success', userId, target: id }, request)
  return { ...info(record), key: `${ctx.settings.apiKeyPrefix}${id}_${secret}` }
}

/** The id and secret of a presented key, or undefined when it does not have the shape. */
function parse(prefix: string, key: unknown): { id: string; secret: string } | undefined {
  if (typeof key !== 'string' || key.length > 200 || !key.startsWith(prefix)) return undefined
  const rest = key.slice(prefix.length)
  const id = rest.slice(0, ID_HEX)
  if (!/^[0-9a-f]{24}$/.test(id) || rest[ID_HEX] !== '_') return undefined
  return { id, secret: rest.slice(ID_HEX + 1) }
}

/**
 * Checks a presented API key: looked up by its public id, then its secret compared with the
 * stored hash in constant time. Unknown, wrong secret, revoked and expired keys, and keys of
 * deleted users, are one AUTH_TOKEN_INVALID.
 */
export async function verifyApiKey(ctx: FlowContext, key: unknown, request?: RequestContext): Promise<Principal> {
  const parts = parse(ctx.settings.apiKeyPrefix, key)
  const record = parts && (await ctx.store.findApiKey(parts.id))
  const now = ctx.now()
  // The secret is hashed and compared even when no record was found, so the time does not say whether the id exists.
  const matches = verifyTokenHash(parts?.secret || '-', record?.hash ?? '-')
  const usable = record && matches && record.revokedAt === null && (record.expiresAt === null || record.expiresAt > now)
  const user = usable ? await ctx.store.findUserById(record.userId) : undefined
  if (!record || !usable || !user) {
    const reason = !record ? 'unknown' : !matches ? 'wrong-secret' : record.revokedAt !== null ? 'revoked' : 'expired'
    await ctx.emit(
      { type: 'auth.apiKeyUse', outcome: 'failure', reason, target: parts?.id, userId: record?.userId },
      request,
    )
    throw invalidToken('API key')
  }
  if (ctx.apiKeyLimiter) {
    const d = await ctx.apiKeyLimiter.limit(`apikey:${record.id}`)
    if (!d.allowed) {
      await ctx.emit(
        { type: 'auth.apiKeyUse', outcome: 'failure', reason: 'rate-limited', userId: user.id, target: record.id },
        request,
      )
      throw new AuthError('AUTH_RATE_LIMITED', 'This API key made too many requests; slow down.', {
        details: { retryAfterMs: d.retryAfterMs },
      })
    }
  }
  if (record.lastUsedAt === null || now - record.lastUsedAt >= TOUCH_EVERY_MS)
    await ctx.store.touchApiKey(record.id, now)
  return { userId: user.id, roles: [...user.roles], scopes: [...record.scopes], via: 'apiKey', sessionId: record.id }
}

/** The API keys of a user, revoked and expired ones included. */
export async function listApiKeys(ctx: FlowContext, userId: string): Promise<ApiKeyInfo[]> {
  return (await ctx.store.listApiKeys(userId)).map(info)
}

/** Revokes one of a user's keys; false when the user has no such live key. */
export async function revokeApiKey(
  ctx: FlowContext,
  userId: string,
  id: string,
  request?: RequestContext,
): Promise<boolean> {
  const done = await ctx.store.revokeApiKey(id, userId, ctx.now())
  await ctx.emit({ type: 'auth.apiKeyRevoke', outcome: done ? 'success' : 'failure', userId, target: id }, request)
  return done
}
