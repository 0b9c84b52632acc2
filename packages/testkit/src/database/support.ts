// What the database conformance cases share: a per-test kit (the subject, table names in the
// test's namespace, placeholders) and small checks.
import type { DatabaseCaseContext, DatabaseUnderTest, Dialect } from './subject.ts'

export function ph(dialect: Dialect, n: number): string {
  return dialect === 'postgres' ? `$${n}` : '?'
}

export function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code
}

export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected the promise to reject, and it resolved')
}

/** Column types per dialect for the type round-trip table. */
export function typeTable(dialect: Dialect, table: string): string {
  switch (dialect) {
    case 'postgres':
      return `create table ${table} (id int primary key, big bigint, amount numeric(30,9), at timestamptz, doc jsonb, bin bytea, txt text, nul text)`
    case 'mysql':
      return `create table ${table} (id int primary key, big bigint, amount decimal(30,9), at datetime(3), doc json, bin blob, txt text, nul text) character set utf8mb4`
    default:
      return `create table ${table} (id integer primary key, big integer, amount text, at text, doc text, bin blob, txt text, nul text)`
  }
}

/** Every text an error carries: message, stack, string fields, details, and the same for its causes. */
export function everyText(err: unknown, depth = 0): string {
  if (typeof err !== 'object' || err === null || depth > 5) return String(err)
  const parts: string[] = []
  for (const key of Object.getOwnPropertyNames(err)) {
    const value = (err as Record<string, unknown>)[key]
    if (key === 'cause') parts.push(everyText(value, depth + 1))
    else if (typeof value === 'string') parts.push(value)
    else if (typeof value === 'object' && value !== null)
      parts.push(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))
  }
  return parts.join('\n')
}

/** The server's own code for a unique violation, kept as `driverCode`. */
export const UNIQUE_DRIVER_CODE: Record<Dialect, unknown> = { postgres: '23505', mysql: 1062, sqlite: 2067 }

/** What a write in a read-only transaction fails with, per dialect: the kit's code and the server's own. */
export const READ_ONLY_REFUSAL: Record<Dialect, { code: string; driverCode: unknown; retryable: boolean }> = {
  postgres: { code: 'DB_QUERY', driverCode: '25006', retryable: false },
  mysql: { code: 'DB_QUERY', driverCode: 1792, retryable: false },
  sqlite: { code: 'DB_QUERY', driverCode: 8, retryable: false },
}

export function barrier(parties: number): () => Promise<void> {
  let arrived = 0
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return async () => {
    if (++arrived >= parties) open()
    await opened
  }
}

/** The subject of the running test, its table names and placeholders. */
export function caseKit(ctx: DatabaseCaseContext): {
  db: () => DatabaseUnderTest
  t: (suffix: string) => string
  p: (n: number) => string
  drop: (...tables: string[]) => Promise<void>
} {
  const db = (): DatabaseUnderTest => ctx.subject()
  const t = (suffix: string): string => `${ctx.namespace()}_${suffix}`
  const p = (n: number): string => ph(db().dialect, n)
  async function drop(...tables: string[]): Promise<void> {
    for (const table of tables) await db().exec(`drop table if exists ${table}`)
  }
  return { db, t, p, drop }
}
