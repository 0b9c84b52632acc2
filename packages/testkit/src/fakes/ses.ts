// SES v2 for the mail tests: aws-ses-v2-local (a devDependency of @beaver-kit/mail, imported
// lazily) does the sending API and keeps the mail; a recorder in front of it keeps every
// request (to read back the raw MIME, the Destination and the EmailTags exactly as sent),
// checks the access key id the SigV4 Authorization header names (403
// UnrecognizedClientException otherwise, as SES answers; the signature itself is not
// checked), and can answer with scripted SES errors (429 TooManyRequestsException).
import type { AddressInfo, Server } from 'node:net'
import type { ReceivedMail } from '../mail.ts'
import { parseRawMail } from '../mail-parse.ts'
import { header, jsonBody, startHttpFake, type FakeResponse, type HttpFake } from './http-fake.ts'

export interface SesLocal extends HttpFake {
  readonly region: string
  readonly credentials: { accessKeyId: string; secretAccessKey: string }
  /** What SES accepted (200) through SendEmail, parsed back. */
  received(): Promise<ReceivedMail[]>
  /** An SES error answer, as the REST-JSON protocol gives it (x-amzn-ErrorType header and `{ message }`). */
  sesError(status: number, type: string, message: string): FakeResponse
}

interface SendEmailBody {
  Content?: { Raw?: { Data?: string } }
  Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] }
  EmailTags?: Array<{ Name: string; Value: string }>
}

export async function startSesLocal(accessKeyId = 'AKIDLOCALTEST'): Promise<SesLocal> {
  const name = 'aws-ses-v2-local'
  const { default: start } = (await import(name)) as { default: (c: { host: string; port: number }) => Promise<Server> }
  const upstream = await start({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`
  const accepted: SendEmailBody[] = []
  const sesError = (status: number, type: string, message: string): FakeResponse => ({
    status,
    headers: { 'x-amzn-errortype': type, 'x-amzn-requestid': crypto.randomUUID() },
    body: { message },
  })
  const fake = await startHttpFake(async (req) => {
    const credential = /Credential=([^/]+)\//.exec(header(req, 'authorization') ?? '')
    if (credential?.[1] !== accessKeyId) {
      return sesError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
    }
    if (req.method === 'GET' && req.path === '/v2/email/account') {
      // The stand-in answers GetAccount itself (aws-ses-v2-local needs an env variable for it).
      return {
        status: 200,
        body: {
          DedicatedIpAutoWarmupEnabled: false,
          EnforcementStatus: 'HEALTHY',
          ProductionAccessEnabled: true,
          SendingEnabled: true,
          SendQuota: { Max24HourSend: 50_000, MaxSendRate: 14, SentLast24Hours: accepted.length },
          SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
        },
      }
    }
    const forwarded = await fetch(`${base}${req.path}${req.query.size ? `?${req.query}` : ''}`, {
      method: req.method,
      headers: Object.fromEntries(
        Object.entries(req.headers).filter(
          (e): e is [string, string] => typeof e[1] === 'string' && e[0] !== 'host' && e[0] !== 'content-length',
        ),
      ),
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: new Uint8Array(req.body) }),
    })
    const text = await forwarded.text()
    if (forwarded.ok && req.path === '/v2/email/outbound-emails') accepted.push(jsonBody(req) as SendEmailBody)
    return {
      status: forwarded.status,
      body: text,
      headers: { 'content-type': forwarded.headers.get('content-type') ?? 'application/json' },
    }
  })
  return {
    ...fake,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local-secret' },
    sesError,
    async received() {
      return Promise.all(
        accepted.map(async (b) => {
          const d = b.Destination ?? {}
          const envelope = [...(d.ToAddresses ?? []), ...(d.CcAddresses ?? []), ...(d.BccAddresses ?? [])].map(
            (a) => /<([^>]+)>/.exec(a)?.[1] ?? a,
          )
          const mail = await parseRawMail(Buffer.from(b.Content?.Raw?.Data ?? '', 'base64'), envelope)
          const tags = b.EmailTags ?? []
          return {
            ...mail,
            tags: tags.filter((t) => t.Value === 'true').map((t) => t.Name),
            metadata: Object.fromEntries(tags.filter((t) => t.Value !== 'true').map((t) => [t.Name, t.Value])),
          }
        }),
      )
    },
    clear() {
      fake.clear()
      accepted.length = 0
    },
    async stop() {
      await fake.stop()
      ;(upstream as unknown as { closeAllConnections(): void }).closeAllConnections()
      await new Promise<void>((resolve) => upstream.close(() => resolve()))
    },
  }
}
