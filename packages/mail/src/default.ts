import { defineDefaultInstance } from '@beaver-kit/core'
import { createMailer, type Mailer, type MailerOptions } from './mail.ts'

const slot = defineDefaultInstance<Mailer, MailerOptions>('mail', createMailer)

/** The default mailer, built on first use from `BEAVER_MAIL_*`; rethrows its configuration error until fixed. */
export const mailer: () => Mailer = slot.get
/** Configures the default mailer before its first use; throws once it exists. */
export const initMailer: (options?: MailerOptions) => Mailer = slot.init
/** Closes and forgets the default mailer (tests); the next `mailer()` builds a new one. */
export const resetMailer: () => Promise<void> = slot.reset
/** A new mailer configured from another env prefix: `withPrefix('USER_')` reads `USER_MAIL_*`. */
export const withPrefix: (prefix: string, options?: Omit<MailerOptions, 'envPrefix'>) => Mailer = slot.withPrefix
