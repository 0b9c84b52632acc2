import { hashToken, isKryptoError, uuidv7 } from '@beaver-kit/krypto'
import type { FlowContext, PublicUser } from './context.ts'
import { publicUser } from './context.ts'
import { AuthError, invalidCredentials, invalidToken } from './errors.ts'
import type { RequestContext } from './events.ts'
import { normalizeEmail } from './passwords.ts'

const TYP = 'email-change+jwt'

/**
 * Starts an e-mail change: checks the password, then sends a confirmation link to the new
 * address. The link is a JWT (typed, so it is never taken for an access token) naming the user
 * and the new address, and its id is stored hashed as a single-use token: it works once, for
 * `verifyTtl`. Nothing changes until it is confirmed.
 */
export async function requestEmailChange(
  ctx: FlowContext,
  input: { userId: string; password: string; newEmail: string },
  request?: RequestContext,
): Promise<void> {
  const deliver = ctx.deliver
  if (!deliver) throw new AuthError('AUTH_OPTIONS_INVALID', 'E-mail change needs the deliver option (your mailer).')
  const email = normalizeEmail(input.newEmail)
  const user = await ctx.store.findUserById(input.userId)
  const ok =
    user !== undefined &&
    (await ctx.passwords.verify(user.passwordHash, String(input.password)).catch((err: unknown) => {
      if (isKryptoError(err)) return false
      throw err
    }))
  if (!user || !ok) {
    await ctx.emit(
      { type: 'auth.emailChange', outcome: 'failure', userId: input.userId, reason: 'wrong-password' },
      request,
    )
    throw invalidCredentials()
  }
  const id = uuidv7()
  const expiresAt = ctx.now() + ctx.settings.verifyTtl
  const token = ctx.jwt.sign(
    { email },
    { subject: user.id, jwtId: id, expiresIn: ctx.settings.verifyTtl, header: { typ: TYP } },
  )
  await ctx.store.insertOneTime({ hash: hashToken(id), purpose: 'email', userId: user.id, expiresAt })
  await ctx.emit({ type: 'auth.emailChange', outcome: 'success', userId: user.id, reason: 'requested' }, request)
  await deliver({ kind: 'confirm-email-change', to: email, userId: user.id, token, expiresAt })
}

/** Confirms an e-mail change with the link's token: the new address is set, and verified. */
export async function confirmEmailChange(
  ctx: FlowContext,
  token: unknown,
  request?: RequestContext,
): Promise<PublicUser> {
  let claims: { sub: string; jti: string; email: string }
  try {
    if (typeof token !== 'string' || token.length > 2048) throw new Error('not a token')
    const { header, payload } = ctx.jwt.verifyComplete(token, { requiredClaims: ['exp', 'sub', 'jti'] })
    if (header.typ !== TYP || typeof payload.email !== 'string') throw new Error('not an e-mail change token')
    claims = { sub: payload.sub as string, jti: payload.jti as string, email: payload.email }
  } catch {
    await ctx.emit({ type: 'auth.emailChange', outcome: 'failure', reason: 'invalid-token' }, request)
    throw invalidToken('e-mail change token')
  }
  const owner = await ctx.store.consumeOneTime(hashToken(claims.jti), 'email', ctx.now())
  if (owner !== claims.sub) {
    await ctx.emit({ type: 'auth.emailChange', outcome: 'failure', userId: claims.sub, reason: 'used' }, request)
    throw invalidToken('e-mail change token')
  }
  const now = ctx.now()
  if (!(await ctx.store.updateUser(claims.sub, { email: claims.email, emailVerifiedAt: now }, now))) {
    await ctx.emit({ type: 'auth.emailChange', outcome: 'failure', userId: claims.sub, reason: 'email-taken' }, request)
    throw new AuthError('AUTH_EMAIL_TAKEN', 'Another account took this e-mail address in the meantime.')
  }
  await ctx.emit({ type: 'auth.emailChange', outcome: 'success', userId: claims.sub, reason: 'confirmed' }, request)
  const user = await ctx.store.findUserById(claims.sub)
  return publicUser(user as NonNullable<typeof user>)
}
