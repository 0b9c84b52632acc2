// The JWT key set from BEAVER_KRYPTO_JWT_*. The asymmetric settings accept only PEM or JWK(S)
// of an asymmetric key type, and the algorithm must agree with each key: a mangled PEM, a
// symmetric JWK or a mismatched algorithm is a ConfigError naming the variable, never a silent
// HMAC secret (if that text were a public key, anyone could mint tokens with it).
import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto'
import type { ConfigIssue, DescribedValue } from '@beaver-kit/config'
import { parseKeyRing, type KeyRingKey } from '../aead/key-ring.ts'
import { ALGORITHMS, checkKeyForAlgorithm, defaultAlgorithmFor, isJwsAlgorithm, type JwsAlgorithm } from '../keys.ts'
import { deriveInternalKey } from '../hkdf.ts'
import type { JwtKeyInput } from './types.ts'

/** The `jwt` section of the resolved krypto settings. */
export interface JwtSettings {
  readonly algorithm: JwsAlgorithm
  readonly secrets?: readonly string[] | undefined
  readonly privateKey?: string | undefined
  readonly publicKey?: string | undefined
  readonly jwksUrl?: string | undefined
}

interface KeyMaterial {
  key: KeyObject
  kid: string | undefined
  alg: string | undefined
}

const KIND_NAMES: Record<string, string> = {
  rsa: 'an RSA key',
  'rsa-pss': 'an RSA-PSS key',
  ec: 'an EC key',
  ed25519: 'an Ed25519 key',
  ed448: 'an Ed448 key',
}

/** PEM or JWK(S) text as asymmetric keys; throws a sentence saying what was wrong (never the value). */
function readAsymmetric(text: string): KeyMaterial[] {
  const trimmed = text.trim()
  if (trimmed.startsWith('-----BEGIN')) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(trimmed))
      throw new Error('holds an encrypted PEM key; decrypt it first (no passphrase setting exists)')
    // Env files and CI secrets often carry PEM with literal "\n" for its line breaks.
    const pem = trimmed.includes('\\n') && !trimmed.includes('\n') ? trimmed.replace(/\\n/g, '\n') : trimmed
    try {
      const key = /PRIVATE KEY-----/.test(pem) ? createPrivateKey(pem) : createPublicKey(pem)
      return [{ key, kid: undefined, alg: undefined }]
    } catch {
      throw new Error('starts like PEM but is not a readable PEM key (is it cut, or were its line breaks lost?)')
    }
  }
  if (trimmed.startsWith('{')) {
    let doc: unknown
    try {
      doc = JSON.parse(trimmed)
    } catch {
      throw new Error('starts like a JWK but is not JSON')
    }
    const list = (doc as { keys?: unknown }).keys
    const jwks = Array.isArray(list) ? (list as unknown[]) : list === undefined ? [doc] : undefined
    if (!jwks || jwks.length === 0) throw new Error('holds a JWKS without keys')
    return jwks.map((item, i) => {
      const jwk = item as JsonWebKey
      const which = jwks.length > 1 ? `key ${i + 1} of the JWKS` : 'the JWK'
      if (typeof jwk !== 'object' || jwk === null || !['RSA', 'EC', 'OKP'].includes(jwk.kty as string)) {
        throw new Error(
          `${which} is not an asymmetric JWK (kty RSA, EC or OKP)${jwk?.kty === 'oct' ? '; HMAC secrets go in JWT_SECRETS' : ''}`,
        )
      }
      try {
        const key =
          typeof jwk.d === 'string'
            ? createPrivateKey({ key: jwk, format: 'jwk' })
            : createPublicKey({ key: jwk, format: 'jwk' })
        return {
          key,
          kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
          alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
        }
      } catch {
        throw new Error(`${which} is not a readable ${jwk.kty} key`)
      }
    })
  }
  throw new Error(
    'is neither PEM (-----BEGIN ... KEY-----) nor a JWK/JWKS JSON object; if the PEM armour or line breaks were lost, restore them (a _FILE variable keeps a PEM file intact). It is never taken as an HMAC secret',
  )
}

/** What the krypto facade needs to build its JWT set from settings. */
export interface JwtConfigKeys {
  keys: (JwtKeyInput | KeyObject)[]
  issues: ConfigIssue[]
}

/**
 * @internal The JWT keys the settings describe, or the issues that prevent it: every bad
 * combination names its variable (with the instance's prefix) and says what fits.
 */
