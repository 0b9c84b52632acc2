import { defineDriverRegistry } from '@beaver-kit/core'
import { MailError } from './errors.ts'
import type { MailDriverDefinition } from './transport.ts'
import { logDriver } from './drivers/log.ts'
import { memoryDriver } from './drivers/memory.ts'

// The registry holds definitions of every options type: `create` is a method, so a definition
// of any options type is assignable to one of unknown options.
export type AnyMailDriverDefinition = MailDriverDefinition<never>

// Built-ins that need a peer (nodemailer, the AWS SDK, the http client) load lazily, so a
// process that sends through Postmark never imports nodemailer.
const drivers = defineDriverRegistry<AnyMailDriverDefinition>({
  kind: 'mail',
  setting: 'BEAVER_MAIL_DRIVER',
  registerName: 'registerMailDriver',
  builtins: {
    log: logDriver as AnyMailDriverDefinition,
    memory: memoryDriver as AnyMailDriverDefinition,
    file: () => import('./drivers/file.ts').then((m) => m.fileDriver as AnyMailDriverDefinition),
    smtp: () => import('./drivers/smtp.ts').then((m) => m.smtpDriver as AnyMailDriverDefinition),
    ses: () => import('./drivers/ses.ts').then((m) => m.sesDriver as AnyMailDriverDefinition),
    sendgrid: () => import('./drivers/sendgrid.ts').then((m) => m.sendgridDriver as AnyMailDriverDefinition),
    mailgun: () => import('./drivers/mailgun.ts').then((m) => m.mailgunDriver as AnyMailDriverDefinition),
    postmark: () => import('./drivers/postmark.ts').then((m) => m.postmarkDriver as AnyMailDriverDefinition),
    resend: () => import('./drivers/resend.ts').then((m) => m.resendDriver as AnyMailDriverDefinition),
    failover: () => import('./drivers/failover.ts').then((m) => m.failoverDriver as AnyMailDriverDefinition),
    'round-robin': () => import('./drivers/failover.ts').then((m) => m.roundRobinDriver as AnyMailDriverDefinition),
  },
  error: (code, message, details) => new MailError(`MAIL_${code}`, message, { details }),
})

/**
 * Adds a transport under a name, so `BEAVER_MAIL_DRIVER=<name>` (or `driver: '<name>'`) picks
 * it; a definition, or a function that imports one lazily. A registered name wins over a built-in.
 * @example registerMailDriver('brevo', () => import('./brevo.ts').then((m) => m.brevoDriver))
 */
export function registerMailDriver<O>(
  name: string,
  definition: MailDriverDefinition<O> | (() => Promise<MailDriverDefinition<O>>),
): void {
  drivers.register(name, definition as AnyMailDriverDefinition | (() => Promise<AnyMailDriverDefinition>))
}

/** Every transport name that can be chosen now. */
export const mailDriverNames = (): string[] => drivers.names()

/** Loads a definition by name; unknown names fail naming `setting` and the known names. */
export const loadMailDriver = (name: string, setting?: string): Promise<AnyMailDriverDefinition> =>
  drivers.load(name, setting)
