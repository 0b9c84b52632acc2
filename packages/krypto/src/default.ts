import { defineDefaultInstance } from '@beaver-kit/core'
import { createKrypto, type Krypto, type KryptoOptions } from './krypto.ts'

const slot = defineDefaultInstance<Krypto, KryptoOptions>('krypto', createKrypto)

/** The default krypto instance, built on first use from `BEAVER_KRYPTO_*`; rethrows its configuration error until fixed. */
export const krypto: () => Krypto = slot.get
/** Configures the default krypto instance before its first use; throws once it exists. */
export const initKrypto: (options?: KryptoOptions) => Krypto = slot.init
/** Closes and forgets the default krypto instance (tests); the next `krypto()` builds a new one. */
export const resetKrypto: () => Promise<void> = slot.reset
/** A new krypto instance configured from another env prefix: `withPrefix('BILLING_')` reads `BILLING_KRYPTO_*` and `BILLING_URLSIGNER_*`. */
export const withPrefix: (prefix: string, options?: Omit<KryptoOptions, 'envPrefix'>) => Krypto = slot.withPrefix
