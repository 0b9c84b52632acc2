import {
  buildProviderSetMembers,
  createCompositeSender,
  type ProviderSetOptions,
  type ProviderSetPolicy,
  type TargetState,
} from '@beaver-kit/delivery'
import { channels } from '../channels.ts'
import { MailError } from '../errors.ts'
import { shouldFailover } from '../failures.ts'
import { defineMailDriver, type MailDriverContext, type MailTransport } from '../transport.ts'

/** `strategy` (`failover`: the first healthy transport; `round-robin`: rotate per message), `failures` and `cooldownMs` of the breaker. */
export type FailoverOptions = ProviderSetOptions

/** A failover or round-robin set, with its members' health. */
export interface FailoverTransport extends MailTransport {
  readonly members: readonly MailTransport[]
  state(): TargetState[]
}

/**
 * Sends through the first transport that takes the message: when one is down, throttling or
 * refusing its credentials, the next one gets the message; a message a provider rejects for
 * what it is (a bad recipient) is not sent elsewhere. Receives BUILT transports, and closes them.
 * @example const transport = createFailoverTransport([ses, smtp]); createMailer({ transport })
 */
export function createFailoverTransport(
  members: readonly MailTransport[],
  options: FailoverOptions = {},
): FailoverTransport {
  const set = createCompositeSender(members, options, {
    ...policy,
    label: (receipt, member) => ({ ...receipt, transport: receipt.transport ?? member.name }),
  })
  const maxTags = Math.min(...members.map((m) => m.capabilities.maxTags))
  return { ...set, capabilities: Object.freeze({ ...set.capabilities, maxTags }) }
}

const policy: ProviderSetPolicy = {
  shouldFailover,
  empty: () =>
    new MailError(
      'MAIL_OPTIONS_INVALID',
      'A failover or round-robin set needs at least one transport (BEAVER_MAIL_FAILOVER_TRANSPORTS=ses,smtp).',
      { details: { field: 'transports' } },
    ),
  exhausted: (summary, failures) =>
    new MailError('MAIL_ALL_TRANSPORTS_FAILED', `Every transport failed: ${summary}`, {
      cause: new AggregateError(failures.map((f) => f.error)),
      details: { transports: failures.map((f) => f.target) },
    }),
  onFailover: (event) => {
    if (channels.failover.hasSubscribers) channels.failover.publish(event)
  },
  onBreakerChange: ({ target, state }) => {
    if (channels.breaker.hasSubscribers) channels.breaker.publish({ transport: target, state })
  },
}

async function buildSet(
  strategy: 'failover' | 'round-robin',
  names: readonly string[] | undefined,
  setting: string,
  context: MailDriverContext,
): Promise<FailoverTransport> {
  const empty = () =>
    new MailError(
      'MAIL_OPTIONS_INVALID',
      `${setting} is empty; list the transports in order, e.g. ${setting}=ses,smtp.`,
      {
        details: { field: setting },
      },
    )
  const members = await buildProviderSetMembers(names, (name) => context.loadTransport(name, setting), empty)
  const { failures, cooldown } = context.config.breaker
  return createFailoverTransport(members, { strategy, failures, cooldownMs: cooldown })
}

/** `BEAVER_MAIL_DRIVER=failover` with `BEAVER_MAIL_FAILOVER_TRANSPORTS=ses,smtp`. */
export const failoverDriver = defineMailDriver<{ transports?: readonly string[] }>({
  name: 'failover',
  peers: [],
  section: 'failover',
  create: (options, context) => buildSet('failover', options.transports, 'BEAVER_MAIL_FAILOVER_TRANSPORTS', context),
})

/** `BEAVER_MAIL_DRIVER=round-robin` with `BEAVER_MAIL_ROUND_ROBIN_TRANSPORTS=postmark,sendgrid`. */
export const roundRobinDriver = defineMailDriver<{ transports?: readonly string[] }>({
  name: 'round-robin',
  peers: [],
  section: 'roundRobin',
  create: (options, context) =>
    buildSet('round-robin', options.transports, 'BEAVER_MAIL_ROUND_ROBIN_TRANSPORTS', context),
})
