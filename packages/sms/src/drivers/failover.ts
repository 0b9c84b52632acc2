import { buildMembers, closeMembers, createRouter, type TargetState } from '@beaver-kit/delivery'
import { channels } from '../channels.ts'
import { defineSmsDriver, type SmsDriver, type SmsDriverContext } from '../driver.ts'
import { SmsError } from '../errors.ts'
import { shouldFailover } from '../failures.ts'

export interface SmsFailoverOptions {
  strategy?: 'failover' | 'round-robin' | undefined
  failures?: number | undefined
  cooldownMs?: number | undefined
}

/** A failover or round-robin set, with its members' health. */
export interface SmsFailoverDriver extends SmsDriver {
  readonly members: readonly SmsDriver[]
  state(): TargetState[]
}

/**
 * Sends through the first driver that takes the message: a driver that is down, throttling
 * or refusing credentials hands the message to the next; a rejected number or an opted-out
 * recipient goes nowhere else. Receives BUILT drivers, and closes them.
 * @example createSms({ driver: createSmsFailover([twilio, sns]) })
 */
export function createSmsFailover(members: readonly SmsDriver[], options: SmsFailoverOptions = {}): SmsFailoverDriver {
  if (members.length === 0) {
    throw new SmsError(
      'SMS_OPTIONS_INVALID',
      'A failover or round-robin set needs at least one driver (BEAVER_SMS_FAILOVER_DRIVERS=twilio,sns).',
      {
        details: { field: 'drivers' },
      },
    )
  }
  const strategy = options.strategy ?? 'failover'
  const router = createRouter(members, {
    strategy,
    failureThreshold: options.failures,
    cooldownMs: options.cooldownMs,
    shouldFailover,
    exhausted: (failures) =>
      new SmsError(
        'SMS_ALL_DRIVERS_FAILED',
        `Every SMS driver failed: ${failures.map((f) => `${f.target}: ${(f.error as Error).message}`).join('; ')}`,
        {
          cause: new AggregateError(failures.map((f) => f.error)),
          details: { drivers: failures.map((f) => f.target) },
        },
      ),
    onFailover: ({ from, to, error }) => {
      if (channels.failover.hasSubscribers)
        channels.failover.publish({ from, to, code: (error as { code?: string }).code ?? 'UNKNOWN' })
    },
    onBreakerChange: ({ target, state }) => {
      if (channels.breaker.hasSubscribers) channels.breaker.publish({ driver: target, state })
    },
  })
  return {
    name: strategy,
    members,
    capabilities: Object.freeze({
      retries: true,
      idempotencyKeys: members.every((m) => m.capabilities.idempotencyKeys),
    }),
    async send(message, sendOptions) {
      const { value, target } = await router.run((d) => d.send(message, sendOptions), sendOptions)
      return { ...value, driver: value.driver ?? target.name }
    },
    async verify(verifyOptions) {
      await router.run(async (d) => d.verify?.(verifyOptions), verifyOptions)
    },
    state: () => router.state(),
    close: () => closeMembers(members, 'the failover set'),
  }
}

async function buildSet(
  strategy: 'failover' | 'round-robin',
  names: readonly string[] | undefined,
  setting: string,
  context: SmsDriverContext,
): Promise<SmsFailoverDriver> {
  if (!names || names.length === 0) {
    throw new SmsError(
      'SMS_OPTIONS_INVALID',
      `${setting} is empty; list the drivers in order, e.g. ${setting}=twilio,sns.`,
      { details: { field: setting } },
    )
  }
  const members = await buildMembers(names, (name) => context.loadDriver(name, setting))
  return createSmsFailover(members, {
    strategy,
    failures: context.config.breaker.failures,
    cooldownMs: context.config.breaker.cooldown,
  })
}

/** `BEAVER_SMS_DRIVER=failover` with `BEAVER_SMS_FAILOVER_DRIVERS=twilio,sns`. */
export const failoverDriver = defineSmsDriver<{ drivers?: readonly string[] }>({
  name: 'failover',
  peers: [],
  section: 'failover',
  create: (options, context) => buildSet('failover', options.drivers, 'BEAVER_SMS_FAILOVER_DRIVERS', context),
})

/** `BEAVER_SMS_DRIVER=round-robin` with `BEAVER_SMS_ROUND_ROBIN_DRIVERS=twilio,vonage`. */
export const roundRobinDriver = defineSmsDriver<{ drivers?: readonly string[] }>({
  name: 'round-robin',
  peers: [],
  section: 'roundRobin',
  create: (options, context) => buildSet('round-robin', options.drivers, 'BEAVER_SMS_ROUND_ROBIN_DRIVERS', context),
})
