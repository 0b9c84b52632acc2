import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase, sql, type Database } from '@beaver-kit/database'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createAuth, isAuthError, type Conditions, type RoleTable, type Subject } from '@beaver-kit/auth'
import { cheapKrypto } from './suite.ts'

const ROLES: RoleTable = {
  member: {
    permissions: [
      'link:read',
      { permission: 'link:update', when: (s) => ({ ownerId: s.userId }) },
      { permission: 'link:delete', when: (s) => ({ ownerId: s.userId, locked: false }) },
    ],
  },
  moderator: {
    inherits: ['member'],
    permissions: [{ permission: 'link:*', when: () => ({ status: { in: ['flagged', null] } }) }],
  },
  admin: { inherits: ['moderator'], permissions: ['link:*'] },
}

const krypto = cheapKrypto()
const auth = createAuth({ envPrefix: false, krypto, limiter: false, roles: ROLES })
afterAll(async () => {
  await auth.close()
  await krypto.close()
})

const ann: Subject = { userId: 'ann', roles: ['member'] }
const bob: Subject = { userId: 'bob', roles: ['member'] }
const mod: Subject = { userId: 'mo', roles: ['moderator'] }
const root: Subject = { userId: 'root', roles: ['admin'] }
const anon: Subject = { roles: ['member'] }

interface LinkRow {
  code: string
  ownerId: string | null
  locked: boolean
  status: string | null
  hits: number
}
const ROWS: LinkRow[] = [
  { code: 'a1', ownerId: 'ann', locked: false, status: 'ok', hits: 1 },
  { code: 'a2', ownerId: 'ann', locked: true, status: 'flagged', hits: 50 },
  { code: 'b1', ownerId: 'bob', locked: false, status: null, hits: 7 },
  { code: 'n1', ownerId: null, locked: false, status: 'ok', hits: 0 },
]

describe('conditional grants in memory', () => {
  it("checks a resource against the subject's conditions, with the (action, Type) spelling too", () => {
    const [a1, a2, b1] = ROWS as [LinkRow, LinkRow, LinkRow]
    expect(auth.can(ann, 'link:update', a1)).toBe(true)
    expect(auth.can(ann, 'update', 'Link', a1)).toBe(true)
    expect(auth.can(ann, 'update', 'Link', b1)).toBe(false)
    expect(auth.can(ann, 'link:delete', a2)).toBe(false) // locked
    expect(auth.can(ann, 'link:read', b1)).toBe(true)
    expect(auth.can(mod, 'link:delete', a2)).toBe(true) // flagged
    expect(auth.can(root, 'link:delete', b1)).toBe(true)
  })

  it('without a resource, only an unconditional grant counts', () => {
    expect(auth.can(ann, 'link:read')).toBe(true)
    expect(auth.can(ann, 'update', 'Link')).toBe(false)
    expect(auth.permit(ann, 'update', 'Link').granted).toBe('conditional')
    expect(auth.permit(root, 'link:delete').granted).toBe('all')
    expect(auth.permit(ann, 'user:delete').granted).toBe('none')
    expect(
      auth
        .permit({ roles: ['nobody'] }, 'link:read')
        .where()
        .toString(),
    ).toBe('1 = 0')
    expect(auth.permit(root, 'link:read').where().toString()).toBe('1 = 1')
  })

  it('fails closed: a subject without userId matches no owner, API-key scopes still bound everything', () => {
    expect(ROWS.filter((r) => auth.can(anon, 'link:update', r))).toEqual([])
    const key: Subject = { userId: 'root', roles: ['admin'], scopes: ['link:read'] }
    expect(auth.can(key, 'link:read', ROWS[0] as LinkRow)).toBe(true)
    expect(auth.can(key, 'link:delete', ROWS[0] as LinkRow)).toBe(false)
    expect(auth.permit(key, 'link:delete').where().toString()).toBe('1 = 0')
  })

  it('compiles operators to bound parameters and refuses unknown operators and unmapped fields', async () => {
    const table: RoleTable = {
      r: {
        permissions: [
          {
            permission: 'x:y',
            when: (): Conditions => ({ title: "x' OR 1=1 --", n: { gte: 2, lt: 9 }, s: { ne: 'a' } }),
          },
        ],
      },
      bad: { permissions: [{ permission: 'x:y', when: () => ({ n: { equals: 1 } as never }) }] },
    }
    const a = createAuth({ envPrefix: false, krypto, limiter: false, roles: table })
    const where = a
      .permit({ roles: ['r'] }, 'x:y')
      .where()
      .compile('postgres')
    expect(where.text).toBe('(("title" = $1 AND "n" >= $2 AND "n" < $3 AND ("s" <> $4 OR "s" IS NULL)))')
    expect(where.values).toEqual(["x' OR 1=1 --", 2, 9, 'a'])
    const mapped = a.permit({ roles: ['r'] }, 'x:y')
    expect(() => mapped.where({ columns: { title: 't' } })).toThrow(/"n".*columns/)
    const bad = a.permit({ roles: ['bad'] }, 'x:y')
    expect(() => bad.allows({ n: 1 })).toThrow(/"equals"/)
    const refused = (() => {
      try {
        return bad.where()
      } catch (err) {
        return err
      }
    })()
    expect(isAuthError(refused, 'AUTH_OPTIONS_INVALID')).toBe(true)
    await a.close()
  })
})

