import type http from 'node:http'
import { randomBytes } from 'node:crypto'
import type { UrlSigner } from '@beaver-kit/krypto'
import type { Logger } from '@beaver-kit/logger'
import { isValidAddress } from '@beaver-kit/mail'
import { rateLimitHeaders, type Limiter } from '@beaver-kit/ratelimit'
import type { Accounts } from './accounts.ts'
import type { LinkMail } from './link-mail.ts'
import { LINK_COLUMNS, type LinkStore } from './links.ts'
import type { LinkQrCodes } from './qr-codes.ts'
import type { LinkResolver } from './resolver.ts'
import { HttpProblem, readJson, sendJson } from './respond.ts'
import { normalizeTarget } from './targets.ts'
import type { TitleFetcher } from './titles.ts'
import type { Visits } from './visits.ts'

/** What the link routes work with; `baseUrl` and `qr` exist once the server listens. */
export interface LinkRoutesContext {
  store: LinkStore
  resolver: LinkResolver
  accounts: Accounts
  signer: UrlSigner
  creations: Limiter
  titles: TitleFetcher
  mail: LinkMail
  visits: Visits
  log: Logger
  fetchTitles: boolean
  deleteLinkTtl: number
  /** Link mails in flight: the app waits for them on close and in `idle()`. */
  mailJobs: Set<Promise<void>>
  baseUrl(): string
  qr(): LinkQrCodes
}

/** The handlers of the link endpoints (create, read, delete, QR code, redirect). */
export interface LinkRoutes {
  /** POST /links: rate-limited per client; owned by the signed-in user (Bearer or session cookie), if any. */
  create(req: http.IncomingMessage, res: http.ServerResponse): Promise<number>
  /** GET /links/:code */
  show(res: http.ServerResponse, code: string): Promise<number>
  /** DELETE /links/:code: with the signed delete URL, or by a principal allowed to delete it (its owner, an admin). */
  remove(req: http.IncomingMessage, res: http.ServerResponse, url: URL, code: string): Promise<number>
  /** GET /links/:code/qr: 302 to the stored QR code. */
  qrCode(res: http.ServerResponse, code: string): Promise<number>
  /** GET /:code: 302 to the target, the visit counted through the queue. */
  redirect(req: http.IncomingMessage, res: http.ServerResponse, code: string): Promise<number>
}

export function linkRoutes(ctx: LinkRoutesContext): LinkRoutes {
  const { store, resolver, accounts, signer, creations, log } = ctx

  async function create(req: http.IncomingMessage, res: http.ServerResponse): Promise<number> {
    const allowed = await creations.limit(creations.clientKey(req.socket.remoteAddress, req.headers))
    const limitHeaders = rateLimitHeaders(creations, allowed)
    if (!allowed.allowed)
      throw new HttpProblem(429, 'too many links created from this address; retry later', limitHeaders)
    for (const [name, value] of Object.entries(limitHeaders)) res.setHeader(name, value)
    const body = await readJson(req)
    const fields = typeof body === 'object' && body !== null ? (body as { url?: unknown; email?: unknown }) : {}
    const target = normalizeTarget(fields.url)
    if (!target.ok) throw new HttpProblem(400, target.reason)
    const { email } = fields
    if (email !== undefined && (typeof email !== 'string' || !isValidAddress(email)))
      throw new HttpProblem(400, 'email must be an address the link mail can go to')
    // A short code is an address, not a secret: 6 random bytes, 8 URL-safe characters.
    const owner = await accounts.principal(req)
    const link = await store.create(randomBytes(6).toString('base64url'), target.url, owner?.userId ?? null)
    await accounts.record(req, {
      action: 'link.create',
      actor: owner ? `user:${owner.userId}` : 'anonymous',
      target: `link:${link.code}`,
      after: { url: link.url, ownerId: link.ownerId },
    })
    log.info({ code: link.code, host: new URL(link.url).host }, 'link created')
    if (ctx.fetchTitles) ctx.titles.start(link.code, link.url)
    const base = ctx.baseUrl()
    const deleteUrl = signer.sign(new URL(`/links/${link.code}`, base), {
      method: 'DELETE',
      expiresIn: ctx.deleteLinkTtl,
    })
    const shortUrl = new URL(`/${link.code}`, base).href
    await ctx.qr().store(link.code, shortUrl)
    const qrUrl = new URL(`/links/${link.code}/qr`, base).href
    if (typeof email === 'string') {
      const job = ctx.mail.linkCreated({ code: link.code, url: link.url, shortUrl, deleteUrl }, email)
      ctx.mailJobs.add(job)
      void job.finally(() => ctx.mailJobs.delete(job))
    }
    return sendJson(res, 201, { ...link, shortUrl, qrUrl, deleteUrl })
  }

  async function remove(req: http.IncomingMessage, res: http.ServerResponse, url: URL, code: string) {
    const signed = url.searchParams.has('sig')
    const who = signed ? undefined : await accounts.principal(req)
    if (signed) {
      const check = await signer.check(url, { method: 'DELETE' })
      if (!check.ok) throw new HttpProblem(403, `delete URL rejected: ${check.reason}`)
    } else if (!who)
      throw new HttpProblem(401, 'sign in (Bearer token or session) or use the signed deleteUrl', {
        'www-authenticate': 'Bearer',
      })
    // The permission's condition (owner_id = the caller, or none for admins) is part of the DELETE itself.
    const allowed = who && accounts.auth.permit(who, 'link:delete').where({ columns: LINK_COLUMNS })
    const removed = await store.remove(code, allowed)
    if (!removed && who && (await store.find(code)))
      throw new HttpProblem(403, 'only its owner or an admin deletes a link')
    await Promise.all([resolver.forget(code), removed ? ctx.qr().remove(code) : undefined])
    if (removed)
      await accounts.record(req, {
        action: 'link.delete',
        actor: who ? `user:${who.userId}` : 'signed-url',
        target: `link:${code}`,
      })
    log.info({ code, removed }, 'link deleted')
    return sendJson(res, removed ? 200 : 404, { deleted: removed })
  }

  return {
    create,
    remove,
    async show(res, code) {
      const link = await store.find(code)
      if (!link) throw new HttpProblem(404, `no link ${code}`)
      return sendJson(res, 200, link)
    },
    async qrCode(res, code) {
      if (!(await store.find(code))) throw new HttpProblem(404, `no link ${code}`)
      const location = await ctx.qr().url(code, new URL(`/${code}`, ctx.baseUrl()).href)
      res.writeHead(302, { location, 'cache-control': 'no-store' })
      res.end()
      return 302
    },
    async redirect(req, res, code) {
      const link = await resolver.resolve(code)
      if (!link) throw new HttpProblem(404, `no link ${code}`)
      // Counted through the queue: the redirect does not wait for the counter update.
      if (req.method === 'GET') await ctx.visits.record(code)
      res.writeHead(302, { location: link.url, 'cache-control': 'no-store' })
      res.end()
      return 302
    },
  }
}
