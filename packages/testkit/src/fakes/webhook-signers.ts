// Signed webhook requests as each provider sends them, for the mail and SMS webhook tests:
// Amazon SNS (an RSA certificate served over HTTP like SigningCertURL, SignatureVersion 1 or 2
// over the documented canonical string, and a SubscribeURL that records confirmations),
// SendGrid (ECDSA P-256 over timestamp + body), Mailgun (HMAC-SHA256 of timestamp + token),
// Svix (Resend: HMAC-SHA256 of id.timestamp.body with the whsec_ key), Twilio (HMAC-SHA1 of
// the URL plus the sorted form parameters).
import { createHmac, createSign, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { selfSignedCertificate } from '../smtp-sink.ts'
import { startHttpFake, type HttpFake } from './http-fake.ts'

export interface SignedRequest {
  headers: Record<string, string>
  body: Buffer
}

export interface SnsPublisher extends HttpFake {
  readonly certificateUrl: string
  /** Trusts this stand-in's certificate URL (pass as trustCertificateUrl). */
  trust(url: URL): boolean
  /** A signed SNS Notification carrying `message` (JSON-encoded when not a string). */
  notification(
    topicArn: string,
    message: unknown,
    options?: { version?: '1' | '2'; timestamp?: Date; subject?: string },
  ): SignedRequest
  /** A signed SubscriptionConfirmation whose SubscribeURL points at this stand-in. */
  subscription(topicArn: string): SignedRequest
  /** SubscribeURLs that were called. */
  readonly confirmations: string[]
}

function snsCanonical(m: Record<string, string>): string {
  const keys =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type']
  return keys
    .filter((k) => m[k] !== undefined)
    .map((k) => `${k}\n${m[k]}\n`)
    .join('')
}

export async function startSnsPublisher(): Promise<SnsPublisher> {
  const { key, cert } = await selfSignedCertificate()
  const confirmations: string[] = []
  const fake = await startHttpFake((req) => {
    if (req.path === '/SimpleNotificationService-test.pem') return { status: 200, body: cert }
    if (req.path === '/confirm') {
      confirmations.push(req.query.get('Token') ?? '')
      return { status: 200, body: '<ConfirmSubscriptionResponse/>' }
    }
    return { status: 404, body: 'not found' }
  })
  const certificateUrl = `${fake.url}/SimpleNotificationService-test.pem`
  const sign = (m: Record<string, string>, version: '1' | '2'): SignedRequest => {
    const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256')
    signer.update(snsCanonical(m))
    const body = {
      ...m,
      SignatureVersion: version,
      Signature: signer.sign(key, 'base64'),
      SigningCertURL: certificateUrl,
    }
    return {
      headers: { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': m.Type as string },
      body: Buffer.from(JSON.stringify(body)),
    }
  }
  return {
    ...fake,
    certificateUrl,
    confirmations,
    trust: (url) => url.origin === fake.url,
    notification(topicArn, message, options = {}) {
      return sign(
        {
          Type: 'Notification',
          MessageId: randomUUID(),
          TopicArn: topicArn,
          ...(options.subject ? { Subject: options.subject } : {}),
          Message: typeof message === 'string' ? message : JSON.stringify(message),
          Timestamp: (options.timestamp ?? new Date()).toISOString(),
        },
        options.version ?? '2',
      )
    },
    subscription(topicArn) {
      const token = randomBytes(16).toString('hex')
      return sign(
        {
          Type: 'SubscriptionConfirmation',
          MessageId: randomUUID(),
          Token: token,
          TopicArn: topicArn,
          Message: `You have chosen to subscribe to the topic ${topicArn}.`,
          SubscribeURL: `${fake.url}/confirm?Action=ConfirmSubscription&TopicArn=${encodeURIComponent(topicArn)}&Token=${token}`,
          Timestamp: new Date().toISOString(),
        },
        '2',
      )
    },
  }
}

/** A SendGrid signing key pair: `publicKey` is what the SendGrid UI shows (base64 SPKI). */
export function sendgridKeys(): { publicKey: string; sign(body: string | Buffer, timestamp?: number): SignedRequest } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    sign(body, timestamp = Math.floor(Date.now() / 1000)) {
      const signer = createSign('sha256')
      signer.update(String(timestamp))
      signer.update(body)
      return {
        headers: {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': signer.sign(privateKey, 'base64'),
          'x-twilio-email-event-webhook-timestamp': String(timestamp),
        },
        body: Buffer.from(body),
      }
    },
  }
}

/** A Mailgun webhook body: `event-data` with the signature block Mailgun adds. */
export function mailgunSigned(
  signingKey: string,
  eventData: unknown,
  timestamp = Math.floor(Date.now() / 1000),
): SignedRequest {
  const token = randomBytes(25).toString('hex')
  const signature = createHmac('sha256', signingKey).update(`${timestamp}${token}`).digest('hex')
  return {
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(
      JSON.stringify({ signature: { timestamp: String(timestamp), token, signature }, 'event-data': eventData }),
    ),
  }
}

/** A Svix-signed request (Resend), with a fresh `whsec_` secret from `svixSecret()`. */
export function svixSigned(secret: string, body: unknown, timestamp = Math.floor(Date.now() / 1000)): SignedRequest {
  const id = `msg_${randomBytes(12).toString('hex')}`
  const text = JSON.stringify(body)
  const signature = createHmac('sha256', Buffer.from(secret.replace(/^whsec_/, ''), 'base64'))
    .update(`${id}.${timestamp}.${text}`)
    .digest('base64')
  return {
    headers: {
      'content-type': 'application/json',
      'svix-id': id,
      'svix-timestamp': String(timestamp),
      'svix-signature': `v1,${signature}`,
    },
    body: Buffer.from(text),
  }
}

export const svixSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`

/** Twilio's X-Twilio-Signature: HMAC-SHA1 of the full URL followed by each form parameter name and value, sorted by name. */
export function twilioSignature(authToken: string, url: string, params: Readonly<Record<string, string>>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, k) => acc + k + params[k], url)
  return createHmac('sha1', authToken).update(data).digest('base64')
}
