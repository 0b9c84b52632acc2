import type { Jwt, Krypto, PasswordHasher } from '@beaver-kit/krypto'
import type { AuthEvent, AuthEventSink, RequestContext } from './events.ts'
import { channels } from './channels.ts'
import type { PasswordRules } from './passwords.ts'
import type { AuthStore, UserRecord } from './store.ts'

/**
 * How a message to a user is delivered (your mailer): verification and reset links. From
 * `requestSignUp()`: `complete-sign-up` (the link that creates the account; `userId` is the id
 * it will have) or `account-exists` (the address has an account: say so, and offer the
 * `token`, a password reset token for `resetPassword()`).
 */
export interface AuthMessage {
  kind:
    | 'verify-email'
    | 'reset-password'
    | 'confirm-email-change'
    | 'unlock-account'
    | 'complete-sign-up'
    | 'account-exists'
  to: string
  userId: string
  /** The secret to put in the link; never logged by the package. */
  token: string
  expiresAt: number
}

/** Sends an AuthMessage; wire it to @beaver-kit/mail or anything else. */
export type AuthDeliver = (message: AuthMessage) => Promise<void> | void

/** The login rate limit: `@beaver-kit/ratelimit`'s limiter fits it. */
export interface LoginLimiter {
  limit(key: string): Promise<{ allowed: boolean; retryAfterMs: number }>
}

/** Server sessions, when used beside or instead of tokens: `@beaver-kit/session`'s Sessions fits it. */
export interface SessionSource {
  load(req: {
    headers: Record<string, string | string[] | undefined>
  }): Promise<{ id: string; userId?: string | undefined }>
  revokeAll(userId: string, options?: { except?: string }): Promise<number>
}

/** The resolved settings the flows read. Times in ms. */
export interface FlowSettings {
  issuer: string | undefined
  audience: string | undefined
  accessTtl: number
  refreshTtl: number
  familyTtl: number
  resetTtl: number
  verifyTtl: number
  lockout: { threshold: number; ipThreshold: number; baseDelay: number; maxDelay: number; forgetAfter: number }
  apiKeyPrefix: string
}

/** @internal What every flow module shares. */
export interface FlowContext {
  store: AuthStore
  /** TOTP and the key ring that encrypts TOTP secrets. */
  krypto: Krypto
  jwt: Jwt
  passwords: PasswordHasher
  rules: PasswordRules
  settings: FlowSettings
  limiter: LoginLimiter | undefined
  /** The per-API-key limit, when configured. */
  apiKeyLimiter: LoginLimiter | undefined
  sessions: SessionSource | undefined
  deliver: AuthDeliver | undefined
  now: () => number
  emit(event: Omit<AuthEvent, 'at' | 'ip' | 'userAgent'>, request?: RequestContext): Promise<void>
  /** A hash at the current cost of a password nobody knows: the unknown-account path verifies against it. */
  dummyHash(): Promise<string>
}

/** A user as the API returns it: never the password hash. */
export interface PublicUser {
  id: string
  email: string
  emailVerified: boolean
  /** TOTP is on: login needs a code. */
  mfa: boolean
  roles: string[]
  createdAt: number
}

export function publicUser(u: UserRecord): PublicUser {
  return {
    id: u.id,
    email: u.email,
    emailVerified: u.emailVerifiedAt !== null,
    mfa: u.totpEnabledAt !== null,
    roles: [...u.roles],
    createdAt: u.createdAt,
  }
}

/** @internal Builds `emit`: the channel first (free when nobody listens), then the sink, awaited. */
export function eventEmitter(sink: AuthEventSink | undefined, now: () => number): FlowContext['emit'] {
  return async (event, request) => {
    const full: AuthEvent = {
      ...event,
      ...(request?.ip !== undefined ? { ip: request.ip } : {}),
      ...(request?.userAgent !== undefined ? { userAgent: request.userAgent } : {}),
      at: now(),
    }
    if (channels.event.hasSubscribers) channels.event.publish(full)
    if (sink) await sink(full)
  }
}
