import { createUrlSigner, generateKeyRingEntry, isKryptoError, type UrlSigner } from '@beaver-kit/krypto'
import type { Logger } from '@beaver-kit/logger'

/** The signer from BEAVER_URLSIGNER_KEYS / BEAVER_KRYPTO_KEYS, or with a key made at start-up. */
export function defaultSigner(log: Logger): UrlSigner {
  const signer = createUrlSigner()
  try {
    signer.sign('/probe')
    return signer
  } catch (err) {
    if (!isKryptoError(err, 'KRYPTO_KEYS_MISSING')) throw err
    log.warn(
      'no BEAVER_URLSIGNER_KEYS set: delete URLs are signed with a key made at start-up and die with the process',
    )
    return createUrlSigner({ keys: generateKeyRingEntry('ephemeral') })
  }
}
