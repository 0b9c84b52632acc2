import { defineDriverRegistry } from '@beaver-kit/core'
import type { SmsDriverDefinition } from './driver.ts'
import { SmsError } from './errors.ts'
import { logDriver } from './drivers/log.ts'
import { memoryDriver } from './drivers/memory.ts'

export type AnySmsDriverDefinition = SmsDriverDefinition<never>

// Drivers needing a peer (the http client, the AWS SDK) load lazily, so a process on Twilio never imports the SNS client.
const drivers = defineDriverRegistry<AnySmsDriverDefinition>({
  kind: 'sms',
  setting: 'BEAVER_SMS_DRIVER',
  registerName: 'registerSmsDriver',
  builtins: {
    log: logDriver as AnySmsDriverDefinition,
    memory: memoryDriver as AnySmsDriverDefinition,
    twilio: () => import('./drivers/twilio.ts').then((m) => m.twilioDriver as AnySmsDriverDefinition),
    sns: () => import('./drivers/sns.ts').then((m) => m.snsDriver as AnySmsDriverDefinition),
    vonage: () => import('./drivers/vonage.ts').then((m) => m.vonageDriver as AnySmsDriverDefinition),
    failover: () => import('./drivers/failover.ts').then((m) => m.failoverDriver as AnySmsDriverDefinition),
    'round-robin': () => import('./drivers/failover.ts').then((m) => m.roundRobinDriver as AnySmsDriverDefinition),
  },
  error: (code, message, details) => new SmsError(`SMS_${code}`, message, { details }),
})

/**
 * Adds a driver under a name, so `BEAVER_SMS_DRIVER=<name>` picks it; a definition, or a
 * function that imports one lazily. A registered name wins over a built-in.
 * @example registerSmsDriver('messagebird', () => import('./messagebird.ts').then((m) => m.driver))
 */
export function registerSmsDriver<O>(
  name: string,
  definition: SmsDriverDefinition<O> | (() => Promise<SmsDriverDefinition<O>>),
): void {
  drivers.register(name, definition as AnySmsDriverDefinition | (() => Promise<AnySmsDriverDefinition>))
}

/** Every driver name that can be chosen now. */
export const smsDriverNames = (): string[] => drivers.names()

export const loadSmsDriver = (name: string, setting?: string): Promise<AnySmsDriverDefinition> =>
  drivers.load(name, setting)
