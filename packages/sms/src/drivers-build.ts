import { withSendRetries } from '@beaver-kit/delivery'
import { channels } from './channels.ts'
import type { SmsConfig } from './config.ts'
import type { SmsDriver } from './driver.ts'
import { SmsError } from './errors.ts'
import { isTransient, retryAfterOf } from './failures.ts'
import { loadSmsDriver } from './registry.ts'

/** What production gets without BEAVER_SMS_DRIVER: every send fails with the fix instead of dropping the message. */
function unconfigured(): SmsDriver {
  const error = (): SmsError =>
    new SmsError(
      'SMS_DRIVER_MISSING',
      'NODE_ENV is production and BEAVER_SMS_DRIVER is not set, so the message is refused rather than dropped. Set BEAVER_SMS_DRIVER (twilio, sns, vonage) and its settings, or BEAVER_SMS_DRIVER=log to print messages on purpose.',
      { details: { field: 'BEAVER_SMS_DRIVER' } },
    )
  return {
    name: 'none',
    capabilities: Object.freeze({ retries: true, idempotencyKeys: false }),
    send: () => Promise.reject(error()),
    verify: () => Promise.reject(error()),
    close: async () => {},
  }
}

/** The facade's retry for a driver that does not retry by itself (a registered one). */
function withRetries(driver: SmsDriver, config: SmsConfig): SmsDriver {
  const { attempts, baseDelay, maxDelay } = config.retry
  return withSendRetries(driver, {
    attempts,
    baseMs: baseDelay,
    maxMs: maxDelay,
    isTransient,
    retryAfter: retryAfterOf,
    onRetry: ({ sender, attempt, delayMs, code }) => {
      if (channels.retry.hasSubscribers) channels.retry.publish({ driver: sender, attempt, delayMs, code })
    },
  })
}

/** Builds the named driver with its section's settings; composites build their members through the context. */
export async function buildSmsDriver(
  name: string,
  config: SmsConfig,
  options: Readonly<Record<string, unknown>>,
  setting = 'BEAVER_SMS_DRIVER',
  depth = 0,
): Promise<SmsDriver> {
  if (name === 'none') return unconfigured()
  if (depth > 4) {
    throw new SmsError(
      'SMS_OPTIONS_INVALID',
      `${setting} nests failover/round-robin sets more than 4 deep (does a set name itself?).`,
      { details: { field: setting } },
    )
  }
  const definition = await loadSmsDriver(name, setting)
  const section = definition.section
  const raw = (options[section ?? name] as Record<string, unknown> | undefined) ?? {}
  const settings = section ? (config[section] as Record<string, unknown>) : {}
  const driver = await definition.create({ ...raw, ...settings } as never, {
    config,
    loadDriver: (member, from) => buildSmsDriver(member, config, options, from, depth + 1),
  })
  return withRetries(driver, config)
}
