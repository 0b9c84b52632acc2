import * as nodeCrypto from 'node:crypto'
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto'
import { traceAsync } from '@beaver-kit/core'
import { channels } from './channels.ts'
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
const HASH = 32

/**
 * The most work a hash may ask for. A stored hash is data: whoever can write the password
 * column (or feeds an import) chooses its parameters, so they are checked against these bounds
 * before any hashing, and the configured costs must stay within them too.
 */
export const PASSWORD_LIMITS = Object.freeze({
  /** argon2id: memory in KiB (256 MiB), passes, lanes, and memory × passes (1 GiB·pass, 27× OWASP's). */
  argon2: Object.freeze({ memory: 262_144, passes: 16, parallelism: 16, memoryPasses: 1_048_576 }),
  /** scrypt: log2(N), r, p, memory 128·N·r in bytes (256 MiB), and N·r·p (8× OWASP's). */
  scrypt: Object.freeze({ cost: 20, blockSize: 32, parallelism: 16, memoryBytes: 256 * 1024 * 1024, work: 2 ** 23 }),
  /** bcrypt: the cost exponent (each step doubles the work). */
  bcrypt: Object.freeze({ minCost: 4, cost: 15 }),
})

/** @internal One cost parameter out of bounds, named by its option path (`argon2.memory`). */
export interface PasswordCostProblem {
  param:
    'argon2.memory' | 'argon2.passes' | 'argon2.parallelism' | 'scrypt.cost' | 'scrypt.blockSize' | 'scrypt.parallelism'
  message: string
}

/** @internal Every configured cost that is not an integer in range or exceeds PASSWORD_LIMITS. */
export function passwordCostProblems(a2: Argon2Params, sc: ScryptParams): PasswordCostProblem[] {
  const out: PasswordCostProblem[] = []
  const A = PASSWORD_LIMITS.argon2
  const S = PASSWORD_LIMITS.scrypt
  const int = (v: number, min: number, max: number): boolean => Number.isInteger(v) && v >= min && v <= max
  if (!int(a2.parallelism, 1, A.parallelism))
    out.push({
      param: 'argon2.parallelism',
      message: `argon2 parallelism must be 1-${A.parallelism}, got ${a2.parallelism}`,
    })
  if (!int(a2.memory, 8 * Math.max(1, a2.parallelism), A.memory))
    out.push({
      param: 'argon2.memory',
      message: `argon2 memory must be 8*parallelism to ${A.memory} KiB (256 MiB), got ${a2.memory}`,
    })
  if (!int(a2.passes, 1, A.passes))
    out.push({ param: 'argon2.passes', message: `argon2 passes must be 1-${A.passes}, got ${a2.passes}` })
  else if (a2.memory * a2.passes > A.memoryPasses)
    out.push({
      param: 'argon2.passes',
      message: `argon2 memory × passes must stay within ${A.memoryPasses} KiB (1 GiB·pass), got ${a2.memory}×${a2.passes}`,
    })
  const costOk = int(sc.cost, 1, S.cost)
  if (!costOk) out.push({ param: 'scrypt.cost', message: `scrypt cost (log2 N) must be 1-${S.cost}, got ${sc.cost}` })
  const blockOk = int(sc.blockSize, 1, S.blockSize)
  if (!blockOk)
    out.push({ param: 'scrypt.blockSize', message: `scrypt blockSize must be 1-${S.blockSize}, got ${sc.blockSize}` })
  const parallelOk = int(sc.parallelism, 1, S.parallelism)
  if (!parallelOk)
    out.push({
      param: 'scrypt.parallelism',
      message: `scrypt parallelism must be 1-${S.parallelism}, got ${sc.parallelism}`,
    })
  if (costOk && blockOk && 128 * 2 ** sc.cost * sc.blockSize > S.memoryBytes)
    out.push({
      param: 'scrypt.blockSize',
      message: `scrypt memory 128·N·r must stay within 256 MiB, got N=2^${sc.cost}, r=${sc.blockSize}`,
    })
  else if (costOk && blockOk && parallelOk && 2 ** sc.cost * sc.blockSize * sc.parallelism > S.work)
    out.push({
      param: 'scrypt.parallelism',
      message: `scrypt work N·r·p must stay within 2^23, got N=2^${sc.cost}, r=${sc.blockSize}, p=${sc.parallelism}`,
    })
  return out
}

