import { defineDefaultInstance } from '@beaver-kit/core'
import { createSessions, type Sessions, type SessionsOptions } from './sessions.ts'

const slot = defineDefaultInstance<Sessions, SessionsOptions>('session', createSessions)

/** The default sessions, built on first use from `BEAVER_SESSION_*`; rethrows its configuration error until fixed. */
export const sessions: () => Sessions = slot.get
/** Configures the default sessions before its first use; throws once it exists. */
export const initSessions: (options?: SessionsOptions) => Sessions = slot.init
/** Closes and forgets the default sessions (tests); the next `sessions()` builds a new one. */
export const resetSessions: () => Promise<void> = slot.reset
/** A new sessions configured from another env prefix: `withPrefix('USER_')` reads `USER_SESSION_*`. */
export const withPrefix: (prefix: string, options?: Omit<SessionsOptions, 'envPrefix'>) => Sessions = slot.withPrefix
