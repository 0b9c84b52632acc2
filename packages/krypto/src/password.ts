import * as nodeCrypto from 'node:crypto'
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { traceAsync, tracingChannel } from '@beaver-kit/core'
import { fromPhcBase64, toPhcBase64 } from './encoding.ts'
import { KryptoError, invalidArgument } from './errors.ts'

/** argon2id cost. `memory` in KiB. */
export interface Argon2Params {
  memory: number
  passes: number
  parallelism: number
}

/** scrypt cost. `cost` is log2(N). */
export interface ScryptParams {
  cost: number
  blockSize: number
  parallelism: number
}

/** Options of `createPasswordHasher`. */
export interface PasswordHasherOptions {
  /** `auto` (default) is argon2id where the runtime has it (Node >= 24.7), scrypt otherwise. */
  algorithm?: 'auto' | 'argon2id' | 'scrypt'
  /** Default: OWASP's first argon2id option, m=19456 KiB (19 MiB), t=2, p=1. */
  argon2?: Partial<Argon2Params>
  /** Default: OWASP's scrypt figure, N=2^17, r=8, p=1. */
  scrypt?: Partial<ScryptParams>
  /** A server-side secret mixed into argon2id (its `secret` input) and scrypt (HMAC of the password); stored outside the database. */
  pepper?: Uint8Array | string
  /** Longest password accepted, in bytes (hashing a megabyte is a denial of service). Default 1024. */
  maxLength?: number
}

/** The outcome of `verifyAndUpgrade`: whether the password matched and, if the stored hash is outdated, its replacement. */
export interface PasswordCheck {
  valid: boolean
  /** A new hash at the current parameters, to store in place of the old one (only when valid and outdated). */
  newHash?: string
}

/** Hashes and verifies passwords as PHC strings (see `createPasswordHasher`). */
export interface PasswordHasher {
  /** The algorithm new hashes use. */
  readonly algorithm: 'argon2id' | 'scrypt'
  /** A PHC string: `$argon2id$v=19$m=19456,t=2,p=1$salt$hash` or `$scrypt$ln=17,r=8,p=1$salt$hash`. */
  hash(password: string): Promise<string>
  /** Constant-time check against an argon2id, scrypt or bcrypt (`$2a$/$2b$/$2y$`) hash. */
  verify(hash: string, password: string): Promise<boolean>
  /** True when the hash uses another algorithm or weaker/other parameters than the current ones. */
  needsRehash(hash: string): boolean
  /** `verify`, plus a fresh hash when the stored one needs a rehash: the transparent upgrade on login. */
  verifyAndUpgrade(hash: string, password: string): Promise<PasswordCheck>
}

/** OWASP Password Storage Cheat Sheet: argon2id, 19 MiB, 2 iterations, 1 lane. */
export const ARGON2_DEFAULTS: Readonly<Argon2Params> = Object.freeze({ memory: 19_456, passes: 2, parallelism: 1 })
/** OWASP Password Storage Cheat Sheet: scrypt N=2^17, r=8, p=1. */
export const SCRYPT_DEFAULTS: Readonly<ScryptParams> = Object.freeze({ cost: 17, blockSize: 8, parallelism: 1 })

type Argon2Fn = (
  algorithm: 'argon2id',
  params: {
    message: Buffer
    nonce: Buffer
    parallelism: number
    tagLength: number
    memory: number
    passes: number
    secret?: Buffer
  },
  callback: (err: Error | null, result: Buffer) => void,
) => void

// Feature detection, replaceable in tests so the Node 22 fallback path is exercised on Node 24.
let argon2Impl: Argon2Fn | undefined = (nodeCrypto as unknown as { argon2?: Argon2Fn }).argon2

/** @internal Tests only: pretend the runtime has (or lacks) crypto.argon2. Returns the previous one. */
export function setArgon2ForTesting(impl: Argon2Fn | undefined): Argon2Fn | undefined {
  const prev = argon2Impl
  argon2Impl = impl
  return prev
}

/** True when this runtime has argon2 (Node >= 24.7). */
export function hasArgon2(): boolean {
  return typeof argon2Impl === 'function'
}

const SALT = 16
// Published on beaver:krypto:password-hash / password-verify with the algorithm only, never the password or hash.
const hashChannel = tracingChannel<{ algorithm: string }>('krypto', 'password-hash')
const verifyChannel = tracingChannel<{ stored: string | undefined }>('krypto', 'password-verify')
const HASH = 32

function argon2(
  password: Buffer,
  salt: Buffer,
  p: Argon2Params,
  secret: Buffer | undefined,
  length = HASH,
): Promise<Buffer> {
  const impl = argon2Impl
  if (!impl) {
    return Promise.reject(
      new KryptoError(
        'KRYPTO_UNSUPPORTED',
        `argon2id needs Node >= 24.7 (this is ${process.version}); use the scrypt algorithm or upgrade Node`,
      ),
    )
  }
  return new Promise((resolve, reject) => {
    const params = {
      message: password,
      nonce: salt,
      parallelism: p.parallelism,
      tagLength: length,
      memory: p.memory,
      passes: p.passes,
      ...(secret ? { secret } : {}),
    }
    impl('argon2id', params, (err, out) => (err ? reject(err) : resolve(out)))
  })
}

