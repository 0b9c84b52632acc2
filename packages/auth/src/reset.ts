import { hashToken, randomToken } from '@beaver-kit/krypto'
import type { FlowContext } from './context.ts'
import { AuthError, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import { loginEmail, enforcePasswordRules } from './passwords.ts'

const RESET_PREFIX = 'pr_'

/**
 * Starts a password reset. The answer is the same (nothing) whether the account exists or
 * not, and both paths do the same work: a token is drawn and hashed, the account looked up;
 * only for a real account is it stored and delivered, and the delivery runs after the answer
 * so the mailer's latency cannot tell the two apart. A failed delivery is an audit event.
 */
export async function requestPasswordReset(
  ctx: FlowContext,
  emailInput: unknown,
  request?: RequestContext,
): Promise<void> {
  const deliver = ctx.deliver
  if (!deliver) throw new AuthError('AUTH_OPTIONS_INVALID', 'Password reset needs the deliver option (your mailer).')
  const email = loginEmail(emailInput)
  const token = randomToken({ prefix: RESET_PREFIX })
  const hash = hashToken(token)
  const user = email === undefined ? undefined : await ctx.store.findUserByEmail(email)
  if (!user) {
    await ctx.emit(
      { type: 'auth.passwordResetRequest', outcome: 'failure', reason: 'unknown-user', email: email ?? '' },
      request,
    )
    return
  }
  const expiresAt = ctx.now() + ctx.settings.resetTtl
  await ctx.store.insertOneTime({ hash, purpose: 'reset', userId: user.id, expiresAt })
  await ctx.emit({ type: 'auth.passwordResetRequest', outcome: 'success', userId: user.id }, request)
  setImmediate(() => {
    Promise.resolve()
      .then(() => deliver({ kind: 'reset-password', to: user.email, userId: user.id, token, expiresAt }))
      .catch(() =>
        ctx.emit(
          { type: 'auth.passwordResetRequest', outcome: 'failure', userId: user.id, reason: 'delivery-failed' },
          request,
        ),
      )
      .catch(() => undefined)
  })
}

/**
 * Sets a new password with a reset token. The token works once, for `resetTtl` (1 h by
 * default); a used, expired or altered one is AUTH_TOKEN_INVALID. Every sign-in of the
 * account ends, and its lockout counter is cleared.
 */
export async function resetPassword(
  ctx: FlowContext,
  token: unknown,
  newPassword: unknown,
  request?: RequestContext,
): Promise<void> {
  if (typeof token !== 'string' || !token.startsWith(RESET_PREFIX) || token.length > 200) {
    await ctx.emit({ type: 'auth.passwordReset', outcome: 'failure', reason: 'invalid-token' }, request)
    throw invalidToken('reset token')
  }
  // The password is checked before the token is spent, so a refused password can be retried.
  const next = await enforcePasswordRules(newPassword, ctx.rules, [])
  const hash = hashToken(token)
  const userId = await ctx.store.consumeOneTime(hash, 'reset', ctx.now())
  const user = userId === undefined ? undefined : await ctx.store.findUserById(userId)
  if (!user) {
    await ctx.emit({ type: 'auth.passwordReset', outcome: 'failure', reason: 'invalid-token' }, request)
    throw invalidToken('reset token')
  }
  const now = ctx.now()
  await ctx.store.updateUser(
    user.id,
    // Whoever received the reset link controls the mailbox: the address is verified.
    { passwordHash: await ctx.passwords.hash(next), emailVerifiedAt: user.emailVerifiedAt ?? now },
    now,
  )
  await ctx.store.deleteOneTimeFor(user.id, 'reset')
  await ctx.store.revokeUserFamilies(user.id, now)
  if (ctx.sessions) await ctx.sessions.revokeAll(user.id)
  await ctx.store.clearFailures(`acct:${user.email}`)
  await ctx.emit({ type: 'auth.passwordReset', outcome: 'success', userId: user.id }, request)
}

const UNLOCK_PREFIX = 'ul_'

/**
 * Sends an unlock link: the way out of a delay an attacker keeps an account in. Enumeration-safe
 * like the reset request (same answer and work for unknown accounts, delivery after the answer).
 */
export async function requestUnlock(ctx: FlowContext, emailInput: unknown, request?: RequestContext): Promise<void> {
  const deliver = ctx.deliver
  if (!deliver) throw new AuthError('AUTH_OPTIONS_INVALID', 'Unlock links need the deliver option (your mailer).')
  const email = loginEmail(emailInput)
  const token = randomToken({ prefix: UNLOCK_PREFIX })
  const hash = hashToken(token)
  const user = email === undefined ? undefined : await ctx.store.findUserByEmail(email)
  if (!user) {
    await ctx.emit({ type: 'auth.unlock', outcome: 'failure', reason: 'unknown-user', email: email ?? '' }, request)
    return
  }
  const expiresAt = ctx.now() + ctx.settings.resetTtl
  await ctx.store.insertOneTime({ hash, purpose: 'unlock', userId: user.id, expiresAt })
  await ctx.emit({ type: 'auth.unlock', outcome: 'success', userId: user.id, reason: 'requested' }, request)
  setImmediate(() => {
    Promise.resolve()
      .then(() => deliver({ kind: 'unlock-account', to: user.email, userId: user.id, token, expiresAt }))
      .catch(() =>
        ctx.emit({ type: 'auth.unlock', outcome: 'failure', userId: user.id, reason: 'delivery-failed' }, request),
      )
      .catch(() => undefined)
  })
}

/** Lifts the account's login delay with a single-use unlock token (the IP counters stay). */
export async function unlock(ctx: FlowContext, token: unknown, request?: RequestContext): Promise<void> {
  const userId =
    typeof token === 'string' && token.startsWith(UNLOCK_PREFIX) && token.length < 200
      ? await ctx.store.consumeOneTime(hashToken(token), 'unlock', ctx.now())
      : undefined
  const user = userId === undefined ? undefined : await ctx.store.findUserById(userId)
  if (!user) {
    await ctx.emit({ type: 'auth.unlock', outcome: 'failure', reason: 'invalid-token' }, request)
    throw invalidToken('unlock token')
  }
  await ctx.store.clearFailures(`acct:${user.email}`)
  await ctx.emit({ type: 'auth.unlock', outcome: 'success', userId: user.id, reason: 'unlocked' }, request)
}
