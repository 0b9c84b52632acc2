import bcrypt from 'bcryptjs'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { setArgon2ForTesting } from '../src/password.ts'
import {
  ARGON2_DEFAULTS,
  PASSWORD_LIMITS,
  SCRYPT_DEFAULTS,
  checkPasswordPolicy,
  createPasswordHasher,
  hasArgon2,
  isKryptoError,
} from '../src/index.ts'

// Small costs keep the suite fast; the defaults are checked once below.
const fast = { argon2: { memory: 256, passes: 1 }, scrypt: { cost: 10 } } as const

describe('argon2id', () => {
  it('hashes to a PHC string and verifies only the right password', async () => {
    const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
    const stored = await hasher.hash('correct horse battery staple')
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=256,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/)
    expect(await hasher.verify(stored, 'correct horse battery staple')).toBe(true)
    expect(await hasher.verify(stored, 'correct horse battery stapl')).toBe(false)
    expect(await hasher.hash('same')).not.toBe(await hasher.hash('same'))
  })

  it('normalizes Unicode so the same password typed differently verifies', async () => {
    const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
    const stored = await hasher.hash('caf\u00e9')
    expect(await hasher.verify(stored, 'cafe\u0301')).toBe(true)
  })

  it('uses OWASP defaults (19 MiB, t=2, p=1) and they really run', async () => {
    expect(ARGON2_DEFAULTS).toEqual({ memory: 19456, passes: 2, parallelism: 1 })
    expect(SCRYPT_DEFAULTS).toEqual({ cost: 17, blockSize: 8, parallelism: 1 })
    const hasher = createPasswordHasher()
    expect(hasher.algorithm).toBe(hasArgon2() ? 'argon2id' : 'scrypt')
    const stored = await hasher.hash('pw')
    expect(stored.startsWith('$argon2id$v=19$m=19456,t=2,p=1$')).toBe(true)
    expect(await hasher.verify(stored, 'pw')).toBe(true)
    expect(hasher.needsRehash(stored)).toBe(false)
  })

  it('a pepper is required to verify', async () => {
    const peppered = createPasswordHasher({ algorithm: 'argon2id', ...fast, pepper: 'server-secret' })
    const stored = await peppered.hash('pw')
    expect(await peppered.verify(stored, 'pw')).toBe(true)
    expect(await createPasswordHasher({ algorithm: 'argon2id', ...fast }).verify(stored, 'pw')).toBe(false)
  })
})

describe('needsRehash and transparent upgrade', () => {
  it('hashes made before a parameter change still verify and report needsRehash', async () => {
    const v1 = createPasswordHasher({ algorithm: 'argon2id', argon2: { memory: 256, passes: 1 } })
    const v2 = createPasswordHasher({ algorithm: 'argon2id', argon2: { memory: 512, passes: 2 } })
    const old = await v1.hash('pw')
    expect(v1.needsRehash(old)).toBe(false)
    expect(v2.needsRehash(old)).toBe(true)
    expect(await v2.verify(old, 'pw')).toBe(true)
    const { valid, newHash } = await v2.verifyAndUpgrade(old, 'pw')
    expect(valid).toBe(true)
    expect(newHash).toMatch(/^\$argon2id\$v=19\$m=512,t=2,p=1\$/)
    expect(v2.needsRehash(newHash as string)).toBe(false)
    expect(await v2.verifyAndUpgrade(old, 'wrong')).toEqual({ valid: false })
    expect(await v2.verifyAndUpgrade(newHash as string, 'pw')).toEqual({ valid: true })
  })

  it('migrates bcrypt hashes: verify (2a, 2b, 2y), then always rehash', async () => {
    const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
    const legacy = bcrypt.hashSync('hunter2', 4)
    for (const prefix of ['$2a$', '$2b$', '$2y$']) {
      const h = prefix + legacy.slice(4)
      expect(await hasher.verify(h, 'hunter2')).toBe(true)
      expect(await hasher.verify(h, 'hunter3')).toBe(false)
      expect(hasher.needsRehash(h)).toBe(true)
    }
    const { newHash } = await hasher.verifyAndUpgrade(legacy, 'hunter2')
    expect(newHash?.startsWith('$argon2id$')).toBe(true)
  })

  it('moves scrypt hashes to argon2id once available', async () => {
    const scryptHasher = createPasswordHasher({ algorithm: 'scrypt', ...fast })
    const argonHasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
    const s = await scryptHasher.hash('pw')
    expect(s).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/)
    expect(await argonHasher.verify(s, 'pw')).toBe(true)
    expect(argonHasher.needsRehash(s)).toBe(true)
  })
})

