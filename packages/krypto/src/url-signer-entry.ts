// The `@beaver-kit/krypto/url-signer` subpath: the URL signer alone, with the kit's usual accessor names.
export {
  createMemoryNonceStore,
  createUrlSigner,
  initUrlSigner,
  resetUrlSigner,
  urlSigner,
  urlSignerWithPrefix as withPrefix,
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
export { urlSignerSchema } from './config.ts'
export { KryptoError, isKryptoError } from './errors.ts'
export type { KryptoErrorCode } from './errors.ts'
