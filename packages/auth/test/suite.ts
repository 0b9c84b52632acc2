// The auth conformance suite: every store (memory, SQLite, PostgreSQL, MariaDB) runs all of it
// through the facade, on a fake clock, with cheap password hashing (the costs are krypto's
// concern and tested there). Each case registers its own accounts under its own namespace.
import { expect, it } from 'vitest'
import { createKrypto, generateKeyRingEntry, hashToken, type Krypto } from '@beaver-kit/krypto'
import { defineConformanceSuite } from '@beaver-kit/testkit/conformance'
import {
  createAuth,
  isAuthError,
  type Auth,
  type AuthEvent,
  type AuthMessage,
  type AuthOptions,
  type AuthStore,
} from '@beaver-kit/auth'

export interface AuthSubject {
  auth: Auth
  store: AuthStore
  clock: { now(): number; advance(ms: number): void }
  delivered: AuthMessage[]
  events: AuthEvent[]
  /** Another facade over the same store and clock, with other options (password costs, lockout). */
  build(options?: AuthOptions): Auth
  ns: string
  close(): Promise<void>
}

const kryptos = new WeakMap<AuthSubject['build'], Krypto>()
/** The krypto of a subject (its TOTP codes follow the subject's clock). */
export const kryptoOf = (build: AuthSubject['build']): Krypto => kryptos.get(build) as Krypto

export const cheapKrypto = (memory = '64kb', keys = [generateKeyRingEntry('k1')], now?: () => number) =>
  createKrypto({
    envPrefix: false,
    keys,
    password: { algorithm: 'argon2id', argon2: { memory, passes: 1 } },
    ...(now ? { now } : {}),
  })

/** A subject over a store: the factory of each store's test file calls this. */
export function authSubject(ns: string, store: AuthStore, onClose: () => Promise<void> = async () => {}): AuthSubject {
  let t = Date.UTC(2026, 11, 6)
  const clock = { now: () => t, advance: (ms: number) => void (t += ms) }
  const delivered: AuthMessage[] = []
  const events: AuthEvent[] = []
  const built: Auth[] = []
  const krypto = cheapKrypto('64kb', [generateKeyRingEntry('k1')], clock.now)
  const build = (options: AuthOptions = {}): Auth => {
    const a = createAuth({
      envPrefix: false,
      storeInstance: store,
      krypto,
      now: clock.now,
      limiter: false,
      deliver: (m) => void delivered.push(m),
      onEvent: (e) => void events.push(e),
      issuer: 'suite',
      audience: 'suite-api',
      roles: { admin: { inherits: ['editor'], permissions: ['user:*'] }, editor: { permissions: ['link:*'] } },
      ...options,
    })
    built.push(a)
    return a
  }
  kryptos.set(build, krypto)
  return {
    auth: build(),
    store,
    clock,
    delivered,
    events,
    build,
    ns,
    async close() {
      for (const a of built) await a.close()
      await krypto.close()
      await onClose()
    },
  }
}

const PW = 'correct horse battery staple'
const PW2 = 'another long passphrase here'

export async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string; details: unknown }> {
  const err = await p.then(
    () => {
      throw new Error('expected a refusal')
    },
    (e: unknown) => e,
  )
  if (!isAuthError(err)) throw err
  return { code: err.code, message: err.message, details: err.details }
}

