import { sql, type Database } from '@beaver-kit/database'

/** A short link as the API returns it. */
export interface Link {
  code: string
  url: string
  title: string | null
  hits: number
  createdAt: string
}

interface LinkRow {
  code: string
  url: string
  title: string | null
  hits: number | string | bigint
  created_at: number | string | bigint
}

function toLink(row: LinkRow): Link {
  return {
    code: row.code,
    url: row.url,
    title: row.title,
    hits: Number(row.hits),
    createdAt: new Date(Number(row.created_at)).toISOString(),
  }
}

/** The links table through @beaver-kit/database: the same SQL on SQLite, PostgreSQL and MySQL. */
export class LinkStore {
  readonly #db: Database
  constructor(db: Database) {
    this.#db = db
  }

  async create(code: string, url: string): Promise<Link> {
    const now = Date.now()
    await this.#db.execute(sql`INSERT INTO links (code, url, hits, created_at) VALUES (${code}, ${url}, 0, ${now})`)
    return { code, url, title: null, hits: 0, createdAt: new Date(now).toISOString() }
  }

  async find(code: string): Promise<Link | undefined> {
    const row = await this.#db.maybeOne<LinkRow>(
      sql`SELECT code, url, title, hits, created_at FROM links WHERE code = ${code}`,
    )
    return row && toLink(row)
  }

  async recordHit(code: string): Promise<void> {
    await this.#db.execute(sql`UPDATE links SET hits = hits + 1 WHERE code = ${code}`)
  }

  async setTitle(code: string, title: string): Promise<void> {
    await this.#db.execute(sql`UPDATE links SET title = ${title} WHERE code = ${code}`)
  }

  async remove(code: string): Promise<boolean> {
    const result = await this.#db.execute(sql`DELETE FROM links WHERE code = ${code}`)
    return result.affectedRows > 0
  }
}
