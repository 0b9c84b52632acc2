import type { SqlQuery } from '@beaver-kit/database'
import { anyOfSql, meets, type Conditions, type Resource, type WhereOptions } from './conditions.ts'
import { AuthError } from './errors.ts'

/**
 * A permission that holds only for some resources: `{ permission: 'link:delete', when: (s) => ({ ownerId: s.userId }) }`.
 * The conditions are checked on a resource in memory and compile to a SQL `WHERE` for queries.
 */
export interface ConditionalGrant {
  permission: string
  when: (subject: Subject) => Conditions
}

/** One role: its permissions and the roles whose permissions it inherits. */
export interface RoleDefinition {
  /** `resource:action` strings (`resource:*` and `*` are wildcards), or conditional grants. */
  permissions?: ReadonlyArray<string | ConditionalGrant>
  inherits?: readonly string[]
}

/** The role table: `{ admin: { inherits: ['editor'] }, editor: { permissions: ['link:*'] } }`. */
export type RoleTable = Readonly<Record<string, RoleDefinition>>

/** Who is asking, as far as RBAC is concerned: a Principal fits. */
export interface Subject {
  /** The user, for conditions such as "owns the resource". */
  userId?: string | undefined
  roles: readonly string[]
  /** API-key scopes: when present, a permission must be in both the roles and the scopes. */
  scopes?: readonly string[] | undefined
}

/**
 * What a subject may do with one permission: on every resource (`all`), on those meeting
 * conditions (`conditional`), or on none. `allows(resource)` checks one resource; `where()`
 * is the same rule as a SQL predicate for `@beaver-kit/database` queries (values bound).
 */
export interface Permit {
  readonly permission: string
  readonly granted: 'all' | 'conditional' | 'none'
  allows(resource: Resource): boolean
  where(options?: WhereOptions): SqlQuery
}

/** @internal The role table compiled once: each role to every role it is (itself and ancestors) and every grant. */
export interface CompiledRoles {
  has(subject: Subject, role: string): boolean
  permit(subject: Subject, permission: string): Permit
  known(role: string): boolean
}

interface Grant {
  pattern: string
  when?: ((subject: Subject) => Conditions) | undefined
}

function matches(granted: string, wanted: string): boolean {
  if (granted === '*' || granted === wanted) return true
  return granted.endsWith(':*') && wanted.startsWith(granted.slice(0, -1))
}

/** `can(s, 'update', 'Link')` names the permission `link:update`. */
export function permissionName(action: string, type: string): string {
  return `${type.toLowerCase()}:${action}`
}

function permitOf(permission: string, granted: readonly Conditions[] | 'all'): Permit {
  return {
    permission,
    granted: granted === 'all' ? 'all' : granted.length === 0 ? 'none' : 'conditional',
    allows: (resource) => granted === 'all' || granted.some((c) => meets(c, resource)),
    where: (options = {}) => anyOfSql(granted, options),
  }
}

/** Compiles the table, refusing unknown parents and cycles at creation. */
export function compileRoles(table: RoleTable = {}): CompiledRoles {
  const closure = new Map<string, { roles: Set<string>; grants: Grant[] }>()
  const visit = (role: string, path: string[]): { roles: Set<string>; grants: Grant[] } => {
    const done = closure.get(role)
    if (done) return done
    const def = table[role]
    if (!def)
      throw new AuthError(
        'AUTH_ROLE_UNKNOWN',
        `The role "${path.at(-1)}" inherits "${role}", which is not in the roles table.`,
      )
    if (path.includes(role))
      throw new AuthError('AUTH_OPTIONS_INVALID', `The roles table has a cycle: ${[...path, role].join(' → ')}.`)
    const roles = new Set([role])
    const grants: Grant[] = (def.permissions ?? []).map((p) =>
      typeof p === 'string' ? { pattern: p } : { pattern: p.permission, when: p.when },
    )
    for (const parent of def.inherits ?? []) {
      const p = visit(parent, [...path, role])
      for (const r of p.roles) roles.add(r)
      grants.push(...p.grants)
    }
    const entry = { roles, grants: [...new Set(grants)] }
    closure.set(role, entry)
    return entry
  }
  for (const role of Object.keys(table)) visit(role, [])

  return {
    known: (role) => closure.has(role),
    has: (subject, role) => subject.roles.some((r) => closure.get(r)?.roles.has(role) ?? r === role),
    permit(subject, permission) {
      if (subject.scopes !== undefined && !subject.scopes.some((s) => matches(s, permission)))
        return permitOf(permission, [])
      const conditions: Conditions[] = []
      for (const role of subject.roles)
        for (const grant of closure.get(role)?.grants ?? []) {
          if (!matches(grant.pattern, permission)) continue
          if (!grant.when) return permitOf(permission, 'all')
          conditions.push(grant.when(subject))
        }
      return permitOf(permission, conditions)
    },
  }
}
