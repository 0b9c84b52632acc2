import { resolveConfig, describeInstance, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { importPeer, traceAsync, throwIfAborted, type Instance } from '@beaver-kit/core'
import {
  consumeSends,
  countOutcomes,
  createMemoryLedger,
  createMemorySuppressionList,
  enqueueSend,
  sendEach,
  type QueueLike,
  type QueueTiming,
  type SentLedger,
  type SuppressionList,
} from '@beaver-kit/delivery'
import { channels } from './channels.ts'
import { smsSchema, type SmsConfig, type SmsSettings } from './config.ts'
import type { SmsDriver } from './driver.ts'
import { buildSmsDriver } from './drivers-build.ts'
import type { SnsClient } from './drivers/sns.ts'
import type { HttpDriverExtras } from './drivers/http-provider.ts'
import { isCapturing, matchesSms, type CapturedSms, type SmsMatcher } from './drivers/memory.ts'
import { SmsError, isSmsError } from './errors.ts'
import type { SnsWebhookExtras } from './inbound/sns.ts'
import { createSmsWebhooks, type InboundListener, type SmsWebhooks, type StatusListener } from './inbound/webhooks.ts'
import { prepareSms, type SmsMessage } from './message.ts'

export interface SmsOptions extends SmsSettings, InstanceOptions {
  /** A built driver to send through (a user-made failover set, your own); not closed by the facade. */
  driverInstance?: SmsDriver | undefined
  /** The opt-out list send() consults (memory by default); `false` turns it off. */
  suppressionList?: SuppressionList | false | undefined
  twilio?: (SmsSettings['twilio'] & HttpDriverExtras) | undefined
  vonage?: (SmsSettings['vonage'] & HttpDriverExtras) | undefined
  /** `client`: an SNSClient of your own (reused, never closed). */
  sns?: (SmsSettings['sns'] & { client?: SnsClient | undefined }) | undefined
  /** `trustCertificateUrl`/`fetchCertificate`: the SNS certificate check, for a local SNS stand-in in tests. */
  webhooks?: (SmsSettings['webhooks'] & SnsWebhookExtras) | undefined
  /** `write`: where the log driver prints (default standard output). */
  log?: { write?: ((line: string) => void) | undefined } | undefined
  /** The queue of sendLater() and the worker (a `@beaver-kit/queue` Queue); default: that package's `queue()`. */
  jobQueue?: QueueLike | undefined
  /** Which idempotency keys the worker already sent (memory by default; `createCacheLedger(cache())` across workers). */
  ledger?: SentLedger | undefined
}

/** What `send()` resolves to. */
export interface SmsResult {
  readonly messageId: string
  /** The driver that sent it (the member of a failover set that took it). */
  readonly driver: string
  readonly to: string
  /** SMS segments the body takes (GSM-7: 160/153 characters; otherwise 70/67). */
  readonly segments: number
  readonly status: string | undefined
}

/** One message of a batch. */
export type SmsBatchItem =
  | { readonly index: number; readonly status: 'sent'; readonly result: SmsResult }
  | { readonly index: number; readonly status: 'failed' | 'skipped'; readonly to: string; readonly error?: unknown }

export interface SmsBatchResult {
  readonly sent: number
  readonly failed: number
  readonly skipped: number
  readonly items: readonly SmsBatchItem[]
}

/** An SMS sender: create with `createSms()`, or use the default `sms()`. */
export interface Sms extends Instance<InstanceDescription> {
  readonly driver: string
  /** The opt-out list (STOP) send() consults, or undefined when off. */
  readonly suppressions: SuppressionList | undefined
  /** Inbound messages and delivery-status callbacks: `webhooks.listener('twilio')` for node:http. */
  readonly webhooks: SmsWebhooks
  send(message: SmsMessage, options?: { signal?: AbortSignal | undefined }): Promise<SmsResult>
  sendBatch(
    messages: readonly SmsMessage[],
    options?: { signal?: AbortSignal | undefined; concurrency?: number },
  ): Promise<SmsBatchResult>
  /** Checks the message now and publishes it to the SMS queue, one job per idempotency key (generated when absent). */
  sendLater(
    message: SmsMessage,
    options?: QueueTiming & { queue?: QueueLike | undefined },
  ): Promise<{ jobId: string; idempotencyKey: string }>
  /** Consumes the SMS queue and sends each job once per idempotency key; close the result to stop. */
  startWorker(options?: {
    queue?: QueueLike | undefined
    concurrency?: number | undefined
  }): Promise<{ close(): Promise<void> }>
  onInbound(listener: InboundListener): () => void
  onStatus(listener: StatusListener): () => void
  /** Messages the memory driver kept (tests). */
  sent(): readonly CapturedSms[]
  expectSent(match: SmsMatcher): CapturedSms
  clearSent(): void
}

/**
 * Builds an SMS sender from options, then `BEAVER_SMS_*`, then defaults. No I/O until the
 * first send; invalid settings throw one ConfigError.
 * @example
 * await using sms = createSms({ driver: 'twilio', twilio: { accountSid, authToken }, from: '+15550100' })
 * await sms.send({ to: '+14155550100', body: 'Your code is 123456' })
 */
export function createSms(options: SmsOptions = {}): Sms {
  const { envPrefix, env, driverInstance: given, suppressionList, jobQueue, ledger: givenLedger, ...settings } = options
  const resolved = resolveConfig(smsSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const config: SmsConfig = resolved.values
  const environment = env ?? process.env
  const driver = given ? given.name : (config.driver ?? (environment.NODE_ENV === 'production' ? 'none' : 'log'))
  const suppressions =
    suppressionList === false || !config.suppression.enabled
      ? undefined
      : (suppressionList ?? createMemorySuppressionList())
  const limits = { defaultFrom: config.from, maxLength: config.maxLength }

  const ledger = givenLedger ?? createMemoryLedger()
  let closed = false
  let pending: Promise<SmsDriver> | undefined
  let built: SmsDriver | undefined
  const getDriver = (): Promise<SmsDriver> => {
    if (closed) return Promise.reject(new SmsError('SMS_CLOSED', 'This SMS sender is closed; create a new one.'))
    if (given) return Promise.resolve(given)
    pending ??= buildSmsDriver(driver, config, options as Readonly<Record<string, unknown>>).then(
      (d) => (built = d),
      (err: unknown) => {
        pending = undefined
        throw err
      },
    )
    return pending
  }

  async function sendOne(
    message: SmsMessage,
    signal: AbortSignal | undefined,
    bypassOptOut = false,
  ): Promise<SmsResult> {
    throwIfAborted(signal)
    const d = await getDriver()
    const context = { driver: d.name, segments: 0, sentBy: undefined as string | undefined }
    return traceAsync(
      channels.send,
      () => context,
      async () => {
        const { segments, ...outgoing } = prepareSms(message, limits)
        context.segments = segments
        if (!bypassOptOut && suppressions && (await suppressions.check([outgoing.to])).size > 0) {
          throw new SmsError(
            'SMS_OPTED_OUT',
            `${outgoing.to} replied STOP (or was added to the opt-out list); nothing was sent. They opt back in by replying START.`,
            {
              details: { field: 'to' },
            },
          )
        }
        try {
          const receipt = await d.send(outgoing, { signal })
          context.sentBy = receipt.driver ?? d.name
          return Object.freeze({
            messageId: receipt.messageId,
            driver: context.sentBy,
            to: outgoing.to,
            segments,
            status: receipt.status,
          })
        } catch (err) {
          // The provider says the number opted out (Twilio 21610, SNS OptedOut): remember it.
          if (isSmsError(err, 'SMS_OPTED_OUT') && suppressions)
            await suppressions.add(outgoing.to, { reason: 'opt-out', source: d.name })
          throw err
        }
      },
    )
  }

  const w = config.webhooks
  const webhooks = createSmsWebhooks(
    {
      twilioAuthToken: config.twilio.authToken,
      vonageSignatureSecret: config.vonage.signatureSecret,
      vonageSignatureMethod: config.vonage.signatureMethod,
      snsTopicArns: w.snsTopicArns,
      publicUrl: w.publicUrl,
      tolerance: w.tolerance,
      maxBody: w.maxBody,
    },
    suppressions,
    {
      enabled: config.inbound.replies,
      help: config.inbound.helpText,
      stop: config.inbound.stopText,
      start: config.inbound.startText,
      // A STOP confirmation goes to a number that has just opted out: the one message allowed.
      send: async (to, from, body) => void (await sendOne({ to, from: from || undefined, body }, undefined, true)),
    },
    {
      trustCertificateUrl: options.webhooks?.trustCertificateUrl,
      fetchCertificate: options.webhooks?.fetchCertificate,
    },
  )

  const capturing = (what: string): CapturedSms[] => {
    const d = given ?? built
    if (d && isCapturing(d)) return d.sent().slice()
    if (!d && driver === 'memory') return []
    throw new SmsError(
      'SMS_UNSUPPORTED',
      `${what} needs the memory driver (BEAVER_SMS_DRIVER=memory); this sender uses ${driver}.`,
      { details: { driver } },
    )
  }

  const sms: Sms = {
    driver,
    suppressions,
    webhooks,
    send: (message, sendOptions = {}) => sendOne(message, sendOptions.signal),
    async sendBatch(messages, batchOptions = {}) {
      const concurrency = batchOptions.concurrency ?? config.concurrency
      return traceAsync(
        channels.sendBatch,
        () => ({ messages: messages.length, concurrency }),
        async () => {
          const outcomes = await sendEach(messages, { concurrency, signal: batchOptions.signal }, (m) =>
            sendOne(m, batchOptions.signal),
          )
          const items = outcomes.map((o): SmsBatchItem =>
            o.status === 'sent' ? o : { ...o, to: String((messages[o.index] as SmsMessage).to) },
          )
          return Object.freeze({ ...countOutcomes(items), items })
        },
      )
    },
    async sendLater(message, laterOptions = {}) {
      if (closed) throw new SmsError('SMS_CLOSED', 'This SMS sender is closed; create a new one.')
      const { queue: q, ...timing } = laterOptions
      const { segments: _segments, ...checked } = prepareSms(message, limits)
      const queue = q ?? jobQueue ?? (await defaultQueue('queued SMS (sendLater)'))
      try {
        return await enqueueSend(queue, config.queue.name, checked, timing)
      } catch (err) {
        throw new SmsError(
          'SMS_QUEUE',
          `Could not publish the SMS job to "${config.queue.name}": ${(err as Error).message}`,
          { cause: err },
        )
      }
    },
    async startWorker(workerOptions = {}) {
      if (closed) throw new SmsError('SMS_CLOSED', 'This SMS sender is closed; create a new one.')
      const queue = workerOptions.queue ?? jobQueue ?? (await defaultQueue('the SMS worker (startWorker)'))
      return consumeSends(
        queue,
        config.queue.name,
        ledger,
        async (payload, signal) => (await sendOne(payload as unknown as SmsMessage, signal)).messageId,
        {
          concurrency: workerOptions.concurrency ?? config.concurrency,
        },
      )
    },
    onInbound: (listener) => webhooks.onInbound(listener),
    onStatus: (listener) => webhooks.onStatus(listener),
    sent: () => capturing('sent()'),
    expectSent(match) {
      const all = capturing('expectSent()')
      const found = all.find((m) => matchesSms(m, match))
      if (found) return found
      throw new SmsError(
        'SMS_EXPECTATION_FAILED',
        `No sent message matches ${JSON.stringify(match, (_, v: unknown) => (v instanceof RegExp ? String(v) : v))}; ${all.length} sent${
          all.length
            ? `: ${all
                .slice(-10)
                .map((m) => `${m.to} "${m.body.slice(0, 40)}"`)
                .join('; ')}`
            : ''
        }.`,
        { details: { match, sent: all.length } },
      )
    },
    clearSent() {
      const d = given ?? built
      if (d && isCapturing(d)) d.clear()
      else capturing('clearSent()')
    },
    ready: (readyOptions = {}) =>
      traceAsync(
        channels.ready,
        () => ({ driver }),
        async () => {
          await (await getDriver()).verify?.({ signal: readyOptions.signal })
        },
      ),
    describe: () =>
      describeInstance('sms', envPrefix, resolved.entries, {
        driver,
        built: (built ?? given) !== undefined,
        suppression: suppressions ? 'on' : 'off',
      }),
    async close() {
      if (closed) return
      closed = true
      const p = pending
      pending = undefined
      // A driver that never got built has nothing to close.
      if (p) await (await p.catch(() => undefined))?.close()
    },
    [Symbol.asyncDispose]: () => sms.close(),
  }
  return sms
}

/** The default queue of `@beaver-kit/queue` (an optional peer), when the caller passed none. */
async function defaultQueue(neededBy: string): Promise<QueueLike> {
  // A variable specifier: the queue package is optional, and its types are never required.
  const specifier = '@beaver-kit/queue'
  const mod = await importPeer(specifier, () => import(specifier) as Promise<{ queue?: () => QueueLike }>, neededBy)
  if (typeof mod.queue !== 'function')
    throw new SmsError('SMS_QUEUE', `${specifier} has no queue() accessor; pass { queue } explicitly.`)
  return mod.queue()
}
