import { hashToken, isKryptoError, randomToken, uuidv7 } from '@beaver-kit/krypto'
import { traceAsync } from '@beaver-kit/core'
import type { RegisterInput } from './account.ts'
import { channels } from './channels.ts'
import { publicUser, type AuthMessage, type FlowContext, type PublicUser } from './context.ts'
import { AuthError, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import { enforcePasswordRules, normalizeEmail } from './passwords.ts'
import type { UserRecord } from './store.ts'

// The account-exists mail carries a password reset link (the likely reason to sign up again):
// the same prefix and store purpose as requestPasswordReset(), so resetPassword() takes it.
const RESET_PREFIX = 'pr_'
const SIGN_UP_PREFIX = 'su_'
/** Bound to every sign-up envelope: an envelope of the same key ring made for anything else does not open. */
const ASSOCIATED = 'beaver-auth:sign-up:v1'
const MAX_TOKEN = 2000

/** What a sign-up link carries, encrypted with the krypto key ring: the account it will create. */
interface PendingSignUp {
  id: string
  email: string
  passwordHash: string
  roles: string[]
  expiresAt: number
}

/**
 * Enumeration-safe sign-up: the answer is the same (nothing) whether the e-mail has an account
 * or not, and so is the work before it (the password rules, an argon2id hash, one lookup, one
 * token drawn). For a new address nothing is stored: the mail carries a link whose token is
 * the pending account, encrypted with the krypto key ring, and `completeSignUp()` creates it
 * (so nobody can sign in to, or squat, an address before its owner clicks). For a taken
 * address the owner gets an "you already have an account" mail with a password reset link.
 * Storing that token and both deliveries run after the answer, so neither a write nor the
 * mailer's latency tells the two apart. A failed delivery is an audit event.
 */
export function requestSignUp(ctx: FlowContext, input: RegisterInput, request?: RequestContext): Promise<void> {
  return traceAsync(
    channels.register,
    () => ({ store: ctx.store.name }),
    async () => {
      const deliver = ctx.deliver
      if (!deliver)
        throw new AuthError('AUTH_OPTIONS_INVALID', 'Enumeration-safe sign-up needs the deliver option (your mailer).')
      const email = normalizeEmail(input.email)
      const password = await enforcePasswordRules(input.password, ctx.rules, [email.split('@')[0] as string])
      const passwordHash = await ctx.passwords.hash(password)
      const existing = await ctx.store.findUserByEmail(email)
      const now = ctx.now()
      if (existing) {
        const token = randomToken({ prefix: RESET_PREFIX })
        const expiresAt = now + ctx.settings.resetTtl
        await ctx.emit(
          { type: 'auth.register', outcome: 'failure', reason: 'email-taken', userId: existing.id },
          request,
        )
        later(ctx, request, existing.id, async () => {
          await ctx.store.insertOneTime({ hash: hashToken(token), purpose: 'reset', userId: existing.id, expiresAt })
          await deliver({ kind: 'account-exists', to: existing.email, userId: existing.id, token, expiresAt })
        })
        return
      }
      const pending: PendingSignUp = {
        id: uuidv7(),
        email,
        passwordHash,
        roles: [...(input.roles ?? [])],
        expiresAt: now + ctx.settings.verifyTtl,
      }
      const token = SIGN_UP_PREFIX + sealPending(ctx, pending)
      await ctx.emit({ type: 'auth.register', outcome: 'success', userId: pending.id, reason: 'pending' }, request)
      const message: AuthMessage = {
        kind: 'complete-sign-up',
        to: email,
        userId: pending.id,
        token,
        expiresAt: pending.expiresAt,
      }
      later(ctx, request, pending.id, async () => await deliver(message))
    },
  )
}

/**
 * Creates the account of a sign-up link, its e-mail verified (the link reached the mailbox).
 * A link works once (a second use finds the address taken), until `verifyTtl`; an expired,
 * altered or already used one is AUTH_TOKEN_INVALID.
 */
export function completeSignUp(ctx: FlowContext, token: unknown, request?: RequestContext): Promise<PublicUser> {
  return traceAsync(
    channels.register,
    () => ({ store: ctx.store.name }),
    async () => {
      const pending = openPending(ctx, token)
      const now = ctx.now()
      if (!pending || pending.expiresAt <= now) {
        await ctx.emit({ type: 'auth.register', outcome: 'failure', reason: 'invalid-token' }, request)
        throw invalidToken('sign-up link')
      }
      const user: UserRecord = {
        id: pending.id,
        email: pending.email,
        passwordHash: pending.passwordHash,
        emailVerifiedAt: now,
        roles: pending.roles,
        totpSecret: null,
        totpEnabledAt: null,
        createdAt: now,
        updatedAt: now,
      }
      if (!(await ctx.store.createUser(user))) {
        await ctx.emit({ type: 'auth.register', outcome: 'failure', reason: 'invalid-token' }, request)
        throw invalidToken('sign-up link')
      }
      await ctx.emit({ type: 'auth.register', outcome: 'success', userId: user.id }, request)
      return publicUser(user)
    },
  )
}

function sealPending(ctx: FlowContext, pending: PendingSignUp): string {
  try {
    return ctx.krypto.encrypt(JSON.stringify(pending), { associatedData: ASSOCIATED })
  } catch (err) {
    if (isKryptoError(err, 'KRYPTO_KEYS_MISSING'))
      throw new AuthError(
        'AUTH_OPTIONS_INVALID',
        'Enumeration-safe sign-up encrypts its links with the krypto key ring: set BEAVER_KRYPTO_KEYS.',
        { cause: err },
      )
    throw err
  }
}

function openPending(ctx: FlowContext, token: unknown): PendingSignUp | undefined {
  if (typeof token !== 'string' || !token.startsWith(SIGN_UP_PREFIX) || token.length > MAX_TOKEN) return undefined
  let text: string
  try {
    text = ctx.krypto.decrypt(token.slice(SIGN_UP_PREFIX.length), { associatedData: ASSOCIATED })
  } catch (err) {
    // A link that does not open is invalid; a krypto without keys, or closed, is not the link's fault.
    if (isKryptoError(err, 'KRYPTO_KEYS_MISSING') || isKryptoError(err, 'KRYPTO_CLOSED')) throw err
    return undefined
  }
  const p = JSON.parse(text) as PendingSignUp
  return typeof p.id === 'string' &&
    typeof p.email === 'string' &&
    typeof p.passwordHash === 'string' &&
    Array.isArray(p.roles) &&
    typeof p.expiresAt === 'number'
    ? p
    : undefined
}

/** Runs after the answer; a failure becomes an audit event, never an unhandled rejection. */
function later(ctx: FlowContext, request: RequestContext | undefined, userId: string, work: () => Promise<void>): void {
  setImmediate(() => {
    Promise.resolve()
      .then(work)
      .catch(() => ctx.emit({ type: 'auth.register', outcome: 'failure', userId, reason: 'delivery-failed' }, request))
      .catch(() => undefined)
  })
}
