import {
  buildProviderSetMembers,
  createCompositeSender,
  type ProviderSetOptions,
  type ProviderSetPolicy,
  type TargetState,
} from '@beaver-kit/delivery'
import { channels } from '../channels.ts'
import { defineSmsDriver, type SmsDriver, type SmsDriverContext } from '../driver.ts'
import { SmsError } from '../errors.ts'
import { shouldFailover } from '../failures.ts'

/** `strategy`, `failures` and `cooldownMs`, as for mail's failover transport. */
export type SmsFailoverOptions = ProviderSetOptions

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
  return createCompositeSender(members, options, {
    ...policy,
    label: (receipt, member) => ({ ...receipt, driver: receipt.driver ?? member.name }),
  })
}

const policy: ProviderSetPolicy = {
  shouldFailover,
  empty: () =>
    new SmsError(
      'SMS_OPTIONS_INVALID',
      'A failover or round-robin set needs at least one driver (BEAVER_SMS_FAILOVER_DRIVERS=twilio,sns).',
      { details: { field: 'drivers' } },
    ),
  exhausted: (summary, failures) =>
    new SmsError('SMS_ALL_DRIVERS_FAILED', `Every SMS driver failed: ${summary}`, {
      cause: new AggregateError(failures.map((f) => f.error)),
      details: { drivers: failures.map((f) => f.target) },
    }),
  onFailover: (event) => {
    if (channels.failover.hasSubscribers) channels.failover.publish(event)
  },
  onBreakerChange: ({ target, state }) => {
    if (channels.breaker.hasSubscribers) channels.breaker.publish({ driver: target, state })
  },
}

async function buildSet(
  strategy: 'failover' | 'round-robin',
  names: readonly string[] | undefined,
  setting: string,
  context: SmsDriverContext,
): Promise<SmsFailoverDriver> {
  const empty = () =>
    new SmsError('SMS_OPTIONS_INVALID', `${setting} is empty; list the drivers in order, e.g. ${setting}=twilio,sns.`, {
      details: { field: setting },
    })
  const members = await buildProviderSetMembers(names, (name) => context.loadDriver(name, setting), empty)
  const { failures, cooldown } = context.config.breaker
  return createSmsFailover(members, { strategy, failures, cooldownMs: cooldown })
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
