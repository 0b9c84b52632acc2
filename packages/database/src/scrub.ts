// Servers echo bound values in their error text: MySQL's "Duplicate entry 'a@b.c' for key ...",
// PostgreSQL's `invalid input syntax for type integer: "..."`, its DETAIL "Key (email)=(a@b.c)
// already exists." and CONTEXT "JSON data, line 1: ...". A value is bound precisely so that it is
// never text the kit shows: these are scrubbed before an error leaves the kit, in the kit error
// and in the driver error kept as its cause, on every driver.

/** What a scrubbed value is replaced with. */
export const REDACTED = '[redacted]'

// The messages that quote a value, matched greedily to the text that follows it, so a value
// with quotes inside is scrubbed whole: MySQL/MariaDB, then PostgreSQL's `...: "value"`.
const ECHOES: readonly RegExp[] = [
  /(Duplicate entry ').*(' for key ')/gs,
  /(value: ').*('(?: for column|$))/gs,
  /(: ").*("$)/gs,
]
const QUOTED = /'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"/g
const KEY_VALUE = /\)=\(.*\)/gs
const FAILING_ROW = /(Failing row contains )\(.*\)/gs
const JSON_CONTEXT = /(JSON data, line \d+: ).*$/gm

/**
 * Replaces every quoted run in a server's error text that is not SQL the caller wrote (it
 * appears in the statement) and not a name the classifier found (constraint, column): what is
 * left quoted is what the server echoed from the values.
 */
export function scrubText(text: string, statement: string | undefined, names: readonly (string | undefined)[]): string {
  const sql = statement?.toLowerCase()
  let out = text
  for (const echo of ECHOES) out = out.replace(echo, `$1${REDACTED}$2`)
  return out
    .replace(QUOTED, (quoted) => {
      const inner = quoted.slice(1, -1)
      if (inner === '' || inner === REDACTED || names.includes(inner) || names.includes(inner.split('.').pop()))
        return quoted
      if (sql !== undefined && sql.includes(inner.toLowerCase())) return quoted
      return `${quoted[0]}${REDACTED}${quoted[0]}`
    })
    .replace(KEY_VALUE, `)=(${REDACTED})`)
    .replace(FAILING_ROW, `$1(${REDACTED})`)
    .replace(JSON_CONTEXT, `$1${REDACTED}`)
}

// Where drivers put server text: the message (and the stack that repeats it), mysql2's
// sqlMessage, pg's detail and where (CONTEXT); libSQL nests the server error as a cause.
const TEXT_FIELDS = ['sqlMessage', 'detail', 'where', 'hint'] as const

/**
 * Scrubs a driver error in place, and the causes it wraps: its message, stack and the fields
 * that carry server text. Identity and class are kept, so the cause is still the driver's error.
 */
export function scrubDriverError(
  err: unknown,
  statement: string | undefined,
  names: readonly (string | undefined)[],
  depth = 0,
): void {
  if (typeof err !== 'object' || err === null || depth > 4) return
  const e = err as Record<string, unknown> & { message?: unknown; stack?: unknown; cause?: unknown }
  if (typeof e.message === 'string') {
    const before = e.message
    const after = scrubText(before, statement, names)
    if (after !== before) {
      set(e, 'message', after)
      if (typeof e.stack === 'string') set(e, 'stack', e.stack.replace(before, after))
    }
  }
  for (const field of TEXT_FIELDS) {
    const value = e[field]
    if (typeof value === 'string') set(e, field, scrubText(value, statement, names))
  }
  scrubDriverError(e.cause, statement, names, depth + 1)
}

function set(target: Record<string, unknown>, key: string, value: string): void {
  try {
    target[key] = value
  } catch {
    // A read-only field (no driver's error has one today): the kit error's own text is scrubbed anyway.
  }
}