/** The algorithm of a stored hash as channels publish it: never any other part of the string. */
function storedAlgorithm(stored: unknown): string {
  if (typeof stored !== 'string') return 'unknown'
  if (stored.startsWith('$argon2id$')) return 'argon2id'
  if (stored.startsWith('$scrypt$')) return 'scrypt'
  return /^\$2[aby]\$/.test(stored) ? 'bcrypt' : 'unknown'
}

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
  // Real PHC and bcrypt strings are under 200 characters; a longer one is refused before it is split.
  if (stored.length > 512) malformed('longer than 512 characters')
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
    if (!salt || !hash || salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64)
      malformed('bad salt or hash (8-64 and 16-64 bytes of unpadded base64)')
    return { algorithm: 'argon2id', params, salt, hash, raw: stored }
  }
  if (parts[1] === 'scrypt') {
    if (parts.length !== 5) malformed('expected $scrypt$ln=..,r=..,p=..$salt$hash')
    const params = parseParams(parts[2] as string, ['ln', 'r', 'p'])
    if ((params.ln as number) < 1 || (params.ln as number) > 30) malformed('scrypt ln out of range')
    const salt = fromPhcBase64(parts[3] as string)
    const hash = fromPhcBase64(parts[4] as string)
    if (!salt || !hash || salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64)
      malformed('bad salt or hash (8-64 and 16-64 bytes of unpadded base64)')
    return { algorithm: 'scrypt', params, salt, hash, raw: stored }
  }
  // The unknown identifier is not quoted: a legacy column may hold anything, a plain password included.
  malformed('not an argon2id ($argon2id$), scrypt ($scrypt$) or bcrypt ($2a$, $2b$, $2y$) hash')
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
  const problem = passwordCostProblems(a2, sc)[0]
  if (problem) throw invalidArgument(problem.message, { param: problem.param })
  const pepper = options.pepper === undefined ? undefined : Buffer.from(options.pepper)
  const maxLength = options.maxLength ?? 1024

  function input(password: string): Buffer {
    if (typeof password !== 'string') throw invalidArgument('A password must be a string')
    // Checked before normalizing too: every UTF-16 unit is at least one UTF-8 byte, so a longer
    // string is refused without spending time on NFC over megabytes of input.
    if (password.length > maxLength) throw invalidArgument(`The password is longer than ${maxLength} bytes`)
    const bytes = Buffer.from(password.normalize('NFC'), 'utf8')
    if (bytes.length > maxLength) throw invalidArgument(`The password is longer than ${maxLength} bytes`)
    return bytes
  }

  function checkStoredCost(parsed: ParsedHash): void {
    const p = parsed.params
    let problem: string | undefined
    if (parsed.algorithm === 'bcrypt') {
      const { minCost, cost } = PASSWORD_LIMITS.bcrypt
      if ((p.cost as number) < minCost || (p.cost as number) > cost)
        problem = `bcrypt cost must be ${minCost}-${cost}, got ${p.cost}`
    } else if (parsed.algorithm === 'argon2id') {
      problem = passwordCostProblems(
        { memory: p.m as number, passes: p.t as number, parallelism: p.p as number },
        SCRYPT_DEFAULTS,
      )[0]?.message
    } else {
      problem = passwordCostProblems(ARGON2_DEFAULTS, {
        cost: p.ln as number,
        blockSize: p.r as number,
        parallelism: p.p as number,
      })[0]?.message
    }
    if (problem !== undefined) malformed(`${problem} (a stored hash may not ask for more work than PASSWORD_LIMITS)`)
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
    // Bounds first: nothing is hashed for a stored hash that asks for unbounded work.
    checkStoredCost(parsed)
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
        channels.passwordHash,
        () => ({ algorithm }),
        () => hashNow(password),
      )
    },
    verify(stored, password) {
      return traceAsync(
        channels.passwordVerify,
        () => ({ algorithm: storedAlgorithm(stored) }),
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
