/** An account as the store keeps it. Times are milliseconds since the epoch. */
export interface UserRecord {
  id: string
  /** Normalized: trimmed and lower-cased. */
  email: string
  /** A PHC string from krypto's password hasher; never leaves the package. */
  passwordHash: string
  emailVerifiedAt: number | null
  roles: string[]
  /** The TOTP secret, encrypted with the krypto key ring; null when none is enrolled. */
  totpSecret: string | null
  /** When the enrolled TOTP was confirmed: from then on, login needs a code. */
  totpEnabledAt: number | null
  createdAt: number
  updatedAt: number
}

/** The fields of an account that flows change. */
export type UserPatch = Partial<
  Pick<UserRecord, 'passwordHash' | 'emailVerifiedAt' | 'roles' | 'email' | 'totpSecret' | 'totpEnabledAt'>
>

/** One refresh token of a family, stored by the hash of the token. */
export interface RefreshRecord {
  hash: string
  familyId: string
  userId: string
  createdAt: number
  expiresAt: number
  /** When the whole family ends, whatever the rotations. */
  familyExpiresAt: number
  usedAt: number | null
  revokedAt: number | null
}

/** What `useRefresh` found: the token was fresh (now marked used), or not. */
export type RefreshUse =
  | { state: 'fresh'; record: RefreshRecord }
  | { state: 'used' | 'revoked' | 'expired'; record: RefreshRecord }
  | { state: 'unknown' }

/** A single-use token (password reset, e-mail verification, TOTP backup code), stored by its hash. */
export interface OneTimeRecord {
  hash: string
  purpose: 'reset' | 'verify' | 'backup' | 'email' | 'unlock'
  userId: string
  expiresAt: number
}

/** A failure counter of the lockout (per account or per client IP). */
export interface FailureCounter {
  count: number
  lockedUntil: number
  updatedAt: number
}

/** An API key as stored: the id is public (it is part of the key), the secret only as a hash. */
export interface ApiKeyRecord {
  id: string
  userId: string
  name: string
  hash: string
  scopes: string[]
  createdAt: number
  expiresAt: number | null
  lastUsedAt: number | null
  revokedAt: number | null
}

/**
 * The repositories of the auth package: a few primitives a store implements, every rule
 * (expiry, reuse, backoff) decided by the facade. Operations that race are atomic in the
 * store: `useRefresh` and `consumeOneTime` succeed once per token, `updateFailures` is a
 * read-modify-write under a lock.
 */
export interface AuthStore {
  readonly name: string
  ready(): Promise<void>
  close(): Promise<void>

  /** False when the e-mail is taken. */
  createUser(user: UserRecord): Promise<boolean>
  findUserByEmail(email: string): Promise<UserRecord | undefined>
  findUserById(id: string): Promise<UserRecord | undefined>
  /** False when the user does not exist, or the new e-mail is taken. */
  updateUser(id: string, patch: UserPatch, now: number): Promise<boolean>

  insertRefresh(record: RefreshRecord): Promise<void>
  findRefresh(hash: string): Promise<RefreshRecord | undefined>
  /** Marks the token used if it is fresh, in one atomic step; says what it found otherwise. */
  useRefresh(hash: string, now: number): Promise<RefreshUse>
  /** Revokes every token of the family; returns how many were live. */
  revokeFamily(familyId: string, now: number): Promise<number>
  /** Revokes every family of the user but `exceptFamilyId`; returns how many tokens were live. */
  revokeUserFamilies(userId: string, now: number, exceptFamilyId?: string): Promise<number>

  insertOneTime(record: OneTimeRecord): Promise<void>
  /** Deletes the token if it exists, has that purpose and is unexpired, in one atomic step; its user. */
  consumeOneTime(hash: string, purpose: OneTimeRecord['purpose'], now: number): Promise<string | undefined>
  /** Deletes every token of the user for that purpose (a reset used or the password changed). */
  deleteOneTimeFor(userId: string, purpose: OneTimeRecord['purpose']): Promise<void>

  /** Records the TOTP step a user just used if it is later than the last one, atomically; false for a replay. */
  claimTotpStep(userId: string, step: number): Promise<boolean>

  getFailures(key: string): Promise<FailureCounter | undefined>
  /** Reads the counter (undefined if none) and writes what `next` returns, atomically. */
  updateFailures(key: string, next: (previous: FailureCounter | undefined) => FailureCounter): Promise<FailureCounter>
  clearFailures(key: string): Promise<void>

  insertApiKey(record: ApiKeyRecord): Promise<void>
  findApiKey(id: string): Promise<ApiKeyRecord | undefined>
  listApiKeys(userId: string): Promise<ApiKeyRecord[]>
  touchApiKey(id: string, now: number): Promise<void>
  /** False when there was no such live key of that user. */
  revokeApiKey(id: string, userId: string, now: number): Promise<boolean>
}
