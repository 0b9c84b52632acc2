// Slack's incoming webhooks, as documented at https://api.slack.com/messaging/webhooks:
// POST /services/T…/B…/… with a JSON body (text and/or blocks); 200 with the text "ok";
// errors as a word in the body: 400 invalid_payload or no_text, 403 action_prohibited,
// 404 channel_not_found or no_service, 410 channel_is_archived; 429 with Retry-After (seconds)
// past about one message per second.
import { jsonBody, startHttpFake, type HttpFake } from './http-fake.ts'

export interface SlackFake extends HttpFake {
  /** The full webhook URL to post to. */
  readonly webhookUrl: string
  /** Payloads Slack accepted. */
  readonly posted: Array<Record<string, unknown>>
}

export async function startSlackFake(): Promise<SlackFake> {
  const path = '/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'
  const posted: Array<Record<string, unknown>> = []
  const fake = await startHttpFake((req) => {
    if (req.method !== 'POST' || req.path !== path) return { status: 404, body: 'no_service' }
    const body = jsonBody(req)
    if (!body) return { status: 400, body: 'invalid_payload' }
    if (!body.text && !(Array.isArray(body.blocks) && body.blocks.length)) return { status: 400, body: 'no_text' }
    posted.push(body)
    return { status: 200, body: 'ok' }
  })
  return {
    ...fake,
    webhookUrl: `${fake.url}${path}`,
    posted,
    clear() {
      fake.clear()
      posted.length = 0
    },
  }
}
