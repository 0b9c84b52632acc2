import { createHmac, timingSafeEqual } from 'node:crypto'
import type { InvalidationMessage } from './bus.ts'

/** Why a received payload was dropped. */
export type Dropped = 'malformed' | 'rejected'

const KINDS = new Set(['delete', 'clear', 'tags'])

/**
 * The wire format of the bus: `{"o":sender,"m":message}`, plus `"s"`: the base64url
 * HMAC-SHA256 of `o` and `m` under the shared key when one is configured. A bus with a key
 * drops every message without a valid signature; the comparison is constant-time.
 */
export class BusWire {
  readonly #key: Buffer | undefined

  constructor(key: string | undefined) {
    this.#key = key === undefined ? undefined : Buffer.from(key, 'utf8')
  }

  #sign(body: string): string {
    return createHmac('sha256', this.#key as Buffer)
      .update(body)
      .digest('base64url')
  }

  encode(sender: string, message: InvalidationMessage): string {
    const body = JSON.stringify({ o: sender, m: message })
    if (this.#key === undefined) return body
    return `${body.slice(0, -1)},"s":${JSON.stringify(this.#sign(JSON.stringify([sender, message])))}}`
  }

  /** The sender and message of a payload, or why it was dropped. */
  decode(text: string): { sender: string; message: InvalidationMessage } | Dropped {
    let parsed: { o?: unknown; m?: unknown; s?: unknown }
    try {
      parsed = JSON.parse(text) as { o?: unknown; m?: unknown; s?: unknown }
    } catch {
      return 'malformed'
    }
    const m = parsed?.m as { kind?: unknown; namespace?: unknown } | undefined
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.o !== 'string' ||
      typeof m !== 'object' ||
      m === null ||
      !KINDS.has(m.kind as string) ||
      typeof m.namespace !== 'string'
    )
      return 'malformed'
    if (this.#key !== undefined) {
      if (typeof parsed.s !== 'string') return 'rejected'
      const expected = Buffer.from(this.#sign(JSON.stringify([parsed.o, parsed.m])))
      const given = Buffer.from(parsed.s)
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'rejected'
    }
    return { sender: parsed.o, message: parsed.m as InvalidationMessage }
  }
}
