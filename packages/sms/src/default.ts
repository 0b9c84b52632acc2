import { defineDefaultInstance } from '@beaver-kit/core'
import { createSms, type Sms, type SmsOptions } from './sms.ts'

const slot = defineDefaultInstance<Sms, SmsOptions>('sms', createSms)

/** The default sms, built on first use from `BEAVER_SMS_*`; rethrows its configuration error until fixed. */
export const sms: () => Sms = slot.get
/** Configures the default sms before its first use; throws once it exists. */
export const initSms: (options?: SmsOptions) => Sms = slot.init
/** Closes and forgets the default sms (tests); the next `sms()` builds a new one. */
export const resetSms: () => Promise<void> = slot.reset
/** A new sms configured from another env prefix: `withPrefix('USER_')` reads `USER_SMS_*`. */
export const withPrefix: (prefix: string, options?: Omit<SmsOptions, 'envPrefix'>) => Sms = slot.withPrefix
