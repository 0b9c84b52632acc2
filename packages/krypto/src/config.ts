import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

function checkKeyEntry(item: string): void {
  // Only the shape is checked here (the value is secret and never echoed); sizes are checked by the key ring.
  if (!/^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9+/_-]+={0,2}$/.test(item))
    throw new Error('each entry must be kid:base64key (kid of A-Z a-z 0-9 _ -)')
}

const JWS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const

/** `BEAVER_KRYPTO_*`: the key ring, JWT settings and password hashing costs. */
export const kryptoSchema = defineSchema(
  'KRYPTO',
  {
    keys: f.list({
      secret: true,
      of: checkKeyEntry,
      doc: 'Master key ring "kid:base64,kid2:base64" (32+ bytes each): the first encrypts and signs, all decrypt and verify',
    }),
    jwt: {
      algorithm: f.enum({
        values: JWS,
        default: 'HS256',
        doc: 'Algorithm of the signing key: HS* keys are derived from the key ring unless JWT_SECRETS is set; with JWT_PRIVATE_KEY it defaults to the key type and must agree with it',
      }),
      secrets: f.list({
        secret: true,
        of: checkKeyEntry,
        doc: 'Raw HMAC secrets "kid:base64" shared with other services, instead of keys derived from the ring',
      }),
      privateKey: f.string({
        secret: true,
        doc: 'Asymmetric signing key (RSA, EC or Ed25519): PEM, a JWK, or a JWKS {"keys":[...]} whose first key signs and the rest verify; never taken as an HMAC secret; _FILE for a mounted secret',
      }),
      // Masked although public keys are not secret: a private key pasted here by mistake must not be printed.
      publicKey: f.string({
        secret: true,
        doc: 'Verify-only asymmetric keys: PEM, a JWK, or a JWKS {"keys":[...]} of public keys (services that check tokens another one signs)',
      }),
      issuer: f.string({ doc: 'iss put on tokens and required on verification' }),
      audience: f.list({ doc: 'aud put on tokens; verification accepts any of them' }),
      expiresIn: f.duration({ default: '15m', doc: 'Lifetime of signed tokens' }),
      clockSkew: f.duration({ default: '30s', doc: 'Tolerance for exp, nbf and iat' }),
      maxAge: f.duration({ doc: 'Refuse tokens whose iat is older than this' }),
      jwksUrl: f.url({
        protocols: ['https', 'http'],
        doc: 'Remote JWKS used by verifyAsync for kids not held locally (https://; http:// only with JWKS_ALLOW_HTTP)',
      }),
      jwksAllowHttp: f.boolean({
        default: false,
        doc: 'Accept an http:// JWKS URL (keys fetched in clear text can be replaced on the way)',
      }),
      jwksTimeout: f.duration({ default: '5s', doc: 'Time allowed for one JWKS fetch, body included' }),
      jwksCacheTtl: f.duration({ default: '10m', doc: 'How long a fetched JWKS is used' }),
      jwksCooldown: f.duration({
        default: '30s',
        doc: 'Least time between JWKS fetches after a failure or caused by an unknown kid',
      }),
    },
    password: {
      algorithm: f.enum({
        values: ['auto', 'argon2id', 'scrypt'],
        default: 'auto',
        doc: 'auto: argon2id on Node >= 24.7, scrypt before',
      }),
      argon2: {
        memory: f.bytes({ default: '19mb', doc: 'argon2id memory (OWASP minimum 19 MiB; at most 256 MiB)' }),
        passes: f.int({
          default: 2,
          min: 1,
          max: 16,
          doc: 'argon2id iterations (OWASP: 2 at 19 MiB); memory × passes at most 1 GiB',
        }),
        parallelism: f.int({ default: 1, min: 1, max: 16, doc: 'argon2id lanes' }),
      },
      scrypt: {
        cost: f.int({ default: 17, min: 10, max: 20, doc: 'scrypt log2(N) (OWASP: 17, i.e. N=131072)' }),
        blockSize: f.int({ default: 8, min: 1, max: 32, doc: 'scrypt r; memory 128·N·r at most 256 MiB' }),
        parallelism: f.int({ default: 1, min: 1, max: 16, doc: 'scrypt p; N·r·p at most 2^23' }),
      },
      pepper: f.string({
        secret: true,
        doc: 'Server-side secret mixed into every password hash (kept out of the database)',
      }),
    },
    otp: {
      issuer: f.string({ doc: 'Issuer shown by authenticator apps' }),
      digits: f.int({ default: 6, min: 6, max: 10, doc: 'Digits of TOTP codes' }),
      period: f.duration({ default: '30s', doc: 'TOTP time step' }),
      algorithm: f.enum({
        values: ['SHA1', 'SHA256', 'SHA512'],
        default: 'SHA1',
        doc: 'TOTP hash (SHA1 is what every app supports)',
      }),
      window: f.int({ default: 1, min: 0, max: 10, doc: 'Steps accepted either side of now' }),
    },
  },
  'krypto',
)

/** `BEAVER_URLSIGNER_*`: keys, default lifetime and parameter names of signed URLs. */
export const urlSignerSchema = defineSchema(
  'URLSIGNER',
  {
    keys: f.list({
      secret: true,
      of: checkKeyEntry,
      doc: 'Key ring "kid:base64,..." for URL signatures; unset: derived from BEAVER_KRYPTO_KEYS',
    }),
    defaultTtl: f.duration({ default: '30m', doc: 'Lifetime of a signed URL when sign() is given none' }),
    clockSkew: f.duration({ default: '5s', doc: 'Grace after expiry for clocks that disagree' }),
    bindOrigin: f.boolean({
      default: false,
      doc: 'Also sign scheme, host and port (off: URLs survive proxies and host renames)',
    }),
    params: {
      signature: f.string({ default: 'sig', pattern: /^[A-Za-z0-9_.-]+$/, doc: 'Query parameter of the signature' }),
      expires: f.string({
        default: 'exp',
        pattern: /^[A-Za-z0-9_.-]+$/,
        doc: 'Query parameter of the expiry (Unix seconds)',
      }),
      keyId: f.string({ default: 'kid', pattern: /^[A-Za-z0-9_.-]+$/, doc: 'Query parameter of the key id' }),
      nonce: f.string({ default: 'nonce', pattern: /^[A-Za-z0-9_.-]+$/, doc: 'Query parameter of the one-time nonce' }),
      method: f.string({
        default: 'method',
        pattern: /^[A-Za-z0-9_.-]+$/,
        doc: 'Query parameter of the bound HTTP method',
      }),
      params: f.string({
        default: 'sp',
        pattern: /^[A-Za-z0-9_.-]+$/,
        doc: 'Query parameter listing the bound parameters',
      }),
      payload: f.string({
        default: 'payload',
        pattern: /^[A-Za-z0-9_.-]+$/,
        doc: 'Query parameter of the signed payload',
      }),
    },
  },
  'urlsigner',
)

/** Options of `createKrypto` that mirror BEAVER_KRYPTO_*. */
export type KryptoConfigOptions = SchemaOptions<typeof kryptoSchema>
/** Options of `createUrlSigner` that mirror BEAVER_URLSIGNER_*. */
export type UrlSignerConfigOptions = SchemaOptions<typeof urlSignerSchema>