function scrypt(password: Buffer, salt: Buffer, p: ScryptParams, length: number): Promise<Buffer> {
  const N = 2 ** p.cost
  return new Promise((resolve, reject) => {
    scryptCb(
      password,
      salt,
      length,
      { N, r: p.blockSize, p: p.parallelism, maxmem: 256 * N * p.blockSize + 1024 * 1024 },
      (err, out) => (err ? reject(err) : resolve(out)),
    )
  })
}

interface ParsedHash {
  algorithm: 'argon2id' | 'scrypt' | 'bcrypt'
  params: Record<string, number>
  salt: Buffer
  hash: Buffer
  raw: string
}

function malformed(why: string): never {
  throw new KryptoError('KRYPTO_PASSWORD_HASH_MALFORMED', `The stored password hash is not readable: ${why}`)
}

function parseParams(text: string, allowed: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const pair of text.split(',')) {
    const [k, v] = pair.split('=')
    if (k === undefined || v === undefined || !allowed.includes(k) || !/^\d{1,10}$/.test(v))
      malformed(`bad parameter "${pair}"`)
    out[k] = Number(v)
  }
  for (const k of allowed) if (out[k] === undefined) malformed(`missing parameter "${k}"`)
  return out
}

/** Reads a PHC argon2id/scrypt string or a bcrypt hash. */
export function parsePasswordHash(stored: string): ParsedHash {
  if (typeof stored !== 'string') malformed('not a string')
  if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(stored))
    return {
      algorithm: 'bcrypt',
      params: { cost: Number(stored.slice(4, 6)) },
      salt: Buffer.alloc(0),
      hash: Buffer.alloc(0),
      raw: stored,
    }
  const parts = stored.split('$')
  if (parts[0] !== '') malformed('expected a PHC string starting with $')
  if (parts[1] === 'argon2id') {
    if (parts.length !== 6 || parts[2] !== 'v=19') malformed('expected $argon2id$v=19$m=..,t=..,p=..$salt$hash')
    const params = parseParams(parts[3] as string, ['m', 't', 'p'])
    const salt = fromPhcBase64(parts[4] as string)
    const hash = fromPhcBase64(parts[5] as string)
    if (!salt || !hash || salt.length < 8 || hash.length < 16) malformed('bad salt or hash encoding')
    return { algorithm: 'argon2id', params, salt, hash, raw: stored }
  }
  if (parts[1] === 'scrypt') {
    if (parts.length !== 5) malformed('expected $scrypt$ln=..,r=..,p=..$salt$hash')
    const params = parseParams(parts[2] as string, ['ln', 'r', 'p'])
    if ((params.ln as number) < 1 || (params.ln as number) > 30) malformed('scrypt ln out of range')
    const salt = fromPhcBase64(parts[3] as string)
    const hash = fromPhcBase64(parts[4] as string)
    if (!salt || !hash || salt.length < 8 || hash.length < 16) malformed('bad salt or hash encoding')
    return { algorithm: 'scrypt', params, salt, hash, raw: stored }
  }
  throw new KryptoError(
    'KRYPTO_PASSWORD_HASH_MALFORMED',
    `Unsupported password hash format "${(parts[1] ?? '').slice(0, 16)}"; argon2id, scrypt and bcrypt are read`,
  )
}

let bcryptModule: Promise<{ compare(s: string, hash: string): Promise<boolean> }> | undefined

/**
 * Password hashing with PHC strings: argon2id (Node's built-in, OWASP defaults), scrypt as the
 * fallback for Node 22, and bcrypt verification (pure JS) for migrating old hashes.
 * @example
 * const passwords = createPasswordHasher()
 * const stored = await passwords.hash('correct horse battery staple')
 * const { valid, newHash } = await passwords.verifyAndUpgrade(stored, attempt)
 * if (valid && newHash) await users.update(id, { passwordHash: newHash })
 */