describe('Node 22 fallback (argon2 missing)', () => {
  // Saved before each test and restored after, whatever the test does or where it fails, so
  // no other test (in any order) ever runs without argon2.
  let saved: ReturnType<typeof setArgon2ForTesting>
  beforeEach(() => {
    saved = setArgon2ForTesting(undefined)
    setArgon2ForTesting(saved)
  })
  afterEach(() => {
    setArgon2ForTesting(saved)
  })

  it('auto picks scrypt, refuses argon2id explicitly, and says why it cannot verify argon2 hashes', async () => {
    const withArgon = createPasswordHasher({ algorithm: 'argon2id', ...fast })
    const argonHash = await withArgon.hash('pw')
    setArgon2ForTesting(undefined)
    expect(hasArgon2()).toBe(false)
    const hasher = createPasswordHasher({ ...fast })
    expect(hasher.algorithm).toBe('scrypt')
    const stored = await hasher.hash('pw')
    expect(stored.startsWith('$scrypt$ln=10,r=8,p=1$')).toBe(true)
    expect(await hasher.verify(stored, 'pw')).toBe(true)
    expect(await hasher.verify(stored, 'px')).toBe(false)
    expect(() => createPasswordHasher({ algorithm: 'argon2id' })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_UNSUPPORTED' }),
    )
    await expect(hasher.verify(argonHash, 'pw')).rejects.toMatchObject({ code: 'KRYPTO_UNSUPPORTED' })
  })

  it('runs with argon2 present again in the next test, whatever the previous one did', () => {
    expect(hasArgon2()).toBe(true)
    expect(createPasswordHasher().algorithm).toBe('argon2id')
  })
})

describe('bounded work', () => {
  const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
  const salt = 'c2FsdHNhbHRzYWx0c2FsdA'
  const hash = 'aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g'

  it.each([
    [`$argon2id$v=19$m=2097152,t=1,p=1$${salt}$${hash}`, /argon2 memory must be 8\*parallelism to 262144 KiB/],
    [`$argon2id$v=19$m=65536,t=1000,p=1$${salt}$${hash}`, /argon2 passes must be 1-16/],
    [`$argon2id$v=19$m=262144,t=8,p=1$${salt}$${hash}`, /memory × passes must stay within/],
    [`$argon2id$v=19$m=4096,t=1,p=255$${salt}$${hash}`, /argon2 parallelism must be 1-16/],
    [`$scrypt$ln=24,r=8,p=1$${salt}$${hash}`, /scrypt cost \(log2 N\) must be 1-20/],
    [`$scrypt$ln=17,r=64,p=1$${salt}$${hash}`, /scrypt blockSize must be 1-32/],
    [`$scrypt$ln=18,r=16,p=1$${salt}$${hash}`, /scrypt memory 128·N·r must stay within 256 MiB/],
    [`$scrypt$ln=17,r=8,p=16$${salt}$${hash}`, /scrypt work N·r·p must stay within 2\^23/],
    [`$2b$31$${'a'.repeat(53)}`, /bcrypt cost must be 4-15, got 31/],
    [`$2b$03$${'a'.repeat(53)}`, /bcrypt cost must be 4-15, got 3/],
  ])('a stored hash asking for too much work is refused before hashing: %s', async (stored, why) => {
    await expect(hasher.verify(stored, 'pw')).rejects.toMatchObject({
      code: 'KRYPTO_PASSWORD_HASH_MALFORMED',
      message: expect.stringMatching(why),
    })
  })

  it('refuses a stored hash longer than 512 characters and oversize salts or hashes', async () => {
    await expect(hasher.verify(`$argon2id$v=19$m=256,t=1,p=1$${salt}$${'A'.repeat(600)}`, 'pw')).rejects.toMatchObject({
      message: expect.stringContaining('longer than 512 characters'),
    })
    await expect(hasher.verify(`$argon2id$v=19$m=256,t=1,p=1$${salt}$${'A'.repeat(200)}`, 'pw')).rejects.toMatchObject({
      message: expect.stringContaining('bad salt or hash'),
    })
  })

  it('configured costs past the limits are refused at creation, naming the option', () => {
    for (const [options, param] of [
      [{ argon2: { memory: 300_000 } }, 'argon2.memory'],
      [{ argon2: { memory: 131_072, passes: 9 } }, 'argon2.passes'],
      [{ scrypt: { cost: 21 } }, 'scrypt.cost'],
      [{ scrypt: { cost: 18, blockSize: 16 } }, 'scrypt.blockSize'],
    ] as const) {
      expect(() => createPasswordHasher(options)).toThrow(
        expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT', details: { param } }),
      )
    }
    expect(PASSWORD_LIMITS.argon2.memory).toBe(262_144)
  })

  it('checks the length before normalizing a long password', async () => {
    const normalize = vi.spyOn(String.prototype, 'normalize')
    try {
      await expect(hasher.hash('e\u0301'.repeat(600))).rejects.toMatchObject({ code: 'KRYPTO_INVALID_ARGUMENT' })
      const stored = await hasher.hash('pw')
      normalize.mockClear()
      await expect(hasher.verify(stored, 'x'.repeat(5000))).rejects.toMatchObject({ code: 'KRYPTO_INVALID_ARGUMENT' })
      expect(normalize).not.toHaveBeenCalled()
      expect(checkPasswordPolicy('a'.repeat(100_000)).problems).toEqual([
        { code: 'too-long', message: 'Use at most 128 characters.' },
      ])
      expect(normalize).not.toHaveBeenCalled()
    } finally {
      normalize.mockRestore()
    }
  })
})

