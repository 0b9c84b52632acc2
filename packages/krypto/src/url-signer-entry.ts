// The `@beaver-kit/krypto/url-signer` subpath: the URL signer alone. The default instance and
// `withPrefix` live on the main entry (`krypto().urls`), so the kit has one instance surface.
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
export { urlSignerSchema } from './config.ts'
export type { UrlSignerConfigOptions } from './config.ts'
export { KryptoError, isKryptoError } from './errors.ts'
export type { KryptoErrorCode } from './errors.ts'
