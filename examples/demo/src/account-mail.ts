// The account mails of Beaver Links: what `@beaver-kit/auth` asks its `deliver` to send, through
// the demo's mailer, and the two pages those mails link to. A link in a mail only opens a page
// with a button: the POST behind it does the work, so a mail scanner that follows every link
// neither creates an account nor spends a reset token.
import type { IncomingMessage } from 'node:http'
import type { AuthDeliver, AuthMessage } from '@beaver-kit/auth'
import type { Mailer } from '@beaver-kit/mail'
import { HttpProblem, readBody } from './respond.ts'

const DEFAULT_FROM = 'Beaver Links <accounts@beaver-links.local>'

/** The page that finishes a sign-up, and the one that sets a new password (the paths of the mails' links). */
export const SIGN_UP_PAGE = '/auth/register/complete'
export const RESET_PAGE = '/auth/reset'

export interface AccountMailOptions {
  mailer: Mailer
  /** The demo's public URL, known once the server listens (`BEAVER_DEMO_BASE_URL` or its address). */
  baseUrl: () => string
  env?: NodeJS.ProcessEnv | undefined
}

const hours = (ms: number): string => `${Math.max(1, Math.round(ms / 3_600_000))} hour(s)`

function compose(message: AuthMessage, base: string): { subject: string; text: string } {
  const link = (path: string): string => `${base}${path}?token=${encodeURIComponent(message.token)}`
  const valid = `The link works once, for ${hours(message.expiresAt - Date.now())}.`
  switch (message.kind) {
    case 'complete-sign-up':
      return {
        subject: 'Finish signing up to Beaver Links',
        text: `Someone (we hope you) asked for a Beaver Links account for this address. To create it, open\n\n${link(SIGN_UP_PAGE)}\n\n${valid} If it was not you, ignore this mail: no account exists until the link is followed.`,
      }
    case 'account-exists':
      return {
        subject: 'You already have a Beaver Links account',
        text: `Someone (we hope you) tried to sign up with this address, which already has an account. Sign in as usual; if you forgot your password, set a new one at\n\n${link(RESET_PAGE)}\n\n${valid} If it was not you, ignore this mail: nothing has changed.`,
      }
    case 'reset-password':
      return {
        subject: 'Set a new Beaver Links password',
        text: `To set a new password, open\n\n${link(RESET_PAGE)}\n\n${valid} If you did not ask, ignore this mail.`,
      }
    default:
      // The demo starts no other flow (e-mail change, unlock, verification of register()).
      throw new Error(`the demo sends no "${message.kind}" mail`)
  }
}

/** Auth's `deliver`, sending through the demo's mailer (the log transport when nothing is set). */
export function accountMail(options: AccountMailOptions): AuthDeliver {
  const { mailer, baseUrl, env = process.env } = options
  return async (message) => {
    await mailer.send({
      // BEAVER_MAIL_FROM wins when set; otherwise the demo's own sender.
      from: env.BEAVER_MAIL_FROM ? undefined : DEFAULT_FROM,
      to: message.to,
      ...compose(message, baseUrl()),
      tags: [message.kind],
    })
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * The page a mail's link opens: a form that POSTs the token back (with a new password on the
 * reset page). Nothing happens until its button is pressed.
 */
export function tokenPage(kind: 'sign-up' | 'reset', token: string): string {
  const [title, action, fields] =
    kind === 'sign-up'
      ? ['Finish signing up', SIGN_UP_PAGE, '']
      : [
          'Set a new password',
          RESET_PAGE,
          '<p><label>New password (12 characters or more) <input type="password" name="password" minlength="12" required autocomplete="new-password"></label></p>',
        ]
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>${title} · Beaver Links</title></head><body><h1>${title}</h1><form method="post" action="${action}"><input type="hidden" name="token" value="${escapeHtml(token)}">${fields}<p><button type="submit">${title}</button></p></form></body></html>`
}

/** A form's fields: the JSON body an API client sends, or the url-encoded body of the page's form. */
export async function readForm(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readBody(req)
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
    return Object.fromEntries(new URLSearchParams(text))
  try {
    const value = JSON.parse(text) as unknown
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    throw new HttpProblem(400, 'body must be JSON or a url-encoded form')
  }
}
