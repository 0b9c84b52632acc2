import type { SmsConfig } from './config.ts'

/** A checked message, as drivers send it. */
export interface OutgoingSms {
  /** E.164. */
  readonly to: string
  /** E.164 or an alphanumeric sender id; undefined when the driver sends from an account default (a Twilio Messaging Service). */
  readonly from: string | undefined
  readonly body: string
  readonly idempotencyKey: string | undefined
}

/** What a driver does natively. */
export interface SmsDriverCapabilities {
  /** The driver retries temporary failures itself (HTTP providers through @beaver-kit/http, SNS through the SDK). */
  readonly retries: boolean
  /** The provider deduplicates a resend with the same idempotency key. */
  readonly idempotencyKeys: boolean
}

/** What a driver says about an accepted message. */
export interface SmsReceipt {
  readonly messageId: string
  /** The provider's first status (`queued`, `accepted`). */
  readonly status?: string | undefined
  /** The member that sent it, for failover and round-robin sets. */
  readonly driver?: string | undefined
}

export interface SmsSendOptions {
  readonly signal?: AbortSignal | undefined
}

/** A built SMS driver. */
export interface SmsDriver {
  readonly name: string
  readonly capabilities: SmsDriverCapabilities
  send(message: OutgoingSms, options: SmsSendOptions): Promise<SmsReceipt>
  verify?(options: SmsSendOptions): Promise<void>
  close(): Promise<void>
}

export interface SmsDriverContext {
  readonly config: SmsConfig
  /** Builds another driver by name, for composites; `setting` names where the name came from. */
  loadDriver(name: string, setting: string): Promise<SmsDriver>
}

export type SmsDriverSection = 'twilio' | 'sns' | 'vonage' | 'failover' | 'roundRobin'

/** A driver definition: `name` and `peers` are read without building; `create` runs on first use. */
export interface SmsDriverDefinition<O = Record<string, unknown>> {
  readonly name: string
  readonly peers: readonly string[]
  readonly section?: SmsDriverSection | undefined
  create(options: O, context: SmsDriverContext): SmsDriver | Promise<SmsDriver>
}

/**
 * Declares an SMS driver (typed options, inferred).
 * @example export const myDriver = defineSmsDriver({ name: 'my', peers: [], create: () => ({ ... }) })
 */
export function defineSmsDriver<O>(definition: SmsDriverDefinition<O>): SmsDriverDefinition<O> {
  return Object.freeze(definition)
}
