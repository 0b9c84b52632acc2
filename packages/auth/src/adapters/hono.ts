import type { Context, MiddlewareHandler } from 'hono'
import type { Auth } from '../auth.ts'
import { isAuthError } from '../errors.ts'
import { authErrorResponse, type AccessRule, type AuthRequest } from '../http.ts'
import type { Principal } from '../tokens.ts'

declare module 'hono' {
  interface ContextVariableMap {
    /** The principal a `@beaver-kit/auth/hono` guard let through: `c.get('auth')`. */
    auth: Principal
  }
}

/** The parts of a Hono request `authorize()` reads; the client address from @hono/node-server's `env.incoming`. */
function requestOf(c: Context): AuthRequest {
  const headers = c.req.raw.headers
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return {
    headers: { authorization: headers.get('authorization') ?? undefined, cookie: headers.get('cookie') ?? undefined },
    socket: { remoteAddress: incoming?.socket?.remoteAddress },
  }
}

function guard(auth: Auth, rule: AccessRule): MiddlewareHandler {
  return async function authGuard(c, next) {
    let principal: Principal
    try {
      principal = await auth.authorize(requestOf(c), rule)
    } catch (err) {
      // Anything but a refusal (a session store down) goes to Hono's onError.
      if (!isAuthError(err)) throw err
      const { status, headers, body } = authErrorResponse(err)
      return new Response(body, { status, headers })
    }
    c.set('auth', principal)
    await next()
    return undefined
  }
}

/**
 * Any signed-in request (Bearer access token, API key or session).
 * @example
 * app.get('/me', requireAuth(auth), (c) => c.json(c.get('auth')))
 */
export function requireAuth(auth: Auth): MiddlewareHandler {
  return guard(auth, {})
}

/** A principal with one of the roles (or a role inheriting one). */
export function requireRole(auth: Auth, ...roles: string[]): MiddlewareHandler {
  return guard(auth, { roles })
}

/** A principal granted every permission without conditions (check conditional grants in the handler with `can()`). */
export function requirePermission(auth: Auth, ...permissions: string[]): MiddlewareHandler {
  return guard(auth, { permissions })
}
