import { afterAll, describe, expect, it } from 'vitest'
import { createCache } from '@beaver-kit/cache'
import { createDatabase, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import {
  createCacheSuppressionList,
  createDatabaseSuppressionList,
  createMemorySuppressionList,
  type SuppressionList,
} from '@beaver-kit/delivery'

const postgres = await requireService('postgres')
const mariadb = await requireService('mariadb')

function describeList(
  name: string,
  make: () => Promise<{ list: SuppressionList; other: SuppressionList; done: () => Promise<void> }>,
) {
  describe(`suppression list: ${name}`, () => {
    it('adds, reads, checks in bulk, replaces and removes', async () => {
      const { list, other, done } = await make()
      try {
        expect(await list.check([])).toEqual(new Set())
        await list.add('a@example.com', { reason: 'hard-bounce', source: 'ses' })
        await list.add('b@example.com', { reason: 'complaint' })
        expect(await list.check(['a@example.com', 'x@example.com', 'b@example.com'])).toEqual(
          new Set(['a@example.com', 'b@example.com']),
        )
        const entry = await list.get('a@example.com')
        expect(entry).toMatchObject({ key: 'a@example.com', reason: 'hard-bounce', source: 'ses' })
        expect(entry?.createdAt).toBeInstanceOf(Date)
        expect((await list.get('b@example.com'))?.source).toBeUndefined()
        await list.add('a@example.com', { reason: 'manual', source: 'api' })
        expect(await list.get('a@example.com')).toMatchObject({ reason: 'manual', source: 'api' })
        // Another list (another sender) does not see these entries.
        expect(await other.check(['a@example.com'])).toEqual(new Set())
        expect(await list.remove('a@example.com')).toBe(true)
        expect(await list.remove('a@example.com')).toBe(false)
        expect(await list.get('a@example.com')).toBeUndefined()
      } finally {
        await done()
      }
    })

    it('checks a list longer than one statement takes', async () => {
      const { list, done } = await make()
      try {
        const keys = Array.from({ length: 1203 }, (_, i) => `u${i}@example.com`)
        await list.add('u1200@example.com', { reason: 'complaint' })
        await list.add('u7@example.com', { reason: 'complaint' })
        expect(await list.check(keys)).toEqual(new Set(['u7@example.com', 'u1200@example.com']))
      } finally {
        await done()
      }
    })
  })
}

describeList('memory', async () => ({
  list: createMemorySuppressionList(),
  other: createMemorySuppressionList(),
  done: async () => {},
}))

describeList('cache (memory driver)', async () => {
  const cache = createCache({ envPrefix: false, namespace: uniqueNamespace('supp') })
  return {
    list: createCacheSuppressionList(cache),
    other: createCacheSuppressionList(cache, { prefix: 'other:' }),
    done: () => cache.close(),
  }
})

const databaseList = (url: string) => async () => {
  const db: Database = createDatabase({ envPrefix: false, url })
  const table = uniqueNamespace('supp')
    .replace(/[^a-z0-9_]/gi, '_')
    .toLowerCase()
  return {
    list: createDatabaseSuppressionList(db, { table, list: 'mail' }),
    other: createDatabaseSuppressionList(db, { table, list: 'sms' }),
    done: async () => {
      await db.execute(`drop table if exists ${table}`)
      await db.close()
    },
  }
}

describeList('database (sqlite)', databaseList('sqlite::memory:'))
describe.runIf(postgres)('postgres', () => describeList('database (postgres)', databaseList(postgres as string)))
describe.runIf(mariadb)('mariadb', () => describeList('database (mariadb)', databaseList(mariadb as string)))

describe('suppression list limits', () => {
  it('the memory list refuses to grow past its maximum instead of forgetting someone', async () => {
    const list = createMemorySuppressionList({ maxEntries: 1 })
    await list.add('a@example.com', { reason: 'x' })
    await list.add('a@example.com', { reason: 'y' })
    await expect(list.add('b@example.com', { reason: 'x' })).rejects.toThrow(/maximum of 1/)
  })

  it('the database list refuses an unsafe table name, and retries table creation after a failure', async () => {
    const fakeDb = {
      dialect: 'sqlite' as const,
      query: async () => ({ rows: [] }),
      execute: async () => ({ affectedRows: 0 }),
    }
    expect(() => createDatabaseSuppressionList(fakeDb, { table: 'x; drop table users' })).toThrow(/table name/)
    let fail = true
    const flaky = {
      ...fakeDb,
      execute: async (text: string) => {
        if (text.startsWith('create') && fail) {
          fail = false
          throw new Error('db down')
        }
        return { affectedRows: 1 }
      },
    }
    const list = createDatabaseSuppressionList(flaky)
    await expect(list.get('a')).rejects.toThrow('db down')
    await expect(list.get('a')).resolves.toBeUndefined()
  })

  it('the cache list reads entries it did not write as absent', async () => {
    const store = new Map<string, unknown>([['suppressed:odd', 'not an entry']])
    const list = createCacheSuppressionList({
      get: async (k) => store.get(k),
      set: async (k, v) => void store.set(k, v),
      delete: async (k) => store.delete(k),
    })
    expect(await list.get('odd')).toBeUndefined()
    expect(await list.check(['odd', 'none'])).toEqual(new Set(['odd']))
  })
})

afterAll(() => undefined)
