// The unknown-account path of a reset request must do the work the known path does (draw a
// token and hash it, look the account up), so its timing does not say whether the account
// exists. krypto's hashToken is wrapped to count the hash computations of each path.
import { describe, expect, it, vi } from 'vitest'
import type * as Krypto from '@beaver-kit/krypto'

const hashes = vi.hoisted(() => ({ count: 0 }))
vi.mock('@beaver-kit/krypto', async (importOriginal) => {
  const original = await importOriginal<typeof Krypto>()
  return {
    ...original,
    hashToken: (token: string, key?: Uint8Array | string) => {
      hashes.count++
      return original.hashToken(token, key)
    },
  }
})

const { createAuth, createMemoryAuthStore } = await import('@beaver-kit/auth')
const { cheapKrypto } = await import('./suite.ts')

describe('password reset request work', () => {
  it('hashes a token and looks the account up for an unknown e-mail as for a known one, and answers the same', async () => {
    const store = createMemoryAuthStore()
    const lookups: string[] = []
    const find = store.findUserByEmail.bind(store)
    store.findUserByEmail = (email) => (lookups.push(email), find(email))
    const delivered: string[] = []
    const krypto = cheapKrypto()
    await using auth = createAuth({
      envPrefix: false,
      storeInstance: store,
      krypto,
      limiter: false,
      deliver: (m) => void delivered.push(m.to),
    })
    await auth.register({ email: 'known@example.com', password: 'correct horse battery staple' })
    hashes.count = 0
    const known = await auth.requestPasswordReset('known@example.com')
    const knownHashes = hashes.count
    hashes.count = 0
    const unknown = await auth.requestPasswordReset('unknown@example.com')
    expect(unknown).toEqual(known)
    expect(knownHashes).toBe(1)
    expect(hashes.count).toBe(knownHashes)
    expect(lookups).toEqual(['known@example.com', 'unknown@example.com'])
    await vi.waitFor(() => expect(delivered).toEqual(['known@example.com']))
    await krypto.close()
  })
})
