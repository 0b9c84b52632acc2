import { describeInstance, resolveConfig, type InstanceDescription, type InstanceOptions } from '@beaver-kit/config'
import { defineDefaultInstance, traceAsync, type Instance } from '@beaver-kit/core'
import { createProviderClient, createTokenBucket, type ProviderClient } from '@beaver-kit/delivery'
import { channels } from './channels.ts'
import { slackSchema, type SlackSettings } from './config.ts'
import { SmsError } from './errors.ts'

/** A Slack message: `text` (mrkdwn), `blocks` (Block Kit), or both (text is the notification fallback). */
export interface SlackMessage {
  text?: string | undefined
  blocks?: readonly unknown[] | undefined
  /** Reply in a thread (the parent message's ts). */
  thread_ts?: string | undefined
  unfurl_links?: boolean | undefined
  unfurl_media?: boolean | undefined
}

export interface SlackOptions extends SlackSettings, InstanceOptions {
  /** More `@beaver-kit/http` client options (a dispatcher, timeouts). */
  http?: Readonly<Record<string, unknown>> | undefined
}

/** Posts to one Slack incoming webhook, paced and retried. */
export interface SlackNotifier extends Instance<InstanceDescription> {
  /** Posts a message (a string is its text); resolves once Slack answered `ok`. */
  notify(message: string | SlackMessage, options?: { signal?: AbortSignal | undefined }): Promise<void>
}

/** Slack's answers, as documented for incoming webhooks: what each means for the sender. */
const FAILURES: Readonly<Record<string, string>> = {
  invalid_payload: 'the payload is not valid Block Kit or JSON',
  no_text: 'the message has neither text nor blocks',
  action_prohibited: 'an admin restricted posting to this channel',
  channel_not_found: 'the channel of the webhook no longer exists',
  channel_is_archived: 'the channel of the webhook is archived',
  no_service: 'the webhook was disabled or removed',
  invalid_token: 'the webhook URL is no longer valid',
}

/**
 * The Slack incoming-webhook notifier: text and Block Kit, paced to Slack's one message per
 * second per webhook (a token bucket), 429 retried after Retry-After and lost connections
 * retried, Slack's error words (`channel_not_found`…) turned into SMS_SLACK_FAILED with what
 * they mean. The webhook URL is a secret: it is masked in describe() and errors.
 * @example await createSlackNotifier({ webhookUrl }).notify({ text: 'Deploy done', blocks })
 */
export function createSlackNotifier(options: SlackOptions = {}): SlackNotifier {
  const { envPrefix, env, http, ...settings } = options
  const resolved = resolveConfig(slackSchema, { options: settings, envPrefix, ...(env ? { env } : {}) })
  const config = resolved.values
  const bucket = createTokenBucket({ perSecond: config.perSecond, burst: config.burst })
  let client: Promise<ProviderClient> | undefined
  let closed = false
  let attempt = 0

  const getClient = (): Promise<ProviderClient> => {
    if (closed) return Promise.reject(new SmsError('SMS_CLOSED', 'This Slack notifier is closed; create a new one.'))
    if (!config.webhookUrl) {
      return Promise.reject(
        new SmsError(
          'SMS_OPTIONS_INVALID',
          'The Slack notifier needs BEAVER_SLACK_WEBHOOK_URL (an incoming webhook URL from your Slack app).',
          {
            details: { field: 'BEAVER_SLACK_WEBHOOK_URL' },
          },
        ),
      )
    }
    const url = new URL(config.webhookUrl)
    client ??= createProviderClient({
      neededBy: 'the Slack notifier',
      baseUrl: url.origin,
      headers: {},
      retry: { attempts: config.attempts, baseDelay: 1000, maxDelay: 30_000 },
      http,
      userAgent: 'beaver-kit-slack',
    })
    return client
  }

  function check(message: string | SlackMessage): SlackMessage {
    const m = typeof message === 'string' ? { text: message } : message
    if (typeof m !== 'object' || m === null)
      throw new SmsError('SMS_MESSAGE_INVALID', 'message: expected text or { text, blocks }', {
        details: { field: 'message' },
      })
    if (!m.text && !(m.blocks && m.blocks.length))
      throw new SmsError('SMS_MESSAGE_INVALID', 'text: give text or blocks', { details: { field: 'text' } })
    if (m.text && m.text.length > config.maxTextLength) {
      throw new SmsError('SMS_MESSAGE_INVALID', `text: ${m.text.length} characters; at most ${config.maxTextLength}`, {
        details: { field: 'text' },
      })
    }
    if (m.blocks && m.blocks.length > 50)
      throw new SmsError('SMS_MESSAGE_INVALID', 'blocks: Slack takes at most 50 blocks', {
        details: { field: 'blocks' },
      })
    return m
  }

  const notifier: SlackNotifier = {
    notify(message, notifyOptions = {}) {
      const ctx: { attempt: number; status?: number | undefined } = { attempt: ++attempt }
      return traceAsync(
        channels.slack,
        () => ctx,
        async () => {
          const payload = check(message)
          const api = await getClient()
          await bucket.take(1, { signal: notifyOptions.signal })
          const path = new URL(config.webhookUrl as string)
          try {
            const response = await api.post(path.pathname + path.search, {
              json: payload,
              signal: notifyOptions.signal,
            })
            ctx.status = response.status
          } catch (err) {
            const e = err as { status?: number; bodyExcerpt?: string; code?: string; message?: string }
            ctx.status = e.status
            const word = (e.bodyExcerpt ?? '').trim()
            const meaning = FAILURES[word]
            throw new SmsError(
              'SMS_SLACK_FAILED',
              e.status
                ? `Slack answered ${e.status} ${word}${meaning ? `: ${meaning}` : ''}.`
                : `Slack could not be reached: ${e.message ?? String(err)}`,
              { cause: err, details: { status: e.status, error: word || e.code } },
            )
          }
        },
      )
    },
    ready: async () => {
      await getClient()
    },
    describe: () =>
      describeInstance('slack', envPrefix, resolved.entries, { configured: config.webhookUrl !== undefined }),
    async close() {
      if (closed) return
      closed = true
      const c = client
      client = undefined
      if (c) await (await c.catch(() => undefined))?.close()
    },
    [Symbol.asyncDispose]: () => notifier.close(),
  }
  return notifier
}

const slot = defineDefaultInstance<SlackNotifier, SlackOptions>('slack', createSlackNotifier)

/** The default Slack notifier, built on first use from `BEAVER_SLACK_*`. */
export const slack: () => SlackNotifier = slot.get
/** Configures the default Slack notifier before its first use; throws once it exists. */
export const initSlack: (options?: SlackOptions) => SlackNotifier = slot.init
/** Closes and forgets the default Slack notifier (tests). */
export const resetSlack: () => Promise<void> = slot.reset
