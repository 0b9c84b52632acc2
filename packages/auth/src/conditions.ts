import { sql, type SqlQuery } from '@beaver-kit/database'
import { AuthError } from './errors.ts'

/** A value a condition compares a resource field with; bound as a parameter in SQL, never text. */
export type ConditionValue = string | number | boolean | null

/** Comparisons on one field; several in one object must all hold. */
export interface FieldOperators {
  eq?: ConditionValue | undefined
  ne?: ConditionValue | undefined
  in?: readonly ConditionValue[] | undefined
  lt?: string | number | undefined
  lte?: string | number | undefined
  gt?: string | number | undefined
  gte?: string | number | undefined
}

/**
 * What a resource must look like for a conditional grant to apply: field to value (equality,
 * `null` for SQL NULL) or to operators; every field must hold. A field whose value is
 * `undefined` (a subject without `userId`, say) never matches: conditions fail closed.
 */
export type Conditions = Readonly<Record<string, ConditionValue | FieldOperators | undefined>>

/** A resource checked in memory: any object, its fields read by the names the conditions use. */
export type Resource = object

/** How condition fields become SQL: the column of each field (default the field's own name) and a table to qualify them. */
export interface WhereOptions {
  /** Field name to column name; when given, a field missing from it is an error (a typo never widens access). */
  columns?: Readonly<Record<string, string>>
  /** Qualifies every column: `"links"."owner_id"`. */
  table?: string
}

const OPERATORS = new Set(['eq', 'ne', 'in', 'lt', 'lte', 'gt', 'gte'])

function isOperators(value: ConditionValue | FieldOperators | undefined): value is FieldOperators {
  return typeof value === 'object' && value !== null
}

/** Refuses an operator object with an unknown key, so `{ equals: x }` is not silently "no condition". */
function operatorsOf(field: string, value: FieldOperators): Array<[keyof FieldOperators, unknown]> {
  const entries = Object.entries(value) as Array<[keyof FieldOperators, unknown]>
  for (const [op] of entries)
    if (!OPERATORS.has(op))
      throw new AuthError(
        'AUTH_OPTIONS_INVALID',
        `The condition on "${field}" uses "${op}"; expected one of ${[...OPERATORS].join(', ')}.`,
      )
  return entries
}

function compare(actual: unknown, op: keyof FieldOperators, expected: unknown): boolean {
  if (expected === undefined) return false
  switch (op) {
    case 'eq':
      return actual === expected
    case 'ne':
      return actual !== expected
    case 'in':
      return (expected as readonly unknown[]).includes(actual)
    default: {
      // SQL compares NULL with nothing, and neither do these (nor values of different types).
      if (actual === null || actual === undefined || typeof actual !== typeof expected) return false
      const a = actual as string | number
      const e = expected as string | number
      return op === 'lt' ? a < e : op === 'lte' ? a <= e : op === 'gt' ? a > e : a >= e
    }
  }
}

/** True when the resource meets every condition (in memory). */
export function meets(conditions: Conditions, resource: Resource): boolean {
  for (const [field, value] of Object.entries(conditions)) {
    const actual = (resource as Record<string, unknown>)[field]
    if (!isOperators(value)) {
      if (!compare(actual, 'eq', value)) return false
      continue
    }
    for (const [op, expected] of operatorsOf(field, value)) if (!compare(actual, op, expected)) return false
  }
  return true
}

const NEVER = sql`1 = 0`
const ALWAYS = sql`1 = 1`

function column(field: string, options: WhereOptions): SqlQuery {
  const name = options.columns ? options.columns[field] : field
  if (name === undefined)
    throw new AuthError(
      'AUTH_OPTIONS_INVALID',
      `A condition names the field "${field}", which the columns mapping does not have; add it to columns.`,
    )
  return options.table === undefined ? sql.id(name) : sql.id(options.table, name)
}

function fieldSql(col: SqlQuery, op: keyof FieldOperators, expected: unknown): SqlQuery {
  if (expected === undefined) return NEVER
  switch (op) {
    case 'eq':
      return expected === null ? sql`${col} IS NULL` : sql`${col} = ${expected}`
    case 'ne':
      // In memory a NULL field differs from any value; SQL's `<>` says unknown, so ask for NULL too.
      return expected === null ? sql`${col} IS NOT NULL` : sql`(${col} <> ${expected} OR ${col} IS NULL)`
    case 'in': {
      const items = expected as readonly ConditionValue[]
      const values = items.filter((v) => v !== null)
      const parts: SqlQuery[] = []
      if (values.length > 0) parts.push(sql`${col} IN (${sql.list(values)})`)
      if (values.length < items.length) parts.push(sql`${col} IS NULL`)
      return parts.length === 0 ? NEVER : sql`(${sql.join(parts, sql` OR `)})`
    }
    case 'lt':
      return sql`${col} < ${expected}`
    case 'lte':
      return sql`${col} <= ${expected}`
    case 'gt':
      return sql`${col} > ${expected}`
    default:
      return sql`${col} >= ${expected}`
  }
}

/** One grant's conditions as a SQL predicate (values bound, columns quoted). */
export function conditionsSql(conditions: Conditions, options: WhereOptions): SqlQuery {
  const parts: SqlQuery[] = []
  for (const [field, value] of Object.entries(conditions)) {
    const col = column(field, options)
    if (!isOperators(value)) parts.push(fieldSql(col, 'eq', value))
    else for (const [op, expected] of operatorsOf(field, value)) parts.push(fieldSql(col, op, expected))
  }
  return parts.length === 0 ? ALWAYS : sql`(${sql.join(parts, sql` AND `)})`
}

/** Any of several grants' predicates: `none` when there is no grant, `all` when one is unconditional. */
export function anyOfSql(grants: readonly Conditions[] | 'all', options: WhereOptions): SqlQuery {
  if (grants === 'all') return ALWAYS
  if (grants.length === 0) return NEVER
  return sql`(${sql.join(
    grants.map((g) => conditionsSql(g, options)),
    sql` OR `,
  )})`
}
