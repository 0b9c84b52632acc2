import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, type Instance } from '@beaver-kit/core'
import { channels } from './channels.ts'
import { smsSchema, type SmsSettings } from './config.ts'
import { SmsError } from './errors.ts'

export interface SmsOptions extends SmsSettings, InstanceOptions {}

/** A sms: create with `createSms()`, or use the default `sms()`. */
export interface Sms extends Instance<InstanceDescription> {
  readonly driver: string
}

/**
 * Builds a sms from options, then `BEAVER_SMS_*`, then defaults. Does no I/O;
 * invalid configuration throws one ConfigError naming every bad variable.
 * @example
 * await using sms = createSms()
 */
export function createSms(options: SmsOptions = {}): Sms {
  const { envPrefix, env, ...settings } = options
  const resolved = resolveConfig(smsSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const { driver } = resolved.values
  let closed = false
  const sms: Sms = {
    driver,
    ready: () =>
      traceAsync(
        channels.ready,
        () => ({ driver }),
        async () => {
          if (closed) throw new SmsError('SMS_CLOSED', 'This sms is closed; create a new one.')
        },
      ),
    describe: () => describeInstance('sms', envPrefix, resolved.entries, { driver }),
    close: async () => {
      closed = true
    },
    [Symbol.asyncDispose]: () => sms.close(),
  }
  return sms
}
