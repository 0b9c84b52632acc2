import { AuditError } from './errors.ts'

/**
 * Canonical JSON (RFC 8785's rules for the values an audit record holds): object keys sorted
 * by UTF-16 code units, no whitespace, numbers and strings as ECMAScript's JSON.stringify
 * writes them, `undefined` members left out. The same value always gives the same bytes, on
 * every store and after a round trip through a TEXT column, which is what makes a hash of it
 * checkable later.
 */
export function canonicalJson(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) {
        throw new AuditError('AUDIT_EVENT_INVALID', `A record cannot hold the number ${value} (JSON has no such value)`)
      }
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value))
        return `[${value.map((v: unknown) => canonicalJson(v === undefined ? null : v)).join(',')}]`
      const obj = value as Record<string, unknown>
      const parts: string[] = []
      for (const key of Object.keys(obj).sort()) {
        const v = obj[key]
        if (v !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`)
      }
      return `{${parts.join(',')}}`
    }
    default:
      throw new AuditError('AUDIT_EVENT_INVALID', `A record cannot hold a ${typeof value} value (JSON only)`)
  }
}

/**
 * A JSON copy of a value: what JSON.stringify keeps (Dates as ISO strings, toJSON applied,
 * undefined members dropped), so that what is hashed is what is stored and read back.
 */
export function toJsonValue(value: unknown, what: string): unknown {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (error) {
    throw new AuditError('AUDIT_EVENT_INVALID', `${what} cannot be written as JSON: ${(error as Error).message}`, {
      cause: error,
    })
  }
  return text === undefined ? null : (JSON.parse(text) as unknown)
}
