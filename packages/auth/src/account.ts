import { hashToken, isKryptoError, randomToken, uuidv7 } from '@beaver-kit/krypto'
import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { publicUser, type FlowContext, type PublicUser } from './context.ts'
import { AuthError, invalidCredentials, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import { isDelayed, lockoutKeys, recordFailure } from './lockout.ts'
import { enforcePasswordRules, loginEmail, normalizeEmail } from './passwords.ts'
import { familyOf, startFamily, type TokenPair } from './tokens.ts'
import type { UserRecord } from './store.ts'
import { secondFactorPasses } from './totp.ts'

/** What `register()` takes. */
export interface RegisterInput {
  email: string
  password: string
  /** Roles of the new account. Default none. */
  roles?: string[]
  /**
   * `register()` only: the caller has proved the address another way (an OIDC provider's
   * verified e-mail), so the account starts verified and no verification mail is sent.
   */
  emailVerified?: boolean
}

/** What `login()` takes. */
export interface LoginInput {
  email: string
  password: string
  /** The second factor, when the account has TOTP on: a code from the app or a backup code. */
  otp?: string | undefined
}

/** What `login()` gives: the account and its first token pair. */
export interface LoginResult extends TokenPair {
  user: PublicUser
}

const VERIFY_PREFIX = 'ev_'

/** Creates an account; sends an e-mail verification token through `deliver` when configured. */
export function register(ctx: FlowContext, input: RegisterInput, request?: RequestContext): Promise<PublicUser> {
  return traceAsync(
    channels.register,
    () => ({ store: ctx.store.name }),
    async () => {
      const email = normalizeEmail(input.email)
      const password = await enforcePasswordRules(input.password, ctx.rules, [email.split('@')[0] as string])
      const now = ctx.now()
      const user: UserRecord = {
        id: uuidv7(),
        email,
        passwordHash: await ctx.passwords.hash(password),
        emailVerifiedAt: input.emailVerified === true ? now : null,
        roles: [...(input.roles ?? [])],
        totpSecret: null,
        totpEnabledAt: null,
        createdAt: now,
        updatedAt: now,
      }
      if (!(await ctx.store.createUser(user))) {
        await ctx.emit({ type: 'auth.register', outcome: 'failure', reason: 'email-taken', email }, request)
        throw new AuthError(
          'AUTH_EMAIL_TAKEN',
          'An account with this e-mail already exists; sign in or reset the password.',
        )
      }
      await ctx.emit({ type: 'auth.register', outcome: 'success', userId: user.id }, request)
      if (ctx.deliver && user.emailVerifiedAt === null) await sendVerification(ctx, user)
      return publicUser(user)
    },
  )
}

/** Issues (and delivers) a new e-mail verification token. */
export async function sendVerification(ctx: FlowContext, user: UserRecord): Promise<void> {
  if (!ctx.deliver)
    throw new AuthError('AUTH_OPTIONS_INVALID', 'E-mail verification needs the deliver option (your mailer).')
  const token = randomToken({ prefix: VERIFY_PREFIX })
  const expiresAt = ctx.now() + ctx.settings.verifyTtl
  await ctx.store.insertOneTime({ hash: hashToken(token), purpose: 'verify', userId: user.id, expiresAt })
  await ctx.deliver({ kind: 'verify-email', to: user.email, userId: user.id, token, expiresAt })
}

/** Marks the e-mail of the token's account verified; the token works once. */
export async function verifyEmail(ctx: FlowContext, token: unknown, request?: RequestContext): Promise<PublicUser> {
  const userId =
    typeof token === 'string' && token.startsWith(VERIFY_PREFIX) && token.length < 200
      ? await ctx.store.consumeOneTime(hashToken(token), 'verify', ctx.now())
      : undefined
  const user = userId === undefined ? undefined : await ctx.store.findUserById(userId)
  if (!user) {
    await ctx.emit({ type: 'auth.emailVerify', outcome: 'failure', reason: 'invalid-token' }, request)
    throw invalidToken('verification token')
  }
  const now = ctx.now()
  await ctx.store.updateUser(user.id, { emailVerifiedAt: user.emailVerifiedAt ?? now }, now)
  await ctx.emit({ type: 'auth.emailVerify', outcome: 'success', userId: user.id }, request)
  return publicUser({ ...user, emailVerifiedAt: user.emailVerifiedAt ?? now })
}

/**
 * Checks e-mail and password. Unknown account, wrong password and a delayed account give
 * the same AUTH_INVALID_CREDENTIALS, and every path verifies a password hash at the current
 * cost, so neither the answer nor its time tells them apart. A valid password on an outdated
 * hash is rehashed at the current parameters on the way.
 */
export function login(ctx: FlowContext, input: LoginInput, request?: RequestContext): Promise<LoginResult> {
  return traceAsync(
    channels.login,
    () => ({ store: ctx.store.name }),
    async () => {
      if (ctx.limiter && request?.ip !== undefined) {
        const d = await ctx.limiter.limit(`login:${request.ip}`)
        if (!d.allowed) {
          await ctx.emit({ type: 'auth.login', outcome: 'failure', reason: 'rate-limited' }, request)
          throw new AuthError('AUTH_RATE_LIMITED', 'Too many sign-in attempts from this address; try again later.', {
            details: { retryAfterMs: d.retryAfterMs },
          })
        }
      }
      const email = loginEmail(input.email)
      const password = typeof input.password === 'string' ? input.password : ''
      const keys = lockoutKeys(email ?? '-', request?.ip)
      const [user, delayed] = await Promise.all([
        email === undefined ? undefined : ctx.store.findUserByEmail(email),
        isDelayed(ctx, keys),
      ])
      let valid = false
      let newHash: string | undefined
      const stored = user?.passwordHash ?? (await ctx.dummyHash())
      try {
        // Always one verification at the current cost, whatever the account and its state.
        const check = await ctx.passwords.verifyAndUpgrade(stored, password)
        valid = check.valid && user !== undefined
        newHash = check.newHash
      } catch (err) {
        // A password past the hasher's length bound, or an unreadable stored hash: a failure like any other.
        if (!isKryptoError(err)) throw err
      }
      if (!user || !valid || delayed) {
        const reason = delayed ? 'locked' : !user ? 'unknown-user' : 'wrong-password'
        if (!delayed) {
          const locked = await recordFailure(ctx, keys.account, ctx.settings.lockout.threshold)
          const ipLocked =
            keys.ip !== undefined && (await recordFailure(ctx, keys.ip, ctx.settings.lockout.ipThreshold))
          if (locked || ipLocked)
            await ctx.emit(
              { type: 'auth.lockout', outcome: 'success', userId: user?.id, reason: locked ? 'account' : 'ip' },
              request,
            )
        }
        await ctx.emit(
          { type: 'auth.login', outcome: 'failure', reason, userId: user?.id, ...(user ? {} : { email: email ?? '' }) },
          request,
        )
        throw invalidCredentials()
      }
      if (user.totpEnabledAt !== null) {
        if (input.otp === undefined) {
          // Asked only once the password was right, so it tells nothing about unknown accounts.
          await ctx.emit({ type: 'auth.login', outcome: 'failure', reason: 'mfa-required', userId: user.id }, request)
          throw new AuthError('AUTH_MFA_REQUIRED', 'This account has a second factor: send the login again with otp.')
        }
        if (!(await secondFactorPasses(ctx, user, String(input.otp)))) {
          // A wrong code counts like a wrong password: the lockout bounds guessing of six digits.
          await recordFailure(ctx, keys.account, ctx.settings.lockout.threshold)
          await ctx.emit({ type: 'auth.login', outcome: 'failure', reason: 'wrong-otp', userId: user.id }, request)
          throw invalidCredentials()
        }
      }
      await ctx.store.clearFailures(keys.account)
      if (newHash !== undefined) {
        await ctx.store.updateUser(user.id, { passwordHash: newHash }, ctx.now())
        await ctx.emit({ type: 'auth.passwordRehash', outcome: 'success', userId: user.id }, request)
      }
      const { pair, familyId } = await startFamily(ctx, user)
      await ctx.emit({ type: 'auth.login', outcome: 'success', userId: user.id, target: familyId }, request)
      return { ...pair, user: publicUser(user) }
    },
  )
}

/** Ends the sign-in of a refresh token (its whole family). An unknown token is not an error. */
export async function logout(ctx: FlowContext, refreshToken: unknown, request?: RequestContext): Promise<void> {
  const family = await familyOf(ctx, refreshToken)
  if (!family) {
    await ctx.emit({ type: 'auth.logout', outcome: 'failure', reason: 'unknown-token' }, request)
    return
  }
  await ctx.store.revokeFamily(family.familyId, ctx.now())
  await ctx.emit({ type: 'auth.logout', outcome: 'success', userId: family.userId, target: family.familyId }, request)
}

/** Ends every sign-in of a user: all refresh families, and server sessions when configured. */
export async function logoutAll(ctx: FlowContext, userId: string, request?: RequestContext): Promise<void> {
  await ctx.store.revokeUserFamilies(userId, ctx.now())
  if (ctx.sessions) await ctx.sessions.revokeAll(userId)
  await ctx.emit({ type: 'auth.logout', outcome: 'success', userId, reason: 'everywhere' }, request)
}

/** What `changePassword()` takes. */
export interface ChangePasswordInput {
  userId: string
  currentPassword: string
  newPassword: string
  /** The refresh token of the sign-in making the change: it stays; every other family ends. */
  keepRefreshToken?: string | undefined
  /** The server session making the change: it stays; every other session of the user ends. */
  keepSessionId?: string | undefined
}

/**
 * Changes a password after checking the current one, then ends every other sign-in (refresh
 * families and server sessions) and any pending reset token.
 */
export async function changePassword(
  ctx: FlowContext,
  input: ChangePasswordInput,
  request?: RequestContext,
): Promise<void> {
  const user = await ctx.store.findUserById(input.userId)
  const ok =
    user !== undefined &&
    (await ctx.passwords.verify(user.passwordHash, String(input.currentPassword)).catch((err: unknown) => {
      if (isKryptoError(err)) return false
      throw err
    }))
  if (!user || !ok) {
    await ctx.emit(
      { type: 'auth.passwordChange', outcome: 'failure', userId: input.userId, reason: 'wrong-password' },
      request,
    )
    throw invalidCredentials()
  }
  const next = await enforcePasswordRules(input.newPassword, ctx.rules, [user.email.split('@')[0] as string])
  const now = ctx.now()
  await ctx.store.updateUser(user.id, { passwordHash: await ctx.passwords.hash(next) }, now)
  const keep = await familyOf(ctx, input.keepRefreshToken)
  await ctx.store.revokeUserFamilies(user.id, now, keep?.userId === user.id ? keep.familyId : undefined)
  if (ctx.sessions)
    await ctx.sessions.revokeAll(user.id, input.keepSessionId === undefined ? {} : { except: input.keepSessionId })
  await ctx.store.deleteOneTimeFor(user.id, 'reset')
  await ctx.emit({ type: 'auth.passwordChange', outcome: 'success', userId: user.id }, request)
}
