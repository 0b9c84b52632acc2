import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { traceAsync, throwIfAborted, type Instance } from '@beaver-kit/core'
import {
  consumeSends,
  createMemoryLedger,
  createMemorySuppressionList,
  enqueueSend,
  type QueueLike,
  type QueueTiming,
  type SendRateLimiter,
  type SentLedger,
  type SuppressionList,
} from '@beaver-kit/delivery'
import { defaultQueue, toJob } from './queued.ts'
import { suppressionKey } from './address.ts'
import { runBatch, type BatchResult } from './batch.ts'
import { channels } from './channels.ts'
import { mailerSchema, type MailConfig, type MailerSettings } from './config.ts'
import { MailError } from './errors.ts'
import { isCapturing, matchesSent, type CapturedMail, type SentMatcher } from './drivers/memory.ts'
import { prepareMessage, recipientsOf, withRecipients, type MailMessage, type OutgoingMail } from './message.ts'
import { buildRateLimiter, type BuiltLimiter } from './rate-limiter.ts'
import type { SendResult } from './send-result.ts'
import { TemplateRenderer, type RenderedMail, type TemplateOptions } from './templates/renderer.ts'
import type { LayoutSource, TemplateCache, TemplateSource } from './templates/sources.ts'
import { buildTransport, describeDriver } from './transports.ts'
import type { MailTransport } from './transport.ts'
import { createMailWebhooks, type DeliveryListener, type MailWebhooks } from './events/webhooks.ts'
import type { SesWebhookExtras } from './events/ses.ts'
import type { ConnectionOptions } from 'node:tls'
import type { SesClient } from './drivers/ses.ts'
import type { HttpProviderExtras } from './drivers/http-provider.ts'

/** Template settings only code can give: inline sources, helpers, the template cache. */
export interface TemplateExtras {
  inline?: Readonly<Record<string, TemplateSource>> | undefined
  partials?: Readonly<Record<string, string>> | undefined
  layouts?: Readonly<Record<string, LayoutSource>> | undefined
  helpers?: TemplateOptions['helpers']
  cache?: TemplateCache | undefined
  cacheRendered?: boolean | undefined
  locale?: string | undefined
  timeZone?: string | undefined
}

export interface MailerOptions extends Omit<MailerSettings, 'templates'>, InstanceOptions {
  /** A built transport to send through (a user-made failover set, a custom one); the mailer does not close it. */
  transport?: MailTransport | undefined
  templates?: (MailerSettings['templates'] & TemplateExtras) | undefined
  /** The suppression list send() consults (memory by default); `false` turns it off. */
  suppressionList?: SuppressionList | false | undefined
  /**
   * Which idempotency keys the mail worker already sent, so a retried job never sends twice:
   * in memory by default (one worker process); `createCacheLedger(cache())` across workers.
   */
  ledger?: SentLedger | undefined
  /** The queue of sendLater() and the worker (a `@beaver-kit/queue` Queue); default: that package's `queue()`. */
  jobQueue?: QueueLike | undefined
  /** Your own pacing (a `@beaver-kit/delivery` token bucket, a limiter of your own) instead of BEAVER_MAIL_RATE_LIMIT_*. */
  rateLimiter?: SendRateLimiter | undefined
  // Driver settings only code can give, beside each section's env settings.
  /** `tls`: more TLS options, such as the `ca` of a private certificate authority. */
  smtp?: (MailerSettings['smtp'] & { tls?: ConnectionOptions | undefined }) | undefined
  /** `client`: an SESv2Client of your own (reused, never closed). */
  ses?: (MailerSettings['ses'] & { client?: SesClient | undefined }) | undefined
  /** `http`: more `@beaver-kit/http` client options (a dispatcher, timeouts). */
  sendgrid?: (MailerSettings['sendgrid'] & HttpProviderExtras) | undefined
  mailgun?: (MailerSettings['mailgun'] & HttpProviderExtras) | undefined
  postmark?: (MailerSettings['postmark'] & HttpProviderExtras) | undefined
  resend?: (MailerSettings['resend'] & HttpProviderExtras) | undefined
  /** `trustCertificateUrl`/`fetchCertificate`: the SNS certificate check, for a local SNS stand-in in tests. */
  webhooks?: (MailerSettings['webhooks'] & SesWebhookExtras) | undefined
  /** `write`: where the log transport prints (default standard output). */
  log?: (MailerSettings['log'] & { write?: ((line: string) => void) | undefined }) | undefined
}

