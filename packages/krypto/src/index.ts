export { createKrypto } from './krypto.ts'
export type { Krypto, KryptoOptions, KryptoTotp } from './krypto.ts'
export { krypto, initKrypto, resetKrypto, withPrefix } from './default.ts'
export { KryptoError, isKryptoError } from './errors.ts'
export type { KryptoErrorCode } from './errors.ts'
export { channels } from './channels.ts'
export { kryptoSchema, urlSignerSchema } from './config.ts'
export type { KryptoConfigOptions, UrlSignerConfigOptions } from './config.ts'
export { createJwt } from './jwt/jwt.ts'
export { decodeJwtUnverified } from './jwt/parse.ts'
export { jwkThumbprint } from './jwt/key-set.ts'
export type {
  Jwt,
  JwtClaims,
  JwtHeader,
  JwtKeyInput,
  JwtKeySource,
  JwtOptions,
  JwtPayload,
  JwtVerifyKey,
  SignOptions,
  VerifiedJwt,
  VerifyOptions,
} from './jwt/types.ts'
export { createRemoteJwks } from './jwt/jwks.ts'
export type { RemoteJwks, RemoteJwksOptions } from './jwt/jwks.ts'
export {
  exportKey,
  generateKeyPair,
  generateSecret,
  importKey,
  publicKeyOf,
  signBytes,
  timingSafeEqualBytes,
  verifyBytes,
} from './keys.ts'
export type { AsymmetricAlgorithm, GeneratedKeyPair, JwsAlgorithm, KeyInput } from './keys.ts'
export { createKeyRing, generateKeyRingEntry, parseKeyRing } from './aead/key-ring.ts'
export type { KeyRing, KeyRingInput, KeyRingKey } from './aead/key-ring.ts'
export type { CipherOptions } from './aead/gcm.ts'
export { MAX_SEGMENT_SIZE } from './aead/stream.ts'
export type { StreamOptions } from './aead/stream.ts'
export { deriveKey, hkdf } from './hkdf.ts'
export type { HashAlgorithm, HkdfOptions } from './hkdf.ts'
export { ARGON2_DEFAULTS, PASSWORD_LIMITS, SCRYPT_DEFAULTS, createPasswordHasher, hasArgon2 } from './password.ts'
export type { Argon2Params, PasswordCheck, PasswordHasher, PasswordHasherOptions, ScryptParams } from './password.ts'
export { checkPasswordPolicy } from './policy.ts'
export type { PasswordPolicy, PasswordPolicyResult, PasswordProblem, PasswordProblemCode } from './policy.ts'
export { generateOtpSecret, hotp, otpauthUri, totp, verifyHotp, verifyTotp } from './otp.ts'
export type {
  HotpOptions,
  OtpAlgorithm,
  OtpauthUriOptions,
  OtpReplayGuard,
  OtpSecret,
  TotpOptions,
  TotpResult,
  TotpVerifyOptions,
} from './otp.ts'
export {
  hashToken,
  padTo,
  randomCode,
  randomDelay,
  randomToken,
  timingSafeEqualString,
  uuidv7,
  verifyTokenHash,
} from './tokens.ts'
export { createUrlSigner } from './url-signer.ts'
export type {
  SignUrlOptions,
  SignedUrlInfo,
  UrlSigner,
  UrlSignerOptions,
  UrlSignerParamNames,
  VerifyUrlOptions,
} from './url-signer.ts'
export { createMemoryNonceStore } from './nonce-store.ts'
export type { NonceStore } from './nonce-store.ts'
