import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { generateKeyRingEntry } from '@beaver-kit/krypto'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { startLineChild } from '@beaver-kit/testkit/line-child'
import { createSessions } from '@beaver-kit/session'

const redis = await requireService('redis')
const childScript = fileURLToPath(new URL('./helpers/session-child.ts', import.meta.url))
const stops: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop()
})

/** Another process with its own sessions on the same Redis namespace and key ring. */
function otherProcess(
  job: Record<string, unknown>,
): (cmd: Record<string, unknown>) => Promise<Record<string, unknown>> {
  const proc = startLineChild(childScript, job)
  stops.push(() => proc.end())
  return async (cmd) => {
    proc.send(JSON.stringify(cmd))
    return JSON.parse(await proc.next()) as Record<string, unknown>
  }
}

for (const [mode, store] of [
  ['store', 'cache'],
  ['cookie', 'cache'],
  ['store', 'redis'],
  ['cookie', 'redis'],
] as const) {
  describe.runIf(redis)(`revokeAll() across two processes (${mode} mode, Redis ${store})`, () => {
    it('a user signed in in two processes is signed out in both by one revokeAll()', { timeout: 60_000 }, async () => {
      const namespace = uniqueNamespace('sessproc')
      const keys = [generateKeyRingEntry('k1')]
      const a = otherProcess({ url: redis, namespace, keys, mode, store })
      const b = otherProcess({ url: redis, namespace, keys, mode, store })
      const [inA, inB] = await Promise.all([a({ op: 'login', userId: 'u1' }), b({ op: 'login', userId: 'u1' })])
      const other = await a({ op: 'login', userId: 'u2' })
      expect(await b({ op: 'whoami', cookie: inA.cookie })).toEqual({ userId: 'u1' }) // shared across processes

      const cache = createCache({ envPrefix: false, driver: 'redis', redis: { url: redis }, namespace })
      const here =
        store === 'redis'
          ? createSessions({ envPrefix: false, keys, mode, store, redis: { url: redis }, namespace })
          : createSessions({ envPrefix: false, keys, mode, cache })
      stops.push(async () => {
        await here.close()
        await cache.close()
      })
      expect((await here.listSessions('u1')).length).toBe(2)
      expect(await here.revokeAll('u1')).toBe(2)

      expect(await a({ op: 'whoami', cookie: inA.cookie })).toEqual({ userId: null })
      expect(await b({ op: 'whoami', cookie: inB.cookie })).toEqual({ userId: null })
      expect(await a({ op: 'whoami', cookie: inB.cookie })).toEqual({ userId: null })
      expect(await b({ op: 'whoami', cookie: other.cookie })).toEqual({ userId: 'u2' }) // another user untouched
    })
  })
}
