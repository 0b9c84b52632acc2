// Vonage's SMS API, as documented at https://developer.vonage.com/en/api/sms: POST /sms/json
// with api_key, api_secret, from, to (no +), text and type (unicode for non-GSM text), as JSON
// or a form. It answers 200 even for a refused message, with one entry per part in
// `messages`: status "0" and a message-id when accepted; otherwise a status and error-text
// ("1" Throttled, "2" Missing params, "3" Invalid params, "4" Invalid credentials, "5"
// Internal error, "6" Invalid message, "7" Number barred, "29" Non-whitelisted destination).
import { randomBytes } from 'node:crypto'
import type { ReceivedSms } from '../sms.ts'
import { formBody, header, jsonBody, startHttpFake, type HttpFake } from './http-fake.ts'

export interface VonageFake extends HttpFake {
  readonly apiKey: string
  readonly apiSecret: string
  received(): ReceivedSms[]
  /** A Vonage answer refusing the message with `status` (as the API returns it: HTTP 200). */
  refusal(status: string, text: string): { status: number; body: object }
}

export async function startVonageFake(apiKey = 'vonage-key', apiSecret = 'vonage-secret'): Promise<VonageFake> {
  const accepted: ReceivedSms[] = []
  const refusal = (status: string, text: string) => ({
    status: 200,
    body: { 'message-count': '1', messages: [{ status, 'error-text': text }] },
  })
  const fake = await startHttpFake(async (req) => {
    if (req.method !== 'POST' || req.path !== '/sms/json') return { status: 404, body: { title: 'Not Found' } }
    const isJson = (header(req, 'content-type') ?? '').includes('json')
    const p: Record<string, string> = isJson
      ? Object.fromEntries(Object.entries(jsonBody(req) ?? {}).map(([k, v]) => [k, String(v)]))
      : Object.fromEntries([...(await formBody(req)).entries()].map(([k, v]) => [k, String(v)]))
    if (!p.api_key || !p.api_secret || !p.from || !p.to || !p.text) return refusal('2', 'Missing Parameters')
    if (p.api_key !== apiKey || p.api_secret !== apiSecret) return refusal('4', 'Bad Credentials')
    if (!/^[1-9]\d{1,14}$/.test(p.to)) return refusal('3', 'Invalid to param')
    accepted.push({ to: `+${p.to}`, from: /^\d+$/.test(p.from) ? `+${p.from}` : p.from, body: p.text })
    return {
      status: 200,
      body: {
        'message-count': '1',
        messages: [
          {
            to: p.to,
            'message-id': randomBytes(8).toString('hex').toUpperCase(),
            status: '0',
            'remaining-balance': '10.00',
            'message-price': '0.03',
            network: '12345',
          },
        ],
      },
    }
  })
  return {
    ...fake,
    apiKey,
    apiSecret,
    refusal,
    received: () => accepted.slice(),
    clear() {
      fake.clear()
      accepted.length = 0
    },
  }
}
