import { randomUUID } from 'node:crypto'
import { recipientsOf, type OutgoingMail } from '../message.ts'
import { defineMailDriver, plainCapabilities, type MailTransport } from '../transport.ts'

/** A message the memory transport kept, with the id it answered. */
export interface CapturedMail extends OutgoingMail {
  readonly messageId: string
  readonly sentAt: Date
}

/** What `expectSent()` matches: every given field must match (strings exactly, RegExps anywhere). */
export interface SentMatcher {
  /** One of the recipients (to, cc or bcc). */
  to?: string | undefined
  from?: string | undefined
  subject?: string | RegExp | undefined
  /** Text appearing in the text body (string: contained; RegExp: matched). */
  text?: string | RegExp | undefined
  html?: string | RegExp | undefined
  tag?: string | undefined
}

/** A transport that keeps what it sends, for tests. */
export interface CapturingTransport extends MailTransport {
  sent(): readonly CapturedMail[]
  clear(): void
}

export function isCapturing(transport: MailTransport): transport is CapturingTransport {
  return typeof (transport as Partial<CapturingTransport>).sent === 'function'
}

const matches = (value: string | undefined, want: string | RegExp | undefined, exact: boolean): boolean =>
  want === undefined ||
  (value !== undefined &&
    (typeof want === 'string' ? (exact ? value === want : value.includes(want)) : want.test(value)))

/** Whether a captured message matches every field of `m`. */
export function matchesSent(mail: CapturedMail, m: SentMatcher): boolean {
  const to = m.to?.toLowerCase()
  return (
    (to === undefined || recipientsOf(mail).some((r) => r.toLowerCase() === to)) &&
    (m.from === undefined || mail.from.address.toLowerCase() === m.from.toLowerCase()) &&
    matches(mail.subject, m.subject, true) &&
    matches(mail.text, m.text, false) &&
    matches(mail.html, m.html, false) &&
    (m.tag === undefined || mail.tags.includes(m.tag))
  )
}

/**
 * Keeps every message in memory instead of sending it (`maxMessages` newest), for tests:
 * `mailer.sent()` lists them and `mailer.expectSent({ to, subject })` asserts one.
 */
export const memoryDriver = defineMailDriver<{ maxMessages?: number }>({
  name: 'memory',
  peers: [],
  create(options) {
    const max = options.maxMessages ?? 10_000
    // Trimmed to the newest `max` only when it reaches twice that, so keeping a message costs
    // the same at 10 or 10,000 kept (slicing on every send made each send copy the whole list).
    let kept: CapturedMail[] = []
    let byKey = new Map<string, CapturedMail>()
    const newest = (): CapturedMail[] => (kept.length > max ? kept.slice(-max) : kept.slice())
    const transport: CapturingTransport = {
      name: 'memory',
      // retries: nothing here fails for a while, so the mailer has nothing to retry.
      capabilities: plainCapabilities({ retries: true, idempotencyKeys: true, maxTags: Infinity }),
      async send(mail) {
        const existing = mail.idempotencyKey === undefined ? undefined : byKey.get(mail.idempotencyKey)
        if (existing) return { messageId: existing.messageId, accepted: recipientsOf(existing) }
        const captured: CapturedMail = Object.freeze({
          ...mail,
          messageId: `<${randomUUID()}@${mail.from.address.split('@')[1] ?? 'localhost'}>`,
          sentAt: new Date(),
        })
        kept.push(captured)
        if (mail.idempotencyKey !== undefined) byKey.set(mail.idempotencyKey, captured)
        if (kept.length >= max * 2) {
          kept = kept.slice(-max)
          byKey = new Map(kept.flatMap((k) => (k.idempotencyKey === undefined ? [] : [[k.idempotencyKey, k] as const])))
        }
        return { messageId: captured.messageId, accepted: recipientsOf(mail) }
      },
      sent: newest,
      clear() {
        kept = []
        byKey = new Map()
      },
      async close() {},
    }
    return transport
  },
})