export function jwtKeysFromConfig(
  jwt: JwtSettings,
  entries: readonly DescribedValue[],
  settingName: (path: string) => string,
  ring: readonly KeyRingKey[] | undefined,
): JwtConfigKeys {
  const issues: ConfigIssue[] = []
  const name = (path: string): string => settingName(`jwt.${path}`)
  const algorithmGiven = entries.find((e) => e.path === 'jwt.algorithm')?.source !== 'default'
  const alg = jwt.algorithm
  const hmac = ALGORITHMS[alg].kind === 'hmac'
  const asymmetric = jwt.privateKey !== undefined || jwt.publicKey !== undefined

  if (asymmetric) {
    if (jwt.secrets !== undefined) {
      issues.push({
        name: name('secrets'),
        found: '****',
        expected: `set either ${name('secrets')} (HMAC) or ${name('privateKey')}/${name('publicKey')} (asymmetric), not both`,
      })
    }
    if (algorithmGiven && hmac) {
      issues.push({
        name: name('algorithm'),
        found: alg,
        expected: `an asymmetric algorithm matching the key of ${jwt.privateKey !== undefined ? name('privateKey') : name('publicKey')} (RS*, PS*, ES* or EdDSA), or unset that key to sign with ${alg}`,
      })
      return { keys: [], issues }
    }
    const keys: JwtKeyInput[] = []
    for (const [path, setting, wanted] of [
      ['privateKey', jwt.privateKey, 'private'],
      ['publicKey', jwt.publicKey, 'public'],
    ] as const) {
      if (setting === undefined) continue
      const issue = (expected: string): void => {
        issues.push({ name: name(path), found: '****', expected })
      }
      let material: KeyMaterial[]
      try {
        material = readAsymmetric(setting)
      } catch (err) {
        issue(`${(err as Error).message}; expected PEM or a JWK/JWKS of an RSA, EC or Ed25519 key`)
        continue
      }
      material.forEach((m, i) => {
        const which = material.length > 1 ? `key ${i + 1}` : 'the key'
        if (wanted === 'private' && i === 0 && m.key.type !== 'private')
          return issue(
            `${which} is a public key; the first key signs, so it must be private (public keys go in ${name('publicKey')})`,
          )
        if (wanted === 'public' && m.key.type !== 'public')
          return issue(
            `${which} is a private key; put it in ${name('privateKey')} (this setting is shown in logs as verify-only)`,
          )
        const keyAlg = m.alg ?? (algorithmGiven ? alg : defaultAlgorithmFor(m.key))
        if (!isJwsAlgorithm(keyAlg) || ALGORITHMS[keyAlg].kind === 'hmac')
          return issue(`${which} names the algorithm ${JSON.stringify(m.alg)}; an asymmetric JWS algorithm is expected`)
        try {
          checkKeyForAlgorithm(m.key, keyAlg, 'verify')
        } catch (err) {
          const kind = KIND_NAMES[m.key.asymmetricKeyType ?? ''] ?? 'this key'
          return issue(
            `${which} is ${kind}, which cannot be used with ${keyAlg} (${(err as Error).message.replace(/^.*?: /, '')}); set ${name('algorithm')} to match it`,
          )
        }
        keys.push({ key: m.key, alg: keyAlg, ...(m.kid !== undefined ? { kid: m.kid } : {}) })
      })
    }
    return { keys, issues }
  }

  if (!hmac) {
    // An asymmetric algorithm with no local key only verifies, through the remote JWKS.
    if (jwt.jwksUrl === undefined) {
      issues.push({
        name: name('privateKey'),
        found: undefined,
        expected: `is required for ${name('algorithm')}=${alg} (PEM or a JWK of the signing key); to only verify, set ${name('publicKey')} or ${name('jwksUrl')}`,
      })
    }
    return { keys: [], issues }
  }
  if (jwt.secrets !== undefined) {
    let ring: KeyRingKey[]
    try {
      ring = parseKeyRing(jwt.secrets)
    } catch (err) {
      issues.push({ name: name('secrets'), found: '****', expected: (err as Error).message })
      return { keys: [], issues }
    }
    const keys = ring.map(({ kid, key }) => ({ kid, key, alg }))
    const short = keys.filter((k) => k.key.length < ALGORITHMS[alg].size)
    if (short.length > 0) {
      issues.push({
        name: name('secrets'),
        found: '****',
        expected: `${alg} needs secrets of at least ${ALGORITHMS[alg].size} bytes (RFC 7518 3.2); ${short.map((k) => k.kid).join(', ')} ${short.length === 1 ? 'is' : 'are'} shorter`,
      })
    }
    return { keys, issues }
  }
  // Derived per purpose and algorithm: the JWT key of a ring entry never equals its AES key.
  const spec = ALGORITHMS[alg]
  return {
    keys: (ring ?? []).map(({ kid, key }) => ({ kid, key: deriveInternalKey(key, `jwt:${alg}`, spec.size), alg })),
    issues,
  }
}
