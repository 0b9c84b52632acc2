import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { createDatabase, sql } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { startLineChild } from '@beaver-kit/testkit/line-child'

const redis = await requireService('redis')
const pg = await requireService('postgres')
const childScript = fileURLToPath(new URL('./helpers/limit-child.ts', import.meta.url))
const tables: string[] = []
afterAll(async () => {
  if (!pg || tables.length === 0) return
  const db = createDatabase({ url: pg, envPrefix: false })
  for (const t of tables) await db.execute(sql`DROP TABLE IF EXISTS ${sql.id(t)}`)
  await db.close()
})

interface Tally {
  allowed: number
  unavailable: number
  errors: string[]
}

/** Starts a child limiter; resolves once it is connected, with a function that fires its requests. */
async function child(job: Record<string, unknown>): Promise<() => Promise<Tally>> {
  const proc = startLineChild(childScript, job)
  expect(await proc.next()).toBe('ready')
  return async () => {
    proc.send('go')
    const tally = JSON.parse(await proc.next()) as Tally
    await proc.end()
    return tally
  }
}

const LIMIT = 100
const stores: Array<[string, string | undefined, () => Record<string, unknown>]> = [
  ['redis', redis, () => ({ store: 'redis', url: redis, namespace: uniqueNamespace('rlproc') })],
  [
    'postgres',
    pg,
    () => {
      const table = `rl_proc_${Math.random().toString(36).slice(2, 10)}`
      tables.push(table)
      return { store: 'postgres', url: pg, namespace: uniqueNamespace('rlproc'), table }
    },
  ],
]

for (const [name, url, jobFor] of stores) {
  describe.runIf(url)(`two processes on one ${name} store`, () => {
    it(`1,000 parallel requests for one key never exceed the limit of ${LIMIT}`, { timeout: 120_000 }, async () => {
      const job = { ...jobFor(), limit: LIMIT, requests: 500 }
      const [a, b] = await Promise.all([child(job), child(job)])
      const [ta, tb] = await Promise.all([(a as () => Promise<Tally>)(), (b as () => Promise<Tally>)()])
      expect([...ta.errors, ...tb.errors]).toEqual([])
      expect(ta.unavailable + tb.unavailable).toBe(0) // every decision came from the store
      expect(ta.allowed + tb.allowed).toBe(LIMIT)
    })
  })
}
