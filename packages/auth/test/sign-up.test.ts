// Enumeration-safe sign-up (requestSignUp / completeSignUp): the same answer, events aside, and
// the same work for an address with an account and one without; no account before its owner
// follows the link; the link works once, until it expires, and only as it was sealed.
import { tracingChannel } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { createKrypto, hashToken } from '@beaver-kit/krypto'
import { createAuth, createMemoryAuthStore } from '@beaver-kit/auth'
import { authSubject, eventuallyFind, kryptoOf, refusal, type AuthSubject } from './suite.ts'

const PW = 'correct horse battery staple'
const PW2 = 'another long passphrase here'
let subject: AuthSubject | undefined
const s = (): AuthSubject => (subject ??= authSubject('signup', createMemoryAuthStore()))
afterEach(async () => {
  await subject?.close()
  subject = undefined
})

describe('enumeration-safe sign-up', () => {
  it('answers a taken and a new address alike, does the same work for both, and mails each its own message', async () => {
    const { auth, store, delivered } = s()
    const owner = await auth.register({ email: 'taken@example.com', password: PW })
    const lookups: string[] = []
    const find = store.findUserByEmail.bind(store)
    store.findUserByEmail = (email) => (lookups.push(email), find(email))
    // krypto publishes every password hash on its tracing channel: count the argon2id work.
    let hashes = 0
    const counter = {
      start: () => void hashes++,
      end: () => {},
      asyncStart: () => {},
      asyncEnd: () => {},
      error: () => {},
    }
    const hashChannel = tracingChannel('beaver:krypto:passwordHash')
    hashChannel.subscribe(counter)

    const taken = await auth.requestSignUp({ email: 'Taken@Example.com', password: PW2 })
    const takenHashes = hashes
    const fresh = await auth.requestSignUp({ email: 'new@example.com', password: PW2 })
    expect(fresh).toEqual(taken)
    expect(takenHashes).toBe(1)
    expect(hashes).toBe(2)
    hashChannel.unsubscribe(counter)
    expect(lookups).toEqual(['taken@example.com', 'new@example.com'])

    const exists = await eventuallyFind(delivered, (m) => m.kind === 'account-exists')
    const link = await eventuallyFind(delivered, (m) => m.kind === 'complete-sign-up')
    expect(exists).toMatchObject({ to: 'taken@example.com', userId: owner.id })
    expect(link).toMatchObject({ to: 'new@example.com' })
    expect(delivered.filter((m) => m.kind === 'account-exists' || m.kind === 'complete-sign-up')).toHaveLength(2)
    // The owner's password is untouched, and the sign-up's password does not open the account.
    await auth.login({ email: 'taken@example.com', password: PW })
    const wrong = await refusal(auth.login({ email: 'taken@example.com', password: PW2 }))
    expect(wrong.code).toBe('AUTH_INVALID_CREDENTIALS')
    // The "account exists" mail carries a working password reset link.
    await auth.resetPassword(exists.token, PW2)
    await auth.login({ email: 'taken@example.com', password: PW2 })
  })

  it('creates no account until the link is followed: signing in before it is the unknown-account answer', async () => {
    const { auth, delivered } = s()
    await auth.requestSignUp({ email: 'early@example.com', password: PW })
    const link = await eventuallyFind(delivered, (m) => m.kind === 'complete-sign-up')
    expect(await auth.findUserByEmail('early@example.com')).toBeUndefined()
    const early = await refusal(auth.login({ email: 'early@example.com', password: PW }))
    const unknown = await refusal(auth.login({ email: 'nobody@example.com', password: PW }))
    expect(early).toEqual(unknown)

    const user = await auth.completeSignUp(link.token)
    expect(user).toMatchObject({ id: link.userId, email: 'early@example.com', emailVerified: true, roles: [] })
    const { user: signedIn } = await auth.login({ email: 'early@example.com', password: PW })
    expect(signedIn.id).toBe(user.id)
    // The link holds the pending account encrypted: neither the password nor its hash shows.
    expect(link.token.startsWith('su_')).toBe(true)
    expect(link.token).not.toContain('argon2')
    expect(link.token).not.toContain('early')
  })

  it('takes a link once, until it expires, and refuses one altered or sealed for something else', async () => {
    const { auth, delivered, clock, build } = s()
    await auth.requestSignUp({ email: 'once@example.com', password: PW })
    const once = await eventuallyFind(delivered, (m) => m.kind === 'complete-sign-up' && m.to === 'once@example.com')
    const last = once.token.at(-1) === 'A' ? 'B' : 'A'
    expect((await refusal(auth.completeSignUp(once.token.slice(0, -1) + last))).code).toBe('AUTH_TOKEN_INVALID')
    await auth.completeSignUp(once.token)
    expect((await refusal(auth.completeSignUp(once.token))).code).toBe('AUTH_TOKEN_INVALID')

    await auth.requestSignUp({ email: 'late@example.com', password: PW })
    const late = await eventuallyFind(delivered, (m) => m.kind === 'complete-sign-up' && m.to === 'late@example.com')
    expect(late.expiresAt - clock.now()).toBe(48 * 3_600_000)
    clock.advance(48 * 3_600_000)
    expect((await refusal(auth.completeSignUp(late.token))).code).toBe('AUTH_TOKEN_INVALID')
    expect(await auth.findUserByEmail('late@example.com')).toBeUndefined()

    // The same key ring's envelope of a well-formed pending account, but not made for sign-up.
    const forged = kryptoOf(build).encrypt(
      JSON.stringify({ id: 'x', email: 'forged@example.com', passwordHash: 'h', roles: ['admin'], expiresAt: 9e15 }),
    )
    expect((await refusal(auth.completeSignUp(`su_${forged}`))).code).toBe('AUTH_TOKEN_INVALID')
    expect((await refusal(auth.completeSignUp(hashToken('su_x')))).code).toBe('AUTH_TOKEN_INVALID')
  })

  it('needs a mailer and a key ring, and says so', async () => {
    const noKeys = createKrypto({ envPrefix: false, password: { argon2: { memory: '64kb', passes: 1 } } })
    await using mailless = createAuth({ envPrefix: false, krypto: noKeys, limiter: false })
    expect((await refusal(mailless.requestSignUp({ email: 'a@example.com', password: PW }))).code).toBe(
      'AUTH_OPTIONS_INVALID',
    )
    await using keyless = createAuth({ envPrefix: false, krypto: noKeys, limiter: false, deliver: () => {} })
    const refused = await refusal(keyless.requestSignUp({ email: 'a@example.com', password: PW }))
    expect(refused).toMatchObject({ code: 'AUTH_OPTIONS_INVALID' })
    expect(refused.message).toContain('BEAVER_KRYPTO_KEYS')
    await noKeys.close()
  })
})
