import { randomBytes } from 'node:crypto'
import { hashToken, isKryptoError } from '@beaver-kit/krypto'
import type { FlowContext } from './context.ts'
import { AuthError, invalidCredentials } from './errors.ts'
import type { RequestContext } from './events.ts'
import type { UserRecord } from './store.ts'

/** What `enrollTotp()` gives: the secret for an authenticator app, and its `otpauth://` URI (show it as a QR code). */
export interface TotpEnrollment {
  secret: string
  uri: string
}

const BACKUP_CODES = 10
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'
/** Backup codes never expire on their own; they go when used or when TOTP is disabled or re-confirmed. */
const NEVER = Number.MAX_SAFE_INTEGER

/** A backup code: 10 base32 characters (50 bits) shown as `xxxxx-xxxxx`. */
function backupCode(): string {
  const bytes = randomBytes(10)
  let out = ''
  for (const b of bytes) out += BASE32[b & 31]
  return `${out.slice(0, 5)}-${out.slice(5)}`
}

/** Stored as SHA-256 over the user id and the code, so equal codes of two users never share a hash. */
function backupHash(userId: string, code: string): string {
  return hashToken(`${userId}:${code.trim().toLowerCase().replace(/[\s-]/g, '')}`)
}

async function requireUser(ctx: FlowContext, userId: string): Promise<UserRecord> {
  const user = await ctx.store.findUserById(userId)
  if (!user) throw new AuthError('AUTH_USER_NOT_FOUND', 'No such user.', { details: { userId } })
  return user
}

/**
 * Starts TOTP enrollment: a new secret, stored encrypted with the krypto key ring, not yet
 * required at login. `confirmTotp` with a code from the app turns it on.
 */
export async function enrollTotp(ctx: FlowContext, userId: string, request?: RequestContext): Promise<TotpEnrollment> {
  const user = await requireUser(ctx, userId)
  if (user.totpEnabledAt !== null)
    throw new AuthError('AUTH_MFA_STATE', 'TOTP is already on for this account; disable it before enrolling again.')
  const secret = ctx.krypto.totp.generateSecret()
  await ctx.store.updateUser(user.id, { totpSecret: ctx.krypto.encrypt(secret) }, ctx.now())
  await ctx.emit({ type: 'auth.mfaEnroll', outcome: 'success', userId: user.id }, request)
  return { secret, uri: ctx.krypto.totp.uri(user.email, secret) }
}

/** Checks a TOTP code against the user's secret, each step usable once (the store's replay guard). */
async function totpMatches(ctx: FlowContext, user: UserRecord, code: string): Promise<boolean> {
  if (user.totpSecret === null) return false
  const secret = ctx.krypto.decrypt(user.totpSecret)
  const r = await ctx.krypto.totp.verify(code, secret, {
    replayGuard: ({ step }) => ctx.store.claimTotpStep(user.id, step),
  })
  return r.valid
}

/** Turns TOTP on with a first code from the app; returns the backup codes, shown once. */
export async function confirmTotp(
  ctx: FlowContext,
  userId: string,
  code: string,
  request?: RequestContext,
): Promise<{ backupCodes: string[] }> {
  const user = await requireUser(ctx, userId)
  if (user.totpSecret === null || user.totpEnabledAt !== null)
    throw new AuthError('AUTH_MFA_STATE', 'Nothing to confirm: call enrollTotp first.')
  if (!(await totpMatches(ctx, user, String(code)))) {
    await ctx.emit({ type: 'auth.mfaEnroll', outcome: 'failure', userId: user.id, reason: 'wrong-code' }, request)
    throw new AuthError('AUTH_TOKEN_INVALID', 'The code is wrong or was already used.', {
      details: { kind: 'TOTP code' },
    })
  }
  const now = ctx.now()
  await ctx.store.deleteOneTimeFor(user.id, 'backup')
  const backupCodes = Array.from({ length: BACKUP_CODES }, backupCode)
  for (const c of backupCodes)
    await ctx.store.insertOneTime({
      hash: backupHash(user.id, c),
      purpose: 'backup',
      userId: user.id,
      expiresAt: NEVER,
    })
  await ctx.store.updateUser(user.id, { totpEnabledAt: now }, now)
  await ctx.emit({ type: 'auth.mfaEnroll', outcome: 'success', userId: user.id, reason: 'confirmed' }, request)
  return { backupCodes }
}

/** Turns TOTP off after checking the password; its secret and backup codes are deleted. */
export async function disableTotp(
  ctx: FlowContext,
  userId: string,
  password: string,
  request?: RequestContext,
): Promise<void> {
  const user = await requireUser(ctx, userId)
  const ok = await ctx.passwords.verify(user.passwordHash, String(password)).catch((err: unknown) => {
    if (isKryptoError(err)) return false
    throw err
  })
  if (!ok) {
    await ctx.emit({ type: 'auth.mfaDisable', outcome: 'failure', userId, reason: 'wrong-password' }, request)
    throw invalidCredentials()
  }
  await ctx.store.updateUser(user.id, { totpSecret: null, totpEnabledAt: null }, ctx.now())
  await ctx.store.deleteOneTimeFor(user.id, 'backup')
  await ctx.emit({ type: 'auth.mfaDisable', outcome: 'success', userId }, request)
}

/** The second factor of a login: a TOTP code (6-8 digits) or an unused backup code. */
export async function secondFactorPasses(ctx: FlowContext, user: UserRecord, otp: string): Promise<boolean> {
  if (otp.length > 32) return false
  if (/^\d{6,8}$/.test(otp.trim())) return totpMatches(ctx, user, otp.trim())
  return (await ctx.store.consumeOneTime(backupHash(user.id, otp), 'backup', ctx.now())) === user.id
}
