import { AuthError } from './errors.ts'

/** One role: its permissions and the roles whose permissions it inherits. */
export interface RoleDefinition {
  /** `resource:action` strings; `resource:*` and `*` are wildcards. */
  permissions?: readonly string[]
  inherits?: readonly string[]
}

/** The role table: `{ admin: { inherits: ['editor'] }, editor: { permissions: ['link:*'] } }`. */
export type RoleTable = Readonly<Record<string, RoleDefinition>>

/** Who is asking, as far as RBAC is concerned: a Principal fits. */
export interface Subject {
  roles: readonly string[]
  /** API-key scopes: when present, a permission must be in both the roles and the scopes. */
  scopes?: readonly string[] | undefined
}

/** @internal The role table compiled once: each role to every role it is (itself and ancestors) and every permission. */
export interface CompiledRoles {
  has(subject: Subject, role: string): boolean
  can(subject: Subject, permission: string): boolean
  known(role: string): boolean
}

function matches(granted: string, wanted: string): boolean {
  if (granted === '*' || granted === wanted) return true
  return granted.endsWith(':*') && wanted.startsWith(granted.slice(0, -1))
}

/** Compiles the table, refusing unknown parents and cycles at creation. */
export function compileRoles(table: RoleTable = {}): CompiledRoles {
  const closure = new Map<string, { roles: Set<string>; permissions: string[] }>()
  const visit = (role: string, path: string[]): { roles: Set<string>; permissions: string[] } => {
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
    const permissions = [...(def.permissions ?? [])]
    for (const parent of def.inherits ?? []) {
      const p = visit(parent, [...path, role])
      for (const r of p.roles) roles.add(r)
      permissions.push(...p.permissions)
    }
    const entry = { roles, permissions: [...new Set(permissions)] }
    closure.set(role, entry)
    return entry
  }
  for (const role of Object.keys(table)) visit(role, [])

  return {
    known: (role) => closure.has(role),
    has: (subject, role) => subject.roles.some((r) => closure.get(r)?.roles.has(role) ?? r === role),
    can(subject, permission) {
      const byRole = subject.roles.some((r) => closure.get(r)?.permissions.some((g) => matches(g, permission)) ?? false)
      if (!byRole) return false
      return subject.scopes === undefined || subject.scopes.some((s) => matches(s, permission))
    },
  }
}