export const describeAuthStore = defineConformanceSuite<AuthSubject>('auth', (ctx) => {
  const s = () => ctx.subject()
  const email = (name = 'ann') => `${name}.${s().ns}@Example.com`

  it('registers with a normalized e-mail and a hashed password, logs in, and authenticates the bearer token', async () => {
    const { auth, store } = s()
    const user = await auth.register({ email: `  ${email()} `, password: PW })
    expect(user.email).toBe(email().toLowerCase())
    expect(user.emailVerified).toBe(false)
    const stored = await store.findUserById(user.id)
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$/)
    expect(stored?.passwordHash).not.toContain(PW)
    const pair = await auth.login({ email: email().toUpperCase(), password: PW })
    expect(pair.user.id).toBe(user.id)
    expect(pair.tokenType).toBe('Bearer')
    const principal = await auth.authenticate({ headers: { authorization: `Bearer ${pair.accessToken}` } })
    expect(principal).toMatchObject({ userId: user.id, via: 'bearer', roles: [] })
    expect(await auth.authenticate({ headers: {} })).toBeUndefined()
    expect((await refusal(auth.register({ email: email(), password: PW }))).code).toBe('AUTH_EMAIL_TAKEN')
  })

  it('applies the password policy: minimum, maximum, common passwords and the breached hook', async () => {
    const breached = new Set(['breached but long enough'])
    const auth = s().build({ breachedPassword: (p) => breached.has(p), password: { maxLength: 64 } })
    expect((await refusal(auth.register({ email: email(), password: 'short' }))).code).toBe('AUTH_PASSWORD_REJECTED')
    const long = await refusal(auth.register({ email: email(), password: 'x'.repeat(1_000_000) }))
    expect(long.details).toEqual({ problems: [expect.objectContaining({ code: 'too-long' })] })
    const hit = await refusal(auth.register({ email: email(), password: 'breached but long enough' }))
    expect(hit.details).toEqual({ problems: [expect.objectContaining({ code: 'breached' })] })
    expect((await refusal(auth.register({ email: email(), password: 'password1234' }))).code).toBe(
      'AUTH_PASSWORD_REJECTED',
    )
    expect(await s().store.findUserByEmail(email().toLowerCase())).toBeUndefined()
  })

  it('verifies the e-mail with a single-use token stored only as its hash', async () => {
    const { auth, store, delivered } = s()
    const user = await auth.register({ email: email(), password: PW })
    const message = delivered.find((m) => m.userId === user.id && m.kind === 'verify-email')
    expect(message?.to).toBe(email().toLowerCase())
    const token = message?.token as string
    expect(await store.consumeOneTime(token, 'verify', s().clock.now())).toBeUndefined()
    expect((await auth.verifyEmail(token)).emailVerified).toBe(true)
    expect((await refusal(auth.verifyEmail(token))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await auth.getUser(user.id))?.emailVerified).toBe(true)
  })

  it('starts an account verified, with no verification mail, when the caller proved the address', async () => {
    const { auth, delivered } = s()
    const user = await auth.register({ email: email(), password: PW, emailVerified: true })
    expect(user.emailVerified).toBe(true)
    expect((await auth.getUser(user.id))?.emailVerified).toBe(true)
    expect(delivered.filter((m) => m.userId === user.id)).toEqual([])
  })

  it('rehashes a password transparently when the hashing parameters change', async () => {
    const { auth, store, build } = s()
    const user = await auth.register({ email: email(), password: PW })
    const before = (await store.findUserById(user.id))?.passwordHash
    const stronger = cheapKrypto('128kb')
    try {
      await build({ krypto: stronger }).login({ email: email(), password: PW })
      const after = (await store.findUserById(user.id))?.passwordHash
      expect(before).toMatch(/m=64,/)
      expect(after).toMatch(/m=128,/)
      expect(s().events.some((e) => e.type === 'auth.passwordRehash' && e.userId === user.id)).toBe(true)
      await auth.login({ email: email(), password: PW })
    } finally {
      await stronger.close()
    }
  })

  it('rotates refresh tokens, and a reused one revokes its whole family', async () => {
    const { auth } = s()
    await auth.register({ email: email(), password: PW })
    const first = await auth.login({ email: email(), password: PW })
    const second = await auth.refresh(first.refreshToken)
    expect(second.refreshToken).not.toBe(first.refreshToken)
    expect(auth.verifyAccessToken(second.accessToken).userId).toBe(first.user.id)
    const reuse = await refusal(auth.refresh(first.refreshToken))
    expect(reuse.code).toBe('AUTH_REFRESH_REUSED')
    expect((await refusal(auth.refresh(second.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
    expect(s().events.some((e) => e.type === 'auth.refresh' && e.reason === 'reused')).toBe(true)
    const other = await auth.login({ email: email(), password: PW })
    await auth.refresh(other.refreshToken)
  })

  it('lets exactly one of two concurrent refreshes with one token win', async () => {
    const { auth } = s()
    await auth.register({ email: email(), password: PW })
    const pair = await auth.login({ email: email(), password: PW })
    const results = await Promise.allSettled([auth.refresh(pair.refreshToken), auth.refresh(pair.refreshToken)])
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
    const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    expect(loser.reason).toMatchObject({ code: 'AUTH_REFRESH_REUSED' })
  })

  it('expires refresh tokens and refuses unknown or malformed ones', async () => {
    const { auth, clock } = s()
    await auth.register({ email: email(), password: PW })
    const pair = await auth.login({ email: email(), password: PW })
    expect((await refusal(auth.refresh('rt_' + 'A'.repeat(43)))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.refresh('not a token'))).code).toBe('AUTH_TOKEN_INVALID')
    clock.advance(31 * 86_400_000)
    expect((await refusal(auth.refresh(pair.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('logs out one family, and changing the password ends every other sign-in', async () => {
    const { auth } = s()
    await auth.register({ email: email(), password: PW })
    const a = await auth.login({ email: email(), password: PW })
    const b = await auth.login({ email: email(), password: PW })
    const c = await auth.login({ email: email(), password: PW })
    await auth.logout(a.refreshToken)
    expect((await refusal(auth.refresh(a.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
    await auth.logout('rt_unknown')
    const wrong = await refusal(
      auth.changePassword({ userId: b.user.id, currentPassword: 'not it at all', newPassword: PW2 }),
    )
    expect(wrong.code).toBe('AUTH_INVALID_CREDENTIALS')
    await auth.changePassword({
      userId: b.user.id,
      currentPassword: PW,
      newPassword: PW2,
      keepRefreshToken: b.refreshToken,
    })
    await auth.refresh(b.refreshToken)
    expect((await refusal(auth.refresh(c.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.login({ email: email(), password: PW }))).code).toBe('AUTH_INVALID_CREDENTIALS')
    const d = await auth.login({ email: email(), password: PW2 })
    await auth.logoutAll(b.user.id)
    expect((await refusal(auth.refresh(d.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('resets a password with a single-use, hashed, one-hour token, the same answer for unknown accounts', async () => {
    const { auth, delivered, clock, store } = s()
    const user = await auth.register({ email: email(), password: PW })
    const session = await auth.login({ email: email(), password: PW })
    const count = delivered.length
    const known = await auth.requestPasswordReset(email())
    const unknown = await auth.requestPasswordReset(email('nobody'))
    expect(unknown).toEqual(known)
    const reset = await eventuallyFind(delivered, (m) => m.kind === 'reset-password' && m.userId === user.id)
    expect(delivered.slice(count).filter((m) => m.kind === 'reset-password')).toHaveLength(1)
    expect(await store.consumeOneTime(reset.token, 'reset', clock.now())).toBeUndefined()
    const tampered = reset.token.slice(0, -2) + (reset.token.endsWith('AA') ? 'BB' : 'AA')
    expect((await refusal(auth.resetPassword(tampered, PW2))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.resetPassword(reset.token, 'short'))).code).toBe('AUTH_PASSWORD_REJECTED')
    await auth.resetPassword(reset.token, PW2)
    expect((await refusal(auth.resetPassword(reset.token, PW2))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.refresh(session.refreshToken))).code).toBe('AUTH_TOKEN_INVALID')
    await auth.login({ email: email(), password: PW2 })

    await auth.requestPasswordReset(email())
    const late = await eventuallyFind(delivered, (m) => m.kind === 'reset-password' && m.token !== reset.token)
    expect(late.expiresAt - clock.now()).toBe(3_600_000)
    clock.advance(3_600_001)
    expect((await refusal(auth.resetPassword(late.token, PW))).code).toBe('AUTH_TOKEN_INVALID')
    expect(hashToken(late.token)).not.toBe(late.token)
  })

  it('answers wrong password, unknown account and a delayed account the same way, and the delay ends', async () => {
    const { auth, clock } = s()
    const a = s().build({ lockout: { threshold: 3, baseDelay: '30s', maxDelay: '2m' } })
    await auth.register({ email: email(), password: PW })
    const wrong = await refusal(a.login({ email: email(), password: 'wrong password!' }))
    const unknown = await refusal(a.login({ email: email('ghost'), password: PW }))
    await refusal(a.login({ email: email(), password: 'wrong password!' }))
    await refusal(a.login({ email: email(), password: 'wrong password!' }))
    const locked = await refusal(a.login({ email: email(), password: PW }))
    expect(wrong).toEqual(unknown)
    expect(locked).toEqual(wrong)
    expect(wrong.code).toBe('AUTH_INVALID_CREDENTIALS')
    expect(
      s()
        .events.filter((e) => e.type === 'auth.login' && e.outcome === 'failure')
        .map((e) => e.reason),
    ).toEqual(expect.arrayContaining(['wrong-password', 'unknown-user', 'locked']))
    // Attempts during the delay neither count nor lengthen it.
    for (let i = 0; i < 5; i++) await refusal(a.login({ email: email(), password: 'wrong password!' }))
    clock.advance(30_001)
    await a.login({ email: email(), password: PW })
    // The next run of failures starts over at the base delay, doubling: a backoff, capped.
    for (let i = 0; i < 3; i++) await refusal(a.login({ email: email(), password: 'wrong password!' }))
    clock.advance(30_001)
    await refusal(a.login({ email: email(), password: 'wrong password!' }))
    await refusal(a.login({ email: email(), password: PW }))
    clock.advance(60_001)
    await a.login({ email: email(), password: PW })
  })

  it('lifts an account delay with a single-use unlock link, the same answer for unknown accounts', async () => {
    const { auth, delivered } = s()
    const a = s().build({ lockout: { threshold: 2, baseDelay: '15m', maxDelay: '15m' } })
    const user = await auth.register({ email: email(), password: PW })
    await refusal(a.login({ email: email(), password: 'wrong password!' }))
    await refusal(a.login({ email: email(), password: 'wrong password!' }))
    expect((await refusal(a.login({ email: email(), password: PW }))).code).toBe('AUTH_INVALID_CREDENTIALS')
    expect(await a.requestUnlock(email('nobody'))).toEqual(await a.requestUnlock(email()))
    const link = await eventuallyFind(delivered, (m) => m.kind === 'unlock-account' && m.userId === user.id)
    expect(delivered.filter((m) => m.kind === 'unlock-account')).toHaveLength(1)
    expect((await refusal(a.unlock('ul_forged'))).code).toBe('AUTH_TOKEN_INVALID')
    await a.unlock(link.token)
    await a.login({ email: email(), password: PW })
    expect((await refusal(a.unlock(link.token))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('delays a client IP that fails across many accounts', async () => {
    const { auth, clock } = s()
    const a = s().build({ lockout: { threshold: 100, ipThreshold: 3, baseDelay: '10s' } })
    await auth.register({ email: email(), password: PW })
    const ip = { ip: '203.0.113.7' }
    for (const n of ['x1', 'x2', 'x3']) await refusal(a.login({ email: email(n), password: PW }, ip))
    expect((await refusal(a.login({ email: email(), password: PW }, ip))).code).toBe('AUTH_INVALID_CREDENTIALS')
    await a.login({ email: email(), password: PW }, { ip: '203.0.113.8' })
    clock.advance(10_001)
    await a.login({ email: email(), password: PW }, ip)
  })

  it('issues prefixed, hashed, scoped, expiring API keys and rejects a valid prefix with a wrong secret', async () => {
    const { auth, store, clock } = s()
    const user = await auth.register({ email: email(), password: PW })
    const key = await auth.createApiKey(user.id, { name: 'ci', scopes: ['link:read'], expiresIn: '1d' })
    expect(key.key.startsWith(`bk_${key.id}_`)).toBe(true)
    const record = await store.findApiKey(key.id)
    expect(record?.hash).toBe(hashToken(key.key.slice(`bk_${key.id}_`.length)))
    expect(JSON.stringify(record)).not.toContain(key.key.slice(-20))
    const principal = await auth.verifyApiKey(key.key)
    expect(principal).toMatchObject({ userId: user.id, via: 'apiKey', scopes: ['link:read'] })
    expect((await auth.authenticate({ headers: { authorization: `Bearer ${key.key}` } }))?.via).toBe('apiKey')
    const forged = `bk_${key.id}_${'A'.repeat(43)}`
    expect((await refusal(auth.verifyApiKey(forged))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.verifyApiKey('bk_short'))).code).toBe('AUTH_TOKEN_INVALID')
    expect(s().events.some((e) => e.type === 'auth.apiKeyUse' && e.reason === 'wrong-secret')).toBe(true)
    const [listed] = await auth.listApiKeys(user.id)
    expect(listed?.lastUsedAt).toBe(clock.now())
    expect(listed).not.toHaveProperty('hash')
    expect(listed).not.toHaveProperty('key')
    clock.advance(86_400_001)
    expect((await refusal(auth.verifyApiKey(key.key))).code).toBe('AUTH_TOKEN_INVALID')
    const other = await auth.createApiKey(user.id, { name: 'other' })
    expect(await auth.revokeApiKey('someone-else', other.id)).toBe(false)
    expect(await auth.revokeApiKey(user.id, other.id)).toBe(true)
    expect((await refusal(auth.verifyApiKey(other.key))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('changes the e-mail only through a single-use link sent to the new address', async () => {
    const { auth, delivered, clock } = s()
    const user = await auth.register({ email: email(), password: PW })
    await auth.register({ email: email('taken'), password: PW })
    expect(
      (await refusal(auth.requestEmailChange({ userId: user.id, password: 'wrong password!', newEmail: email('new') })))
        .code,
    ).toBe('AUTH_INVALID_CREDENTIALS')
    await auth.requestEmailChange({ userId: user.id, password: PW, newEmail: email('new') })
    const link = delivered.find((m) => m.kind === 'confirm-email-change' && m.userId === user.id)
    expect(link?.to).toBe(email('new').toLowerCase())
    expect((await auth.getUser(user.id))?.email).toBe(email().toLowerCase())
    expect(() => auth.verifyAccessToken(link?.token as string)).toThrow(
      expect.objectContaining({ code: 'AUTH_TOKEN_INVALID' }),
    )
    const changed = await auth.confirmEmailChange(link?.token as string)
    expect(changed).toMatchObject({ email: email('new').toLowerCase(), emailVerified: true })
    expect((await refusal(auth.confirmEmailChange(link?.token as string))).code).toBe('AUTH_TOKEN_INVALID')
    await auth.login({ email: email('new'), password: PW })
    const pair = await auth.login({ email: email('new'), password: PW })
    expect((await refusal(auth.confirmEmailChange(pair.accessToken))).code).toBe('AUTH_TOKEN_INVALID')
    await auth.requestEmailChange({ userId: user.id, password: PW, newEmail: email('taken') })
    const clash = delivered.filter((m) => m.kind === 'confirm-email-change' && m.userId === user.id).at(-1)
    expect((await refusal(auth.confirmEmailChange(clash?.token as string))).code).toBe('AUTH_EMAIL_TAKEN')
    await auth.requestEmailChange({ userId: user.id, password: PW, newEmail: email('late') })
    const late = delivered.filter((m) => m.kind === 'confirm-email-change' && m.userId === user.id).at(-1)
    clock.advance(3 * 86_400_000)
    expect((await refusal(auth.confirmEmailChange(late?.token as string))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('adds a TOTP second factor with the replay guard and single-use hashed backup codes', async () => {
    const { auth, store, clock, build } = s()
    const user = await auth.register({ email: email(), password: PW })
    const { secret, uri } = await auth.enrollTotp(user.id)
    expect(uri).toMatch(/^otpauth:\/\/totp\//)
    const stored = await store.findUserById(user.id)
    expect(stored?.totpSecret).not.toContain(secret)
    await auth.login({ email: email(), password: PW }) // not required until confirmed
    const code = (): string => kryptoOf(build).totp.code(secret)
    expect((await refusal(auth.confirmTotp(user.id, '000000' === code() ? '111111' : '000000'))).code).toBe(
      'AUTH_TOKEN_INVALID',
    )
    const { backupCodes } = await auth.confirmTotp(user.id, code())
    expect(backupCodes).toHaveLength(10)
    expect((await refusal(auth.enrollTotp(user.id))).code).toBe('AUTH_MFA_STATE')
    expect((await refusal(auth.login({ email: email(), password: PW }))).code).toBe('AUTH_MFA_REQUIRED')
    expect((await refusal(auth.login({ email: email(), password: 'wrong password!' }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
    // The code used to confirm is spent: the same step is a replay.
    expect((await refusal(auth.login({ email: email(), password: PW, otp: code() }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
    clock.advance(30_000)
    const fresh = code()
    expect((await auth.login({ email: email(), password: PW, otp: fresh })).user.mfa).toBe(true)
    expect((await refusal(auth.login({ email: email(), password: PW, otp: fresh }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
    const backup = backupCodes[0] as string
    await auth.login({ email: email(), password: PW, otp: backup.toUpperCase() })
    expect((await refusal(auth.login({ email: email(), password: PW, otp: backup }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    )
    expect((await refusal(auth.disableTotp(user.id, 'wrong password!'))).code).toBe('AUTH_INVALID_CREDENTIALS')
    await auth.disableTotp(user.id, PW)
    expect((await auth.login({ email: email(), password: PW })).user.mfa).toBe(false)
    expect((await refusal(auth.confirmTotp(user.id, code()))).code).toBe('AUTH_MFA_STATE')
  })

  it('carries roles in access tokens and checks permissions through the hierarchy', async () => {
    const { auth } = s()
    const user = await auth.register({ email: email(), password: PW })
    await auth.setRoles(user.id, ['admin'])
    expect((await refusal(auth.setRoles(user.id, ['wizard']))).code).toBe('AUTH_ROLE_UNKNOWN')
    const pair = await auth.login({ email: email(), password: PW })
    const p = auth.verifyAccessToken(pair.accessToken)
    expect(p.roles).toEqual(['admin'])
    expect(auth.can(p, 'link:delete')).toBe(true)
    expect(auth.hasRole(p, 'editor')).toBe(true)
    expect(auth.can({ roles: ['editor'] }, 'user:delete')).toBe(false)
  })
})

export async function eventuallyFind<T>(list: T[], match: (item: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const found = list.find(match)
    if (found) return found
    await new Promise((r) => setImmediate(r))
  }
  throw new Error('not delivered')
}
