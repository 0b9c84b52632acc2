export { KryptoError, isKryptoError } from './errors.ts'
export type { KryptoErrorCode } from './errors.ts'
export { kryptoSchema, urlSignerSchema } from './config.ts'
export type { KryptoConfigOptions, UrlSignerConfigOptions } from './config.ts'
export { createKrypto, krypto, initKrypto, resetKrypto, withPrefix } from './krypto.ts'
export type { Krypto, KryptoOptions, KryptoTotp } from './krypto.ts'
export { createJwt, decodeJwtUnverified, jwkThumbprint } from './jwt.ts'
export type {
  DurationInput,
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
} from './jwt.ts'
export { createRemoteJwks } from './jwks.ts'
export type { RemoteJwks, RemoteJwksOptions } from './jwks.ts'
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
export { createKeyRing, generateKeyRingEntry, parseKeyRing } from './aead.ts'
export type { CipherOptions, KeyRing, KeyRingInput, KeyRingKey, StreamOptions } from './aead.ts'
export { deriveKey, hkdf } from './hkdf.ts'
export type { HashAlgorithm, HkdfOptions } from './hkdf.ts'
export { ARGON2_DEFAULTS, SCRYPT_DEFAULTS, createPasswordHasher, hasArgon2 } from './password.ts'
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
export {
  createMemoryNonceStore,
  createUrlSigner,
  initUrlSigner,
  resetUrlSigner,
  urlSigner,
  urlSignerWithPrefix,
} from './url-signer.ts'
export type {
  NonceStore,
  SignUrlOptions,
  SignedUrlInfo,
  UrlSigner,
  UrlSignerOptions,
  UrlSignerParamNames,
  VerifyUrlOptions,
} from './url-signer.ts'