export function createPasswordHasher(options: PasswordHasherOptions = {}): PasswordHasher {
  const requested = options.algorithm ?? 'auto'
  if (!['auto', 'argon2id', 'scrypt'].includes(requested))
    throw invalidArgument(`Unknown password algorithm "${requested}"; use auto, argon2id or scrypt`)
  const algorithm: 'argon2id' | 'scrypt' = requested === 'auto' ? (hasArgon2() ? 'argon2id' : 'scrypt') : requested
  if (algorithm === 'argon2id' && !hasArgon2()) {
    throw new KryptoError(
      'KRYPTO_UNSUPPORTED',
      `argon2id needs Node >= 24.7 (this is ${process.version}); set the algorithm to auto or scrypt`,
    )
  }
  const a2: Argon2Params = { ...ARGON2_DEFAULTS, ...options.argon2 }
  const sc: ScryptParams = { ...SCRYPT_DEFAULTS, ...options.scrypt }
  if (!Number.isInteger(a2.memory) || a2.memory < 8 * a2.parallelism)
    throw invalidArgument(`argon2 memory must be at least 8*parallelism KiB, got ${a2.memory}`)
  if (!Number.isInteger(a2.passes) || a2.passes < 1)
    throw invalidArgument(`argon2 passes must be >= 1, got ${a2.passes}`)
  if (!Number.isInteger(a2.parallelism) || a2.parallelism < 1 || a2.parallelism > 255)
    throw invalidArgument(`argon2 parallelism must be 1-255, got ${a2.parallelism}`)
  if (!Number.isInteger(sc.cost) || sc.cost < 1 || sc.cost > 30)
    throw invalidArgument(`scrypt cost (log2 N) must be 1-30, got ${sc.cost}`)
  if (!Number.isInteger(sc.blockSize) || sc.blockSize < 1)
    throw invalidArgument(`scrypt blockSize must be >= 1, got ${sc.blockSize}`)
  if (!Number.isInteger(sc.parallelism) || sc.parallelism < 1)
    throw invalidArgument(`scrypt parallelism must be >= 1, got ${sc.parallelism}`)
  const pepper = options.pepper === undefined ? undefined : Buffer.from(options.pepper)
  const maxLength = options.maxLength ?? 1024

  function input(password: string): Buffer {
    if (typeof password !== 'string') throw invalidArgument('A password must be a string')
    const bytes = Buffer.from(password.normalize('NFC'), 'utf8')
    if (bytes.length > maxLength) throw invalidArgument(`The password is longer than ${maxLength} bytes`)
    return bytes
  }

  // scrypt has no secret input: the pepper keys an HMAC of the password instead.
  function scryptInput(bytes: Buffer): Buffer {
    return pepper ? nodeCrypto.createHmac('sha256', pepper).update(bytes).digest() : bytes
  }

  async function compute(parsed: ParsedHash, bytes: Buffer): Promise<Buffer> {
    if (parsed.algorithm === 'argon2id') {
      const { m, t, p } = parsed.params as { m: number; t: number; p: number }
      return argon2(bytes, parsed.salt, { memory: m, passes: t, parallelism: p }, pepper, parsed.hash.length)
    }
    const { ln, r, p } = parsed.params as { ln: number; r: number; p: number }
    return scrypt(scryptInput(bytes), parsed.salt, { cost: ln, blockSize: r, parallelism: p }, parsed.hash.length)
  }

  async function hashNow(password: string): Promise<string> {
    const bytes = input(password)
    const salt = randomBytes(SALT)
    if (algorithm === 'argon2id') {
      const out = await argon2(bytes, salt, a2, pepper)
      return `$argon2id$v=19$m=${a2.memory},t=${a2.passes},p=${a2.parallelism}$${toPhcBase64(salt)}$${toPhcBase64(out)}`
    }
    const out = await scrypt(scryptInput(bytes), salt, sc, HASH)
    return `$scrypt$ln=${sc.cost},r=${sc.blockSize},p=${sc.parallelism}$${toPhcBase64(salt)}$${toPhcBase64(out)}`
  }

  async function verifyNow(stored: string, password: string): Promise<boolean> {
    const parsed = parsePasswordHash(stored)
    const bytes = input(password)
    if (parsed.algorithm === 'bcrypt') {
      bcryptModule ??= import('bcryptjs').then(
        (m) => (m as unknown as { default: { compare(s: string, h: string): Promise<boolean> } }).default,
      )
      const bcrypt = await bcryptModule
      // Hashes from other systems were made from the password as typed (not NFC-normalized).
      // bcrypt reads at most 72 bytes; bcryptjs truncates the same way the C implementations do.
      return bcrypt.compare(password, parsed.raw)
    }
    const actual = await compute(parsed, bytes)
    return timingSafeEqual(actual, parsed.hash)
  }

  const hasher: PasswordHasher = {
    algorithm,
    hash(password) {
      return traceAsync(
        hashChannel,
        () => ({ algorithm }),
        () => hashNow(password),
      )
    },
    verify(stored, password) {
      return traceAsync(
        verifyChannel,
        () => ({ stored: typeof stored === 'string' ? stored.split('$')[1] : undefined }),
        () => verifyNow(stored, password),
      )
    },
    needsRehash(stored) {
      const parsed = parsePasswordHash(stored)
      if (parsed.algorithm !== algorithm) return true
      if (parsed.hash.length !== HASH || parsed.salt.length < SALT) return true
      const p = parsed.params
      if (algorithm === 'argon2id') return p.m !== a2.memory || p.t !== a2.passes || p.p !== a2.parallelism
      return p.ln !== sc.cost || p.r !== sc.blockSize || p.p !== sc.parallelism
    },
    async verifyAndUpgrade(stored, password) {
      const valid = await hasher.verify(stored, password)
      if (!valid || !hasher.needsRehash(stored)) return { valid }
      return { valid, newHash: await hasher.hash(password) }
    },
  }
  return Object.freeze(hasher)
}
