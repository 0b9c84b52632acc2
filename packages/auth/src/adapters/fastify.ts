import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Auth } from '../auth.ts'
import { isAuthError } from '../errors.ts'
import { authErrorResponse, type AccessRule } from '../http.ts'
import type { Principal } from '../tokens.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** The principal a `@beaver-kit/auth/fastify` guard let through. */
    auth?: Principal
  }
}

/** A Fastify `preHandler` hook: answers 401/403 as JSON, or sets `request.auth` and lets the route run. */
export type FastifyGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>

function guard(auth: Auth, rule: AccessRule): FastifyGuard {
  return async function authGuard(request, reply) {
    try {
      request.auth = await auth.authorize(request, rule)
      return undefined
    } catch (err) {
      // Anything but a refusal (a session store down) goes to Fastify's error handler.
      if (!isAuthError(err)) throw err
      const { status, headers, body } = authErrorResponse(err)
      return reply.code(status).headers(headers).send(body)
    }
  }
}

/**
 * Any signed-in request (Bearer access token, API key or session).
 * @example
 * app.get('/me', { preHandler: requireAuth(auth) }, (request) => request.auth)
 */
export function requireAuth(auth: Auth): FastifyGuard {
  return guard(auth, {})
}

/** A principal with one of the roles (or a role inheriting one). */
export function requireRole(auth: Auth, ...roles: string[]): FastifyGuard {
  return guard(auth, { roles })
}

/** A principal granted every permission without conditions (check conditional grants in the handler with `can()`). */
export function requirePermission(auth: Auth, ...permissions: string[]): FastifyGuard {
  return guard(auth, { permissions })
}