export interface SendOptions {
  signal?: AbortSignal | undefined
}

/** A mailer: create with `createMailer()`, or use the default `mailer()`. */
export interface Mailer extends Instance<InstanceDescription> {
  /** The configured transport name (`smtp`, `log`...). */
  readonly driver: string
  /** The list send() consults, or undefined when suppression is off. */
  readonly suppressions: SuppressionList | undefined
  /** Checks, renders (when `template` is set) and sends one message; resolves with the provider's id. */
  send(message: MailMessage, options?: SendOptions): Promise<SendResult>
  /** Sends many messages, `concurrency` at once; never rejects for a message, the result says what happened to each. */
  sendBatch(messages: readonly MailMessage[], options?: SendOptions & { concurrency?: number }): Promise<BatchResult>
  /**
   * Checks and renders the message now, then publishes it to the mail queue (BEAVER_MAIL_QUEUE_NAME)
   * with a job id derived from its idempotency key (one is generated when it has none), so
   * publishing the same message twice is one job. `startWorker()` sends it.
   */
  sendLater(
    message: MailMessage,
    options?: QueueTiming & { queue?: QueueLike | undefined },
  ): Promise<{ jobId: string; idempotencyKey: string }>
  /**
   * Consumes the mail queue and sends each job; a job whose idempotency key the ledger has seen
   * is acknowledged without sending again. Close the returned consumer to stop.
   */
  startWorker(options?: {
    queue?: QueueLike | undefined
    concurrency?: number | undefined
  }): Promise<{ close(): Promise<void> }>
  /** Renders a template without sending. */
  render(template: string, data?: Readonly<Record<string, unknown>>): Promise<RenderedMail>
  /** Writes every local template to the template cache (for workers without a file system); resolves how many. */
  publishTemplates(): Promise<number>
  /**
   * Delivery webhooks: `webhooks.handle(provider, request)` or `webhooks.listener(provider)` for
   * node:http; verified events are normalized, suppress hard bounces and complaints, and reach
   * `onDelivery` listeners.
   */
  readonly webhooks: MailWebhooks
  /** Calls `listener` with every verified delivery event; returns the function that stops it. */
  onDelivery(listener: DeliveryListener): () => void
  /** Messages the memory transport kept (tests). */
  sent(): readonly CapturedMail[]
  /** The message matching every given field, or a MAIL_EXPECTATION_FAILED error listing what was sent. */
  expectSent(match: SentMatcher): CapturedMail
  /** Forgets what the memory transport kept. */
  clearSent(): void
}

/**
 * Builds a mailer from options, then `BEAVER_MAIL_*`, then defaults. Does no I/O: the
 * transport is built and connected on first send; invalid settings throw one ConfigError.
 * @example
 * await using mailer = createMailer({ driver: 'smtp', smtp: { url: 'smtp://user:pass@mail.example.com:587' } })
 * await mailer.send({ from: 'app@example.com', to: 'ada@example.com', subject: 'Hi', text: 'Hello' })
 */
