import type { IncomingHttpHeaders } from 'node:http'
import type { AuthError } from './errors.ts'
import { isAuthError, statusOf } from './errors.ts'
import type { Principal } from './tokens.ts'

/** The request parts `authenticate()` reads: node:http, Express, or anything with headers. */
export interface AuthRequest {
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>
  socket?: { remoteAddress?: string | undefined } | undefined
}

/** What `authorize()` and the middleware ask of a principal: one of `roles` (or a role inheriting one), and every permission. */
export interface AccessRule {
  roles?: readonly string[]
  /** Checked unconditionally: a grant with conditions needs the resource, so check it in the handler with `can()`. */
  permissions?: readonly string[]
}

/** The response parts the middleware writes a refusal to (node:http's ServerResponse, Express's Response). */
export interface AuthResponse {
  statusCode: number
  setHeader(name: string, value: string): unknown
  end(body?: string): unknown
  headersSent?: boolean
}

/** A middleware for node:http and Express: resolves true and calls `next` when the request may go on. */
export type AuthMiddleware = (
  req: AuthRequest & { auth?: Principal },
  res: AuthResponse,
  next?: (error?: unknown) => void,
) => Promise<boolean>

/** The token of an `Authorization: Bearer <token>` header (scheme compared case-insensitively). */
export function bearerToken(headers: AuthRequest['headers']): string | undefined {
  const raw = headers.authorization ?? headers.Authorization
  const value = Array.isArray(raw) ? raw[0] : raw
  if (typeof value !== 'string') return undefined
  const m = /^bearer[ \t]+([^\s]+)[ \t]*$/i.exec(value)
  return m?.[1]
}

/** An AuthError as an HTTP answer: its status, headers and JSON body (`{ error: code, message }`); what every adapter sends. */
export function authErrorResponse(err: AuthError): { status: number; headers: Record<string, string>; body: string } {
  const status = statusOf(err.code)
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (status === 401) headers['www-authenticate'] = 'Bearer'
  const retry = err.details.retryAfterMs
  if (typeof retry === 'number') headers['retry-after'] = String(Math.ceil(retry / 1000))
  return { status, headers, body: JSON.stringify({ error: err.code, message: err.message }) }
}

/** Writes an AuthError as a JSON problem (`{ error: code, message }`) with its status. */
export function sendAuthError(res: AuthResponse, err: AuthError): void {
  if (res.headersSent) return
  const { status, headers, body } = authErrorResponse(err)
  res.statusCode = status
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  res.end(body)
}

/** @internal Builds a middleware from a check that returns the principal or throws an AuthError. */
export function middleware(check: (req: AuthRequest) => Promise<Principal>): AuthMiddleware {
  return async function authMiddleware(req, res, next) {
    let principal: Principal
    try {
      principal = await check(req)
    } catch (err) {
      if (!isAuthError(err)) {
        if (next) next(err)
        else throw err
        return false
      }
      sendAuthError(res, err)
      return false
    }
    req.auth = principal
    next?.()
    return true
  }
}
