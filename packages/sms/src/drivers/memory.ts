import { randomUUID } from 'node:crypto'
import type { OutgoingSms, SmsDriver } from '../driver.ts'
import { defineSmsDriver } from '../driver.ts'

/** A message the memory driver kept. */
export interface CapturedSms extends OutgoingSms {
  readonly messageId: string
  readonly sentAt: Date
}

/** What `expectSent()` matches: `to` exactly, `body` contained (string) or matched (RegExp). */
export interface SmsMatcher {
  to?: string | undefined
  body?: string | RegExp | undefined
  from?: string | undefined
}

export interface CapturingSmsDriver extends SmsDriver {
  sent(): readonly CapturedSms[]
  clear(): void
}

export const isCapturing = (driver: SmsDriver): driver is CapturingSmsDriver =>
  typeof (driver as Partial<CapturingSmsDriver>).sent === 'function'

export function matchesSms(m: CapturedSms, want: SmsMatcher): boolean {
  return (
    (want.to === undefined || m.to === want.to) &&
    (want.from === undefined || m.from === want.from) &&
    (want.body === undefined || (typeof want.body === 'string' ? m.body.includes(want.body) : want.body.test(m.body)))
  )
}

/** Keeps every message in memory (newest `maxMessages`), for tests: `sms.sent()`, `sms.expectSent({ to, body })`. */
export const memoryDriver = defineSmsDriver<{ maxMessages?: number }>({
  name: 'memory',
  peers: [],
  create(options) {
    const max = options.maxMessages ?? 10_000
    // Trimmed to the newest `max` only when it reaches twice that, so keeping a message costs
    // the same at 10 or 10,000 kept (slicing on every send copied the whole list each time).
    let kept: CapturedSms[] = []
    let byKey = new Map<string, CapturedSms>()
    const driver: CapturingSmsDriver = {
      name: 'memory',
      // Nothing here fails for a while, so there is nothing to retry.
      capabilities: Object.freeze({ retries: true, idempotencyKeys: true }),
      async send(message) {
        const seen = message.idempotencyKey === undefined ? undefined : byKey.get(message.idempotencyKey)
        if (seen) return { messageId: seen.messageId, status: 'queued' }
        const captured: CapturedSms = Object.freeze({
          ...message,
          messageId: `SM${randomUUID().replace(/-/g, '')}`,
          sentAt: new Date(),
        })
        kept.push(captured)
        if (message.idempotencyKey !== undefined) byKey.set(message.idempotencyKey, captured)
        if (kept.length >= max * 2) {
          kept = kept.slice(-max)
          byKey = new Map(kept.flatMap((k) => (k.idempotencyKey === undefined ? [] : [[k.idempotencyKey, k] as const])))
        }
        return { messageId: captured.messageId, status: 'queued' }
      },
      sent: () => (kept.length > max ? kept.slice(-max) : kept.slice()),
      clear() {
        kept = []
        byKey = new Map()
      },
      async close() {},
    }
    return driver
  },
})
