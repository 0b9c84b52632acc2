import type { IncomingHttpHeaders } from 'node:http'
import type { Session } from './session.ts'
import type { Sessions } from './sessions.ts'

/** The parts of a Fastify request the hooks use (typed structurally: no fastify import). */
export interface FastifyLikeSessionRequest {
  headers: IncomingHttpHeaders
  session?: Session | undefined
}

/** The part of a Fastify reply the hooks write. */
export interface FastifyLikeSessionReply {
  header(name: string, value: string | string[]): unknown
}

/**
 * Fastify hooks over the same sessions as `middleware()`: `onRequest` loads `request.session`,
 * `onSend` saves what changed and sets its cookies before the headers go. Declare the field
 * once for typed routes: `declare module 'fastify' { interface FastifyRequest { session: Session } }`.
 * @example
 * const hooks = fastifySessions(sessions())
 * app.decorateRequest('session', undefined)
 * app.addHook('onRequest', hooks.onRequest)
 * app.addHook('onSend', hooks.onSend)
 */
export function fastifySessions<Req extends FastifyLikeSessionRequest, Reply extends FastifyLikeSessionReply>(
  sessions: Sessions,
): {
  onRequest: (request: Req, reply: Reply) => Promise<void>
  onSend: <P>(request: Req, reply: Reply, payload: P) => Promise<P>
} {
  return {
    async onRequest(request) {
      request.session = await sessions.load(request)
    },
    async onSend(request, reply, payload) {
      const session = request.session
      if (session === undefined) return payload
      const cookies = await session.commit()
      if (cookies.length > 0) reply.header('set-cookie', cookies)
      return payload
    },
  }
}

/** The parts of a Hono context the middleware uses (typed structurally: no hono import). */
export interface HonoLikeSessionContext {
  req: { raw: Request }
  res: Response
  set(key: 'session', value: Session): void
}

/**
 * Hono middleware over the same sessions: `c.get('session')` during the request (declare
 * `Variables: { session: Session }` on the app), saved and its cookies appended after the
 * handler ran.
 * @example
 * const app = new Hono<{ Variables: { session: Session } }>()
 * app.use(honoSessions(sessions()))
 */
export function honoSessions<C extends HonoLikeSessionContext>(
  sessions: Sessions,
): (c: C, next: () => Promise<void>) => Promise<void> {
  return async function sessionMiddleware(c, next) {
    const cookie = c.req.raw.headers.get('cookie')
    const session = await sessions.load({ headers: cookie === null ? {} : { cookie } })
    c.set('session', session)
    await next()
    const cookies = await session.commit()
    if (cookies.length === 0) return
    // A response built elsewhere (a fetch, Response.redirect) has immutable headers: copy it once.
    let headers = c.res.headers
    try {
      headers.append('set-cookie', cookies[0] as string)
    } catch {
      c.res = new Response(c.res.body, c.res)
      headers = c.res.headers
      headers.append('set-cookie', cookies[0] as string)
    }
    for (const value of cookies.slice(1)) headers.append('set-cookie', value)
  }
}