describe('malformed input', () => {
  const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
  it.each([
    'plain',
    '$md5$abc',
    '$argon2id$v=18$m=1,t=1,p=1$c2FsdHNhbHQ$aGFzaA',
    '$argon2id$v=19$m=x,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$argon2id$v=19$m=256,t=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$scrypt$ln=99,r=8,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA',
    '$2b$04$short',
  ])('%s is KRYPTO_PASSWORD_HASH_MALFORMED', async (h) => {
    await expect(hasher.verify(h, 'pw')).rejects.toMatchObject({ code: 'KRYPTO_PASSWORD_HASH_MALFORMED' })
    let caught: unknown
    try {
      hasher.needsRehash(h)
    } catch (err) {
      caught = err
    }
    expect(isKryptoError(caught, 'KRYPTO_PASSWORD_HASH_MALFORMED')).toBe(true)
  })
  it('refuses over-long passwords and bad parameters', async () => {
    await expect(hasher.hash('x'.repeat(1025))).rejects.toMatchObject({ code: 'KRYPTO_INVALID_ARGUMENT' })
    expect(() => createPasswordHasher({ argon2: { passes: 0 } })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }),
    )
    expect(() => createPasswordHasher({ scrypt: { cost: 40 } })).toThrow(
      expect.objectContaining({ code: 'KRYPTO_INVALID_ARGUMENT' }),
    )
  })
})

describe('password policy', () => {
  it('reports every problem', () => {
    expect(checkPasswordPolicy('correct horse battery staple')).toEqual({ ok: true, problems: [] })
    expect(checkPasswordPolicy('short').problems.map((p) => p.code)).toEqual(['too-short'])
    expect(checkPasswordPolicy('password1234').problems.map((p) => p.code)).toContain('common')
    expect(checkPasswordPolicy('Password123!').problems.map((p) => p.code)).toContain('common')
    expect(checkPasswordPolicy('aaaaaaaaaaaaaa').problems.map((p) => p.code)).toEqual(['repetitive'])
    expect(checkPasswordPolicy('ada.lovelace-2026', { forbidden: ['lovelace'] }).problems.map((p) => p.code)).toEqual([
      'contains-user-input',
    ])
    expect(checkPasswordPolicy('alllowercaseletters', { minClasses: 3 }).problems.map((p) => p.code)).toEqual([
      'too-few-classes',
    ])
    expect(checkPasswordPolicy('abcdefghijklmnopqrstu', { maxLength: 16 }).problems.map((p) => p.code)).toEqual([
      'too-long',
    ])
    // Code points, not UTF-16 units: 12 emoji are 12 characters.
    expect(checkPasswordPolicy('🦫🌲🦫🌲🌊🪵🦫🌲🦫🌲🌊🪵').ok).toBe(true)
  })
})

describe('observability', () => {
  it('publishes hash and verify on beaver:krypto tracing channels, without the password or hash', async () => {
    const { tracingChannel } = await import('node:diagnostics_channel')
    const seen: unknown[] = []
    const handlers = {
      start: (m: unknown) => seen.push(m),
      end: () => {},
      asyncStart: () => {},
      asyncEnd: () => {},
      error: () => {},
    }
    const hashCh = tracingChannel('beaver:krypto:passwordHash')
    const verifyCh = tracingChannel('beaver:krypto:passwordVerify')
    hashCh.subscribe(handlers)
    verifyCh.subscribe(handlers)
    try {
      const hasher = createPasswordHasher({ algorithm: 'argon2id', ...fast })
      const stored = await hasher.hash('secret-pw')
      expect(await hasher.verify(stored, 'secret-pw')).toBe(true)
      // A plain-text password stored by a legacy system must not leak through the channel either.
      for (const legacy of ['legacy$secret-pw$x', '$secret-pw$x'])
        await expect(hasher.verify(legacy, 'secret-pw')).rejects.toMatchObject({
          code: 'KRYPTO_PASSWORD_HASH_MALFORMED',
        })
      expect(seen).toEqual([
        { algorithm: 'argon2id' },
        { algorithm: 'argon2id' },
        expect.objectContaining({ algorithm: 'unknown' }),
        expect.objectContaining({ algorithm: 'unknown' }),
      ])
      const errors = seen.map((m) => String((m as { error?: Error }).error?.message))
      expect(JSON.stringify(seen) + errors.join()).not.toContain('secret-pw')
    } finally {
      hashCh.unsubscribe(handlers)
      verifyCh.unsubscribe(handlers)
    }
  })
})