const pg = await requireService('postgres')
const maria = await requireService('mariadb')
const dir = mkdtempSync(join(tmpdir(), 'beaver-auth-conditions-'))
const opened: Array<{ db: Database; table: string }> = []
afterAll(async () => {
  for (const { db, table } of opened) {
    await db.execute(sql`DROP TABLE IF EXISTS ${sql.id(table)}`)
    await db.close()
  }
  rmSync(dir, { recursive: true, force: true })
})

const COLUMNS = { code: 'code', ownerId: 'owner_id', locked: 'locked', status: 'status', hits: 'hits' }
const SUBJECTS: Record<string, Subject> = { ann, bob, mod, root, anon }
const PERMISSIONS = ['link:read', 'link:update', 'link:delete', 'user:delete']

function sqlCase(driver: string, url: string | undefined): void {
  if (url === undefined) return
  it(`filters a query on ${driver} exactly as can() decides, values bound`, async () => {
    const db = createDatabase({ url, envPrefix: false })
    const table = uniqueNamespace('auth_cond').toLowerCase()
    opened.push({ db, table })
    await db.execute(
      sql`CREATE TABLE ${sql.id(table)} (code VARCHAR(8) PRIMARY KEY, owner_id VARCHAR(32), locked BOOLEAN NOT NULL, status VARCHAR(16), hits INTEGER NOT NULL)`,
    )
    for (const r of ROWS)
      await db.execute(
        sql`INSERT INTO ${sql.id(table)} (code, owner_id, locked, status, hits) VALUES (${r.code}, ${r.ownerId}, ${r.locked}, ${r.status}, ${r.hits})`,
      )
    for (const [name, subject] of Object.entries(SUBJECTS))
      for (const permission of PERMISSIONS) {
        const permit = auth.permit(subject, permission)
        const rows = await db.many<{ code: string }>(
          sql`SELECT code FROM ${sql.id(table)} WHERE ${permit.where({ columns: COLUMNS, table })} ORDER BY code`,
        )
        const expected = ROWS.filter((r) => permit.allows(r)).map((r) => r.code)
        expect({ name, permission, codes: rows.map((r) => r.code) }).toEqual({ name, permission, codes: expected })
      }
    const annCanUpdate = await db.many<{ code: string }>(
      sql`SELECT code FROM ${sql.id(table)} WHERE ${auth.permit(ann, 'update', 'Link').where({ columns: COLUMNS })} ORDER BY code`,
    )
    expect(annCanUpdate.map((r) => r.code)).toEqual(['a1', 'a2'])
  })
}

describe('conditional grants as SQL', () => {
  sqlCase('sqlite', `sqlite:${join(dir, 'conditions.db')}`)
  sqlCase('postgres', pg)
  sqlCase('mariadb', maria)
})
