import { sql, type Database, type SqlQuery } from '@beaver-kit/database'

/** A short link as the API returns it. */
export interface Link {
  code: string
  url: string
  title: string | null
  hits: number
  createdAt: string
  /** The account that created it; null for a link created without signing in. */
  ownerId: string | null
}

/** The columns of the fields RBAC conditions name (`ownerId`), for `permit().where()`. */
export const LINK_COLUMNS = { ownerId: 'owner_id', code: 'code' } as const

interface LinkRow {
  code: string
  url: string
  title: string | null
  hits: number | string | bigint
  created_at: number | string | bigint
  owner_id: string | null
}

function toLink(row: LinkRow): Link {
  return {
    code: row.code,
    url: row.url,
    title: row.title,
    hits: Number(row.hits),
    createdAt: new Date(Number(row.created_at)).toISOString(),
    ownerId: row.owner_id,
  }
}

/** The links table through @beaver-kit/database: the same SQL on SQLite, PostgreSQL and MySQL. */
export class LinkStore {
  readonly #db: Database
  constructor(db: Database) {
    this.#db = db
  }

  async create(code: string, url: string, ownerId: string | null = null): Promise<Link> {
    const now = Date.now()
    await this.#db.execute(
      sql`INSERT INTO links (code, url, hits, created_at, owner_id) VALUES (${code}, ${url}, 0, ${now}, ${ownerId})`,
    )
    return { code, url, title: null, hits: 0, createdAt: new Date(now).toISOString(), ownerId }
  }

  async find(code: string): Promise<Link | undefined> {
    const row = await this.#db.maybeOne<LinkRow>(
      sql`SELECT code, url, title, hits, created_at, owner_id FROM links WHERE code = ${code}`,
    )
    return row && toLink(row)
  }

  async recordHit(code: string): Promise<void> {
    await this.#db.execute(sql`UPDATE links SET hits = hits + 1 WHERE code = ${code}`)
  }

  async setTitle(code: string, title: string): Promise<void> {
    await this.#db.execute(sql`UPDATE links SET title = ${title} WHERE code = ${code}`)
  }

  /** Deletes a link; with `allowed` (an RBAC predicate such as `owner_id = $1`), only a link it admits. */
  async remove(code: string, allowed: SqlQuery = sql`1 = 1`): Promise<boolean> {
    const result = await this.#db.execute(sql`DELETE FROM links WHERE code = ${code} AND ${allowed}`)
    return result.affectedRows > 0
  }
}
