import { buildMembers, closeMembers, createRouter, type TargetState } from '@beaver-kit/delivery'
import { channels } from '../channels.ts'
import { MailError } from '../errors.ts'
import { shouldFailover } from '../failures.ts'
import { defineMailDriver, type MailDriverContext, type MailTransport } from '../transport.ts'

export interface FailoverOptions {
  /** `failover` (default): always the first healthy transport; `round-robin`: rotate the first choice per message. */
  strategy?: 'failover' | 'round-robin' | undefined
  /** Consecutive failures after which a transport is tried last for `cooldownMs`; 0 never. Default 3. */
  failures?: number | undefined
  /** Default 30 s. */
  cooldownMs?: number | undefined
}

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
  if (members.length === 0) {
    throw new MailError(
      'MAIL_OPTIONS_INVALID',
      'A failover or round-robin set needs at least one transport (BEAVER_MAIL_FAILOVER_TRANSPORTS=ses,smtp).',
      {
        details: { field: 'transports' },
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
      new MailError(
        'MAIL_ALL_TRANSPORTS_FAILED',
        `Every transport failed: ${failures.map((f) => `${f.target}: ${(f.error as Error).message}`).join('; ')}`,
        {
          cause: new AggregateError(failures.map((f) => f.error)),
          details: { transports: failures.map((f) => f.target) },
        },
      ),
    onFailover: ({ from, to, error }) => {
      if (channels.failover.hasSubscribers)
        channels.failover.publish({ from, to, code: (error as { code?: string }).code ?? 'UNKNOWN' })
    },
    onBreakerChange: ({ target, state }) => {
      if (channels.breaker.hasSubscribers) channels.breaker.publish({ transport: target, state })
    },
  })
  return {
    name: strategy,
    members,
    capabilities: Object.freeze({
      retries: true,
      idempotencyKeys: members.every((m) => m.capabilities.idempotencyKeys),
      maxTags: Math.min(...members.map((m) => m.capabilities.maxTags)),
    }),
    async send(mail, sendOptions) {
      const { value, target } = await router.run((t) => t.send(mail, sendOptions), sendOptions)
      return { ...value, transport: value.transport ?? target.name }
    },
    async verify(verifyOptions) {
      // Ready when any member is: that is when the set can send.
      await router.run(async (t) => t.verify?.(verifyOptions), verifyOptions)
    },
    state: () => router.state(),
    close: () => closeMembers(members, 'the failover set'),
  }
}

async function buildSet(
  strategy: 'failover' | 'round-robin',
  names: readonly string[] | undefined,
  setting: string,
  context: MailDriverContext,
): Promise<FailoverTransport> {
  if (!names || names.length === 0) {
    throw new MailError(
      'MAIL_OPTIONS_INVALID',
      `${setting} is empty; list the transports in order, e.g. ${setting}=ses,smtp.`,
      {
        details: { field: setting },
      },
    )
  }
  const members = await buildMembers(names, (name) => context.loadTransport(name, setting))
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