export function createMailer(options: MailerOptions = {}): Mailer {
  const {
    envPrefix,
    env,
    transport: given,
    suppressionList,
    rateLimiter: givenLimiter,
    ledger: givenLedger,
    jobQueue: givenQueue,
    ...settings
  } = options
  const resolved = resolveConfig(mailerSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const config: MailConfig = resolved.values
  const environment = env ?? process.env
  const driver = given ? given.name : (config.driver ?? (environment.NODE_ENV === 'production' ? 'none' : 'log'))
  const suppressions =
    suppressionList === false || !config.suppression.enabled
      ? undefined
      : (suppressionList ?? createMemorySuppressionList())
  const t = options.templates
  const templates = new TemplateRenderer({
    dir: config.templates.dir,
    inline: t?.inline,
    partials: t?.partials,
    layouts: t?.layouts,
    helpers: t?.helpers,
    cache: t?.cache,
    cacheRendered: t?.cacheRendered,
    strict: config.templates.strict,
    layout: config.templates.layout,
    version: config.templates.version,
    cacheTtlMs: config.templates.cacheTtl,
    helperSettings: { ...(t?.locale ? { locale: t.locale } : {}), ...(t?.timeZone ? { timeZone: t.timeZone } : {}) },
  })
  const w = config.webhooks
  const webhooks = createMailWebhooks(
    {
      sesTopicArns: w.sesTopicArns,
      sesConfirmSubscriptions: w.sesConfirmSubscriptions,
      sendgridPublicKey: w.sendgridPublicKey,
      mailgunSigningKey: w.mailgunSigningKey,
      postmarkUser: w.postmarkUser,
      postmarkPassword: w.postmarkPassword,
      resendSecret: w.resendSecret,
      tolerance: w.tolerance,
      maxBody: w.maxBody,
    },
    suppressions,
    {
      trustCertificateUrl: options.webhooks?.trustCertificateUrl,
      fetchCertificate: options.webhooks?.fetchCertificate,
    },
  )
  const limits = {
    maxMessageSize: config.maxMessageSize,
    maxRecipients: config.maxRecipients,
    defaultFrom: config.from,
    defaultReplyTo: config.replyTo,
  }

  const ledger = givenLedger ?? createMemoryLedger()
  let closed = false
  let transport: Promise<MailTransport> | undefined
  let built: MailTransport | undefined
  let limiter: Promise<BuiltLimiter> | undefined

  const getTransport = (): Promise<MailTransport> => {
    if (closed) return Promise.reject(closedError())
    if (given) return Promise.resolve(given)
    transport ??= buildTransport(driver, config, options as Readonly<Record<string, unknown>>).then(
      (tr) => (built = tr),
      (err: unknown) => {
        transport = undefined // a missing peer or bad setting is fixed by the caller; try again next time
        throw err
      },
    )
    return transport
  }
  const getLimiter = (): Promise<BuiltLimiter> =>
    (limiter ??= givenLimiter
      ? Promise.resolve({ limiter: givenLimiter, close: async () => {} })
      : buildRateLimiter(config).catch((err: unknown) => {
          limiter = undefined
          throw err
        }))

  async function fromTemplate(message: MailMessage): Promise<MailMessage> {
    if (message.template === undefined) return message
    const rendered = await traceAsync(
      channels.render,
      () => ({ template: message.template as string }),
      () => templates.render(message.template as string, message.data),
    )
    return {
      ...message,
      subject: message.subject ?? rendered.subject,
      html: message.html ?? rendered.html,
      text: message.text ?? rendered.text,
    }
  }

  async function suppress(mail: OutgoingMail, via: string): Promise<[OutgoingMail, string[]]> {
    if (!suppressions) return [mail, []]
    const all = recipientsOf(mail)
    const hit = await suppressions.check([...new Set(all.map(suppressionKey))])
    if (hit.size === 0) return [mail, []]
    const dropped = all.filter((a) => hit.has(suppressionKey(a)))
    if (channels.suppressed.hasSubscribers) channels.suppressed.publish({ recipients: dropped.length, transport: via })
    if (dropped.length === all.length) {
      throw new MailError(
        'MAIL_SUPPRESSED',
        `Every recipient (${dropped.length}) is on the suppression list (a hard bounce, a complaint or a manual entry); nothing was sent. Remove them with mailer.suppressions.remove(address) if they asked to get mail again.`,
        { details: { field: 'to', suppressed: dropped } },
      )
    }
    return [withRecipients(mail, (a) => !hit.has(suppressionKey(a))), dropped]
  }

  async function sendOne(message: MailMessage, signal: AbortSignal | undefined): Promise<SendResult> {
    throwIfAborted(signal)
    const tr = await getTransport()
    const context = {
      transport: tr.name,
      recipients: 0,
      attachments: 0,
      template: message.template,
      sentBy: undefined as string | undefined,
    }
    return traceAsync(
      channels.send,
      () => context,
      async () => {
        const mail = await prepareMessage(await fromTemplate(message), limits)
        context.recipients = recipientsOf(mail).length
        context.attachments = mail.attachments.length
        if (mail.tags.length > tr.capabilities.maxTags) {
          throw new MailError(
            'MAIL_MESSAGE_INVALID',
            `tags: ${mail.tags.length} tags; the ${tr.name} transport takes at most ${tr.capabilities.maxTags} per message.`,
            {
              details: { field: 'tags', max: tr.capabilities.maxTags },
            },
          )
        }
        const [outgoing, suppressed] = await suppress(mail, tr.name)
        await (await getLimiter()).limiter?.take(1, { signal })
        const receipt = await tr.send(outgoing, { signal })
        const sentBy = receipt.transport ?? tr.name
        context.sentBy = sentBy
        return Object.freeze({
          messageId: receipt.messageId,
          transport: sentBy,
          accepted: receipt.accepted ?? recipientsOf(outgoing),
          rejected: receipt.rejected ?? [],
          suppressed,
        })
      },
    )
  }

  const capturing = (what: string): CapturedMail[] => {
    const tr = given ?? built
    if (tr && isCapturing(tr)) return tr.sent().slice()
    if (!tr && driver === 'memory') return []
    throw new MailError(
      'MAIL_UNSUPPORTED',
      `${what} needs the memory transport (BEAVER_MAIL_DRIVER=memory); this mailer uses ${driver}.`,
      {
        details: { driver },
      },
    )
  }

  const mailer: Mailer = {
    driver,
    suppressions,
    webhooks,
    onDelivery: (listener) => webhooks.onDelivery(listener),
    send: (message, sendOptions = {}) => sendOne(message, sendOptions.signal),
    sendBatch(messages, batchOptions = {}) {
      const concurrency = batchOptions.concurrency ?? config.concurrency
      return traceAsync(
        channels.sendBatch,
        () => ({ messages: messages.length, concurrency }),
        () => runBatch(messages, concurrency, batchOptions.signal, (m) => sendOne(m, batchOptions.signal)),
      )
    },
    async sendLater(message, laterOptions = {}) {
      if (closed) throw closedError()
      const { queue: q, ...timing } = laterOptions
      const mail = await prepareMessage(await fromTemplate(message), limits)
      const queue = q ?? givenQueue ?? (await defaultQueue('queued mail (sendLater)'))
      try {
        return await enqueueSend(queue, config.queue.name, toJob(mail), timing)
      } catch (err) {
        throw new MailError(
          'MAIL_QUEUE',
          `Could not publish the mail job to "${config.queue.name}": ${(err as Error).message}`,
          { cause: err },
        )
      }
    },
    async startWorker(workerOptions = {}) {
      if (closed) throw closedError()
      const queue = workerOptions.queue ?? givenQueue ?? (await defaultQueue('the mail worker (startWorker)'))
      return consumeSends(
        queue,
        config.queue.name,
        ledger,
        async (payload, signal) => (await sendOne(payload as MailMessage, signal)).messageId,
        { concurrency: workerOptions.concurrency ?? config.concurrency },
      )
    },
    // Unobserved renders skip building the trace context at all (render is a hot path).
    render: (template, data) =>
      channels.render.hasSubscribers
        ? traceAsync(
            channels.render,
            () => ({ template }),
            () => templates.render(template, data),
          )
        : templates.render(template, data),
    publishTemplates: () => templates.publish(),
    sent: () => capturing('sent()'),
    expectSent(match) {
      const all = capturing('expectSent()')
      const found = all.find((m) => matchesSent(m, match))
      if (found) return found
      const seen = all.map((m) => `"${m.subject}" to ${recipientsOf(m).join(', ')}`).slice(-10)
      throw new MailError(
        'MAIL_EXPECTATION_FAILED',
        `No sent message matches ${JSON.stringify(match, (_, v: unknown) => (v instanceof RegExp ? String(v) : v))}; ${all.length} sent${seen.length ? `: ${seen.join('; ')}` : ''}.`,
        { details: { match, sent: all.length } },
      )
    },
    clearSent() {
      const tr = given ?? built
      if (tr && isCapturing(tr)) tr.clear()
      else capturing('clearSent()')
    },
    ready: (readyOptions = {}) =>
      traceAsync(
        channels.ready,
        () => ({ transport: driver }),
        async () => {
          const tr = await getTransport()
          await tr.verify?.({ signal: readyOptions.signal })
        },
      ),
    describe: () =>
      describeInstance('mail', envPrefix, resolved.entries, {
        driver,
        ...describeDriver(built ?? given),
        suppression: suppressions ? 'on' : 'off',
      }),
    async close() {
      if (closed) return
      closed = true
      const pending = transport
      transport = undefined
      // A transport or limiter that never got built has nothing to close.
      if (pending) await (await pending.catch(() => undefined))?.close()
      if (limiter) await (await limiter.catch(() => undefined))?.close()
    },
    [Symbol.asyncDispose]: () => mailer.close(),
  }
  return mailer
}

function closedError(): MailError {
  return new MailError('MAIL_CLOSED', 'This mailer is closed; create a new one.')
}
