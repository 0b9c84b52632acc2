import type { ErrorClass } from '../errors.ts'

/** SQLite (extended) result code → kit code; shared by the sqlite and libsql drivers. */
export function classifySqliteCode(rawCode: number, message: string): ErrorClass {
  const base = rawCode & 0xff
  const after = (prefix: string): string | undefined => {
    const i = message.indexOf(prefix)
    return i < 0
      ? undefined
      : message
          .slice(i + prefix.length)
          .trim()
          .split(/\s/)[0]
  }
  switch (rawCode) {
    case 2067: // SQLITE_CONSTRAINT_UNIQUE
    case 1555: // SQLITE_CONSTRAINT_PRIMARYKEY
      return { code: 'DB_UNIQUE_VIOLATION', driverCode: rawCode, constraint: after('constraint failed:') }
    case 787: // SQLITE_CONSTRAINT_FOREIGNKEY
      return { code: 'DB_FOREIGN_KEY', driverCode: rawCode }
    case 1299: {
      // SQLITE_CONSTRAINT_NOTNULL: "NOT NULL constraint failed: table.column"
      const target = after('constraint failed:')
      return { code: 'DB_NOT_NULL', driverCode: rawCode, column: target?.split('.').pop() }
    }
    case 275: // SQLITE_CONSTRAINT_CHECK
      return { code: 'DB_CHECK', driverCode: rawCode, constraint: after('constraint failed:') }
    case 517: // SQLITE_BUSY_SNAPSHOT: our snapshot is stale, another writer committed first
      return { code: 'DB_SERIALIZATION', driverCode: rawCode, retryable: true }
  }
  switch (base) {
    case 5: // SQLITE_BUSY
    case 6: // SQLITE_LOCKED
      return { code: 'DB_TIMEOUT', driverCode: rawCode, retryable: true }
    case 10: // SQLITE_IOERR
    case 14: // SQLITE_CANTOPEN
    case 26: // SQLITE_NOTADB
      return { code: 'DB_CONNECTION', driverCode: rawCode }
    case 23: // SQLITE_AUTH
      return { code: 'DB_AUTH', driverCode: rawCode }
    default:
      return { code: 'DB_QUERY', driverCode: rawCode }
  }
}

/** Statements that only read, so running them twice is harmless. */
export function isPlainRead(text: string): boolean {
  if (/^\s*(select|values|pragma|explain)\b/i.test(text)) return !/\b(insert|update|delete|replace)\b/i.test(text)
  return /^\s*with\b/i.test(text) && !/\b(insert|update|delete|replace)\b/i.test(text)
}

/** Values SQLite cannot bind as they are: the same conversions on both SQLite drivers. */
export function sqliteValue(value: unknown): unknown {
  switch (typeof value) {
    case 'undefined':
      return null
    case 'boolean':
      return value ? 1 : 0
    case 'object':
      if (value === null || ArrayBuffer.isView(value)) return value
      if (value instanceof Date) return value.toISOString()
      return JSON.stringify(value)
    default:
      return value
  }
}
