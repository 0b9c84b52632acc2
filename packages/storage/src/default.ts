import { defineDefaultInstance } from '@beaver-kit/core'
import { createStorage, type Storage, type StorageOptions } from './storage.ts'

const slot = defineDefaultInstance<Storage, StorageOptions>('storage', createStorage)

/** The default storage, built on first use from `BEAVER_STORAGE_*`; rethrows its configuration error until fixed. */
export const storage: () => Storage = slot.get
/** Configures the default storage before its first use; throws once it exists. */
export const initStorage: (options?: StorageOptions) => Storage = slot.init
/** Closes and forgets the default storage (tests); the next `storage()` builds a new one. */
export const resetStorage: () => Promise<void> = slot.reset
/** A new storage configured from another env prefix: `withPrefix('USER_')` reads `USER_STORAGE_*`. */
export const withPrefix: (prefix: string, options?: Omit<StorageOptions, 'envPrefix'>) => Storage = slot.withPrefix
