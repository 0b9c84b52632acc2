/** The SQL dialects the kit compiles to. */
export type Dialect = 'postgres' | 'mysql' | 'sqlite'

const KIND = Symbol.for('beaver-kit.db.sql-kind')

interface Special {
  readonly [KIND]: 'query' | 'id' | 'list' | 'raw' | 'json'
}

/** A compiled statement: text with the dialect's placeholders, and the bound values. */
export interface CompiledQuery {
  readonly text: string
  readonly values: readonly unknown[]
}

/**
 * A statement built with the `sql` tag: literal text plus values that are always bound as
 * parameters. Compiled to the right placeholders (`$1` or `?`) when it runs.
 */
export class SqlQuery implements Special {
  readonly [KIND] = 'query' as const
  readonly strings: readonly string[]
  readonly values: readonly unknown[]

  constructor(strings: readonly string[], values: readonly unknown[]) {
    this.strings = strings
    this.values = values
  }

  /** The text and parameters this query sends on `dialect`. */
  compile(dialect: Dialect): CompiledQuery {
    return compile(this, dialect)
  }

  /** The statement with `?` placeholders, for logs and errors (never the values). */
  toString(): string {
    return compile(this, 'sqlite').text
  }
}

class Identifier implements Special {
  readonly [KIND] = 'id' as const
  readonly parts: readonly string[]
  constructor(parts: readonly string[]) {
    if (parts.length === 0) throw new TypeError('sql.id() needs at least one name')
    for (const p of parts) checkIdentifier(p, 'sql.id()')
    this.parts = parts
  }
}

class List implements Special {
  readonly [KIND] = 'list' as const
  readonly items: readonly unknown[]
  constructor(items: readonly unknown[]) {
    if (items.length === 0) {
      throw new TypeError(
        'sql.list() got an empty list, and "IN ()" is not valid SQL; handle the empty case before querying',
      )
    }
    this.items = items
  }
}

class Raw implements Special {
  readonly [KIND] = 'raw' as const
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

class Json implements Special {
  readonly [KIND] = 'json' as const
  readonly value: unknown
  constructor(value: unknown) {
    this.value = value
  }
}

function kindOf(value: unknown): Special[typeof KIND] | undefined {
  return typeof value === 'object' && value !== null ? (value as Partial<Special>)[KIND] : undefined
}

/**
 * Refuses a name no quoting makes safe: empty, or with a NUL character, which PostgreSQL
 * answers by dropping the connection and other servers by cutting the name short.
 */
function checkIdentifier(name: unknown, where: string): void {
  if (typeof name !== 'string' || name === '') throw new TypeError(`${where} names must be non-empty strings`)
  if (name.includes('\0'))
    throw new TypeError(`${where} names cannot contain a NUL character (\\0); got ${JSON.stringify(name)}`)
}

/** Quotes an identifier for a dialect, doubling any quote character inside it; refuses empty names and NUL. */
export function quoteIdentifier(name: string, dialect: Dialect): string {
  checkIdentifier(name, 'quoteIdentifier()')
  return dialect === 'mysql' ? `\`${name.replaceAll('`', '``')}\`` : `"${name.replaceAll('"', '""')}"`
}

// The texts of a call site are the same array every time: cache its compiled text per dialect.
const plainCache: Record<Dialect, WeakMap<readonly string[], string>> = {
  postgres: new WeakMap(),
  mysql: new WeakMap(),
  sqlite: new WeakMap(),
}

function compile(query: SqlQuery, dialect: Dialect): CompiledQuery {
  const { strings, values } = query
  let plain = true
  for (const v of values) {
    if (kindOf(v) !== undefined) {
      plain = false
      break
    }
  }
  if (plain) {
    let text = plainCache[dialect].get(strings)
    if (text === undefined) {
      text = strings[0] ?? ''
      for (let i = 1; i < strings.length; i++) text += (dialect === 'postgres' ? `$${i}` : '?') + strings[i]
      plainCache[dialect].set(strings, text)
    }
    return { text, values }
  }
  const out: unknown[] = []
  const text = build(query, dialect, out)
  return { text, values: out }
}

function build(query: SqlQuery, dialect: Dialect, out: unknown[]): string {
  const { strings, values } = query
  let text = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) {
    text += piece(values[i], dialect, out) + strings[i + 1]
  }
  return text
}

function param(value: unknown, dialect: Dialect, out: unknown[]): string {
  out.push(value)
  return dialect === 'postgres' ? `$${out.length}` : '?'
}

function piece(value: unknown, dialect: Dialect, out: unknown[]): string {
  switch (kindOf(value)) {
    case 'query':
      return build(value as SqlQuery, dialect, out)
    case 'id':
      return (value as Identifier).parts.map((p) => quoteIdentifier(p, dialect)).join('.')
    case 'list':
      return (value as List).items.map((item) => piece(item, dialect, out)).join(', ')
    case 'raw':
      return (value as Raw).text
    case 'json':
      return param(JSON.stringify((value as Json).value), dialect, out)
    default:
      return param(value, dialect, out)
  }
}

/** The `sql` tag and its helpers. */
export interface SqlTag {
  /**
   * Builds a statement: every `${value}` is a bound parameter, never text. Nest `sql`
   * fragments freely; identifiers, lists and raw text only through the helpers below.
   * @example db.many(sql`select * from users where id = ${id} and status in (${sql.list(statuses)})`)
   */
  (strings: TemplateStringsArray, ...values: unknown[]): SqlQuery
  /** A quoted identifier: `sql.id('public', 'users')` gives `"public"."users"` (or backticks on MySQL). */
  id(...parts: string[]): SqlQuery
  /** A comma-separated list of parameters, for `IN (...)` and `VALUES (...)`; throws when empty. */
  list(items: readonly unknown[]): SqlQuery
  /** Joins fragments or values with a separator (default `, `). */
  join(items: readonly unknown[], separator?: SqlQuery): SqlQuery
  /** Text inserted verbatim. Never pass user input: it is the one way around parameter binding. */
  raw(text: string): SqlQuery
  /** A value bound as its JSON text, whatever its type (arrays included). */
  json(value: unknown): SqlQuery
  /** An empty fragment, for optional clauses. */
  readonly empty: SqlQuery
}

function wrap(value: Special): SqlQuery {
  return new SqlQuery(['', ''], [value])
}

const comma = new SqlQuery([', '], [])

/** The tagged template that builds parameterised statements; see {@link SqlTag}. */
export const sql: SqlTag = Object.assign(
  function sqlTag(strings: TemplateStringsArray, ...values: unknown[]): SqlQuery {
    return new SqlQuery(strings, values)
  },
  {
    id: (...parts: string[]) => wrap(new Identifier(parts)),
    list: (items: readonly unknown[]) => wrap(new List(items)),
    join(items: readonly unknown[], separator: SqlQuery = comma): SqlQuery {
      if (items.length === 0) return new SqlQuery([''], [])
      const strings: string[] = ['']
      const values: unknown[] = []
      items.forEach((item, i) => {
        if (i > 0) {
          values.push(separator)
          strings.push('')
        }
        values.push(item)
        strings.push('')
      })
      return new SqlQuery(strings, values)
    },
    raw: (text: string) => wrap(new Raw(text)),
    json: (value: unknown) => wrap(new Json(value)),
    empty: new SqlQuery([''], []),
  },
)

/** True for a statement built with the `sql` tag. */
export function isSqlQuery(value: unknown): value is SqlQuery {
  return kindOf(value) === 'query'
}
