import { defineDefaultInstance } from '@beaver-kit/core'
import { createAuth, type Auth, type AuthOptions } from './auth.ts'

const slot = defineDefaultInstance<Auth, AuthOptions>('auth', createAuth)

/** The default auth, built on first use from `BEAVER_AUTH_*`; rethrows its configuration error until fixed. */
export const auth: () => Auth = slot.get
/** Configures the default auth before its first use; throws once it exists. */
export const initAuth: (options?: AuthOptions) => Auth = slot.init
/** Closes and forgets the default auth (tests); the next `auth()` builds a new one. */
export const resetAuth: () => Promise<void> = slot.reset
/** A new auth configured from another env prefix: `withPrefix('USER_')` reads `USER_AUTH_*`. */
export const withPrefix: (prefix: string, options?: Omit<AuthOptions, 'envPrefix'>) => Auth = slot.withPrefix
