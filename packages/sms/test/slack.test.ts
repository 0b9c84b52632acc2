import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSlackFake, type SlackFake } from '@beaver-kit/testkit/fakes/slack'
import { createSlackNotifier, initSlack, isSmsError, resetSlack, slack } from '@beaver-kit/sms'

let hook: SlackFake
beforeAll(async () => {
  hook = await startSlackFake()
})
afterAll(() => hook.stop())

const notifier = (extra: Parameters<typeof createSlackNotifier>[0] = {}) =>
  createSlackNotifier({ envPrefix: false, webhookUrl: hook.webhookUrl, perSecond: 100, burst: 10, ...extra })

describe('slack notifier', () => {
  it('posts text and blocks', async () => {
    hook.clear()
    await using n = notifier()
    await n.notify('Deploy finished')
    await n.notify({
      text: 'fallback',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy* done' } }],
      thread_ts: '1.2',
    })
    expect(hook.posted).toEqual([
      { text: 'Deploy finished' },
      {
        text: 'fallback',
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Deploy* done' } }],
        thread_ts: '1.2',
      },
    ])
  })

  it('waits out a 429 (Retry-After) and sends once', async () => {
    hook.clear()
    hook.script({ status: 429, body: 'rate_limited', headers: { 'retry-after': '0' } })
    await using n = notifier()
    await n.notify('after a rate limit')
    expect(hook.posted).toHaveLength(1)
    expect(hook.requests).toHaveLength(2)
  })

  it('turns Slack error words into SMS_SLACK_FAILED with their meaning, not retried', async () => {
    hook.clear()
    hook.script({ status: 404, body: 'channel_not_found' })
    await using n = notifier()
    const error = await n.notify('x').catch((e: unknown) => e)
    expect(isSmsError(error, 'SMS_SLACK_FAILED')).toBe(true)
    expect((error as Error).message).toBe(
      'Slack answered 404 channel_not_found: the channel of the webhook no longer exists.',
    )
    expect(hook.requests).toHaveLength(1)
  })

  it('checks the message and the configuration, naming what is missing; the URL stays masked', async () => {
    await using n = notifier({ maxTextLength: 5 })
    await expect(n.notify({})).rejects.toMatchObject({ code: 'SMS_MESSAGE_INVALID', details: { field: 'text' } })
    await expect(n.notify('too long')).rejects.toMatchObject({ details: { field: 'text' } })
    await expect(n.notify({ blocks: Array(51).fill({ type: 'divider' }) })).rejects.toMatchObject({
      details: { field: 'blocks' },
    })
    expect(JSON.stringify(n.describe())).not.toContain('XXXXXXXX')
    await using unset = createSlackNotifier({ envPrefix: false })
    await expect(unset.notify('x')).rejects.toMatchObject({
      code: 'SMS_OPTIONS_INVALID',
      details: { field: 'BEAVER_SLACK_WEBHOOK_URL' },
    })
    await expect(unset.ready()).rejects.toMatchObject({ code: 'SMS_OPTIONS_INVALID' })
  })

  it('paces to the configured rate, and the default instance reads BEAVER_SLACK_*', async () => {
    hook.clear()
    initSlack({
      env: { BEAVER_SLACK_WEBHOOK_URL: hook.webhookUrl, BEAVER_SLACK_PER_SECOND: '0.01', BEAVER_SLACK_BURST: '1' },
    })
    try {
      await slack().ready()
      await slack().notify('first')
      // The bucket is empty for the next 100 s: the second notification waits until aborted.
      await expect(slack().notify('second', { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({
        name: 'TimeoutError',
      })
      expect(hook.posted).toEqual([{ text: 'first' }])
    } finally {
      await resetSlack()
    }
    const closed = notifier()
    await closed.close()
    await expect(closed.notify('x')).rejects.toMatchObject({ code: 'SMS_CLOSED' })
  })

  it('reports an unreachable Slack', async () => {
    await using n = createSlackNotifier({ envPrefix: false, webhookUrl: 'http://127.0.0.1:9/services/x', attempts: 1 })
    await expect(n.notify('x')).rejects.toThrow(/Slack could not be reached/)
  })
})
