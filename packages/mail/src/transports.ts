import type { MailConfig } from './config.ts'
import { MailError } from './errors.ts'
import { loadMailDriver } from './registry.ts'
import { withRetries } from './retrying.ts'
import { plainCapabilities, type MailTransport } from './transport.ts'

/**
 * What production gets when no transport is configured: every send fails with the fix, so
 * mail is never silently dropped (or printed to a log nobody reads) in production.
 */
function unconfigured(): MailTransport {
  const error = (): MailError =>
    new MailError(
      'MAIL_TRANSPORT_MISSING',
      'NODE_ENV is production and BEAVER_MAIL_DRIVER is not set, so mail is refused rather than dropped. Set BEAVER_MAIL_DRIVER (smtp, ses, sendgrid, mailgun, postmark, resend) and its settings, or BEAVER_MAIL_DRIVER=log to print mail on purpose.',
      { details: { field: 'BEAVER_MAIL_DRIVER' } },
    )
  return {
    name: 'none',
    capabilities: plainCapabilities({ retries: true }),
    send: () => Promise.reject(error()),
    verify: () => Promise.reject(error()),
    close: async () => {},
  }
}

const MAX_DEPTH = 4

/**
 * Builds the named transport with its section's settings (environment and options merged),
 * and wraps it in the mailer's retry when it does not retry by itself. Composites build
 * their members through the context, so each member is a built, retrying transport.
 */
export async function buildTransport(
  name: string,
  config: MailConfig,
  options: Readonly<Record<string, unknown>>,
  setting = 'BEAVER_MAIL_DRIVER',
  depth = 0,
): Promise<MailTransport> {
  if (name === 'none') return unconfigured()
  if (depth > MAX_DEPTH) {
    throw new MailError(
      'MAIL_OPTIONS_INVALID',
      `${setting} nests failover/round-robin sets more than ${MAX_DEPTH} deep (does a set name itself?).`,
      {
        details: { field: setting },
      },
    )
  }
  const definition = await loadMailDriver(name, setting)
  const section = definition.section
  // Code-only extras (an SDK client, a dispatcher) come from the raw options; settings from the resolved config.
  const raw = section ? (options[section] as Record<string, unknown> | undefined) : undefined
  const settings = section ? (config[section] as Record<string, unknown>) : {}
  const transport = await definition.create({ ...raw, ...settings } as never, {
    config,
    loadTransport: (member, from) => buildTransport(member, config, options, from, depth + 1),
  })
  return withRetries(transport, {
    attempts: config.retry.attempts,
    baseMs: config.retry.baseDelay,
    maxMs: config.retry.maxDelay,
  })
}

/** Live facts about a built transport for `describe()` (never settings: those come from the schema). */
export function describeDriver(transport: MailTransport | undefined): Record<string, string | boolean | undefined> {
  if (!transport) return { built: false }
  return { built: true, transport: transport.name }
}
