import { defineDefaultInstance } from '@beaver-kit/core'
import { createOAuth, type OAuth, type OAuthOptions } from './oauth.ts'

const slot = defineDefaultInstance<OAuth, OAuthOptions>('oauth', createOAuth)

/** The default oauth, built on first use from `BEAVER_OAUTH_*`; rethrows its configuration error until fixed. */
export const oauth: () => OAuth = slot.get
/** Configures the default oauth before its first use; throws once it exists. */
export const initOAuth: (options?: OAuthOptions) => OAuth = slot.init
/** Closes and forgets the default oauth (tests); the next `oauth()` builds a new one. */
export const resetOAuth: () => Promise<void> = slot.reset
/** A new oauth configured from another env prefix: `withPrefix('USER_')` reads `USER_OAUTH_*`. */
export const withPrefix: (prefix: string, options?: Omit<OAuthOptions, 'envPrefix'>) => OAuth = slot.withPrefix
