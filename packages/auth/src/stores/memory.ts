import type {
  ApiKeyRecord,
  AuthStore,
  FailureCounter,
  OneTimeRecord,
  RefreshRecord,
  RefreshUse,
  UserPatch,
  UserRecord,
} from '../store.ts'

/** Options of the memory store. */
export interface MemoryAuthStoreOptions {
  /** Most failure counters kept (one per account and per client IP tried); the oldest go first. Default 100000. */
  maxCounters?: number
}

const copyUser = (u: UserRecord): UserRecord => ({ ...u, roles: [...u.roles] })

/**
 * Everything in this process's memory: for tests, demos and single-process tools. Records are
 * copied in and out, so a caller never mutates the store by accident.
 */
export function createMemoryAuthStore(options: MemoryAuthStoreOptions = {}): AuthStore {
  const maxCounters = options.maxCounters ?? 100_000
  const users = new Map<string, UserRecord>()
  const byEmail = new Map<string, string>()
  const refresh = new Map<string, RefreshRecord>()
  const oneTime = new Map<string, OneTimeRecord>()
  const failures = new Map<string, FailureCounter>()
  const apiKeys = new Map<string, ApiKeyRecord>()
  const totpSteps = new Map<string, number>()

  return {
    name: 'memory',
    ready: async () => {},
    close: async () => {},

    async createUser(user) {
      if (byEmail.has(user.email)) return false
      users.set(user.id, copyUser(user))
      byEmail.set(user.email, user.id)
      return true
    },
    async findUserByEmail(email) {
      const id = byEmail.get(email)
      const u = id === undefined ? undefined : users.get(id)
      return u && copyUser(u)
    },
    async findUserById(id) {
      const u = users.get(id)
      return u && copyUser(u)
    },
    async updateUser(id, patch: UserPatch, now) {
      const u = users.get(id)
      if (!u) return false
      if (patch.email !== undefined && patch.email !== u.email) {
        if (byEmail.has(patch.email)) return false
        byEmail.delete(u.email)
        byEmail.set(patch.email, id)
      }
      users.set(id, { ...u, ...patch, roles: [...(patch.roles ?? u.roles)], updatedAt: now })
      return true
    },

    async insertRefresh(record) {
      refresh.set(record.hash, { ...record })
    },
    async findRefresh(hash) {
      const r = refresh.get(hash)
      return r && { ...r }
    },
    async useRefresh(hash, now): Promise<RefreshUse> {
      const r = refresh.get(hash)
      if (!r) return { state: 'unknown' }
      if (r.revokedAt !== null) return { state: 'revoked', record: { ...r } }
      if (r.usedAt !== null) return { state: 'used', record: { ...r } }
      if (r.expiresAt <= now || r.familyExpiresAt <= now) return { state: 'expired', record: { ...r } }
      r.usedAt = now
      return { state: 'fresh', record: { ...r } }
    },
    async revokeFamily(familyId, now) {
      let n = 0
      for (const r of refresh.values()) {
        if (r.familyId !== familyId || r.revokedAt !== null) continue
        if (r.usedAt === null) n++
        r.revokedAt = now
      }
      return n
    },
    async revokeUserFamilies(userId, now, exceptFamilyId) {
      let n = 0
      for (const r of refresh.values()) {
        if (r.userId !== userId || r.familyId === exceptFamilyId || r.revokedAt !== null) continue
        if (r.usedAt === null) n++
        r.revokedAt = now
      }
      return n
    },

    async insertOneTime(record) {
      oneTime.set(record.hash, { ...record })
    },
    async consumeOneTime(hash, purpose, now) {
      const r = oneTime.get(hash)
      if (!r || r.purpose !== purpose) return undefined
      oneTime.delete(hash)
      return r.expiresAt > now ? r.userId : undefined
    },
    async deleteOneTimeFor(userId, purpose) {
      for (const [h, r] of oneTime) if (r.userId === userId && r.purpose === purpose) oneTime.delete(h)
    },

    async claimTotpStep(userId, step) {
      if ((totpSteps.get(userId) ?? -1) >= step) return false
      totpSteps.set(userId, step)
      return true
    },
    async getFailures(key) {
      const c = failures.get(key)
      return c && { ...c }
    },
    async updateFailures(key, next) {
      const c = next(failures.get(key))
      failures.delete(key)
      if (failures.size >= maxCounters) {
        const oldest = failures.keys().next().value
        if (oldest !== undefined) failures.delete(oldest)
      }
      failures.set(key, { ...c })
      return { ...c }
    },
    async clearFailures(key) {
      failures.delete(key)
    },

    async insertApiKey(record) {
      apiKeys.set(record.id, { ...record, scopes: [...record.scopes] })
    },
    async findApiKey(id) {
      const k = apiKeys.get(id)
      return k && { ...k, scopes: [...k.scopes] }
    },
    async listApiKeys(userId) {
      return [...apiKeys.values()].filter((k) => k.userId === userId).map((k) => ({ ...k, scopes: [...k.scopes] }))
    },
    async touchApiKey(id, now) {
      const k = apiKeys.get(id)
      if (k) k.lastUsedAt = now
    },
    async revokeApiKey(id, userId, now) {
      const k = apiKeys.get(id)
      if (!k || k.userId !== userId || k.revokedAt !== null) return false
      k.revokedAt = now
      return true
    },
  }
}
