import { KryptoError } from './errors.ts'

/** Records one-time nonces. `consume` returns true the first time a nonce is seen, false afterwards. */
export interface NonceStore {
  consume(nonce: string, expiresAt: number): boolean | Promise<boolean>
}

/**
 * A memory nonce store for one-time URLs on a single process (use a shared store, e.g. Redis
 * `SET NX PX`, when several processes verify).
 */
export function createMemoryNonceStore(
  options: { now?: () => number; maxEntries?: number } = {},
): NonceStore & { readonly size: number } {
  const now = options.now ?? Date.now
  const maxEntries = options.maxEntries ?? 100_000
  const seen = new Map<string, number>()
  return {
    get size() {
      return seen.size
    },
    consume(nonce, expiresAt) {
      const t = now()
      if (seen.size >= maxEntries) for (const [n, exp] of seen) if (exp <= t) seen.delete(n)
      if (seen.has(nonce)) return false
      if (seen.size >= maxEntries)
        throw new KryptoError('KRYPTO_INVALID_ARGUMENT', `The memory nonce store is full (${maxEntries} live nonces)`)
      seen.set(nonce, expiresAt)
      return true
    },
  }
}
