import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

/**
 * Every BEAVER_SMS_* setting: the one source of names, defaults, validation and the README
 * table. A driver reads its own section (`BEAVER_SMS_TWILIO_*` for twilio).
 */
export const smsSchema = defineSchema(
  'SMS',
  {
    driver: f.string({
      minLength: 1,
      pattern: /^[a-z][a-z0-9-]*$/,
      doc: 'Driver: twilio, sns, vonage, log, memory, failover, round-robin, or a registered name. Unset: log outside production; in production send() fails rather than drop messages',
    }),
    from: f.string({
      doc: 'Default sender: an E.164 number (+15550100) or an alphanumeric sender id where the country allows one',
    }),
    concurrency: f.int({ default: 5, min: 1, max: 1000, doc: 'Messages sendBatch() sends at once' }),
    maxLength: f.int({
      default: 1600,
      min: 1,
      max: 10_000,
      doc: 'Longest body accepted, in characters (Twilio and SNS stop at 1600)',
    }),
    retry: {
      attempts: f.int({
        default: 3,
        min: 1,
        max: 20,
        doc: 'Attempts per message for temporary failures (throttling, 5xx, lost connections)',
      }),
      baseDelay: f.duration({ default: '1s', doc: 'Backoff before the first retry (exponential, full jitter)' }),
      maxDelay: f.duration({ default: '30s', doc: 'Cap of one backoff delay' }),
    },
    twilio: {
      accountSid: f.string({ doc: 'Twilio Account SID (AC…)' }),
      authToken: f.string({
        secret: true,
        doc: 'Twilio auth token: authenticates sends and verifies X-Twilio-Signature on webhooks',
      }),
      messagingServiceSid: f.string({ doc: 'Messaging Service SID (MG…) to send from instead of a number' }),
      statusCallback: f.url({
        protocols: ['http', 'https'],
        doc: 'URL Twilio posts delivery status to (your sms webhook)',
      }),
      baseUrl: f.url({ protocols: ['http', 'https'], default: 'https://api.twilio.com', doc: 'API base URL' }),
    },
    sns: {
      region: f.string({ doc: 'AWS region (default from AWS_REGION)' }),
      endpoint: f.url({ protocols: ['http', 'https'], doc: 'Endpoint override' }),
      accessKeyId: f.string({ doc: 'Access key id (default: the AWS SDK credential chain)' }),
      secretAccessKey: f.string({ secret: true, doc: 'Secret access key' }),
      smsType: f.enum({
        values: ['Transactional', 'Promotional'],
        default: 'Transactional',
        doc: 'AWS.SNS.SMS.SMSType of each message',
      }),
      senderId: f.string({ doc: 'AWS.SNS.SMS.SenderID where the country supports one' }),
    },
    vonage: {
      apiKey: f.string({ secret: true, doc: 'Vonage API key' }),
      apiSecret: f.string({ secret: true, doc: 'Vonage API secret' }),
      signatureSecret: f.string({
        secret: true,
        doc: 'Signature secret that signs inbound messages and delivery receipts (sig)',
      }),
      signatureMethod: f.enum({
        values: ['md5hash', 'md5', 'sha1', 'sha256', 'sha512'],
        default: 'md5hash',
        doc: 'The signing method chosen in the Vonage dashboard',
      }),
      baseUrl: f.url({ protocols: ['http', 'https'], default: 'https://rest.nexmo.com', doc: 'SMS API base URL' }),
    },
    failover: {
      drivers: f.list({ doc: 'Drivers in order for the failover driver: the next one is used when one fails' }),
    },
    roundRobin: {
      drivers: f.list({ doc: 'Drivers the round-robin driver rotates through (failing over on errors)' }),
    },
    breaker: {
      failures: f.int({
        default: 3,
        min: 0,
        doc: 'Consecutive failures after which failover/round-robin try a driver last; 0 never',
      }),
      cooldown: f.duration({ default: '30s', doc: 'How long a failing driver stays last in line' }),
    },
    inbound: {
      helpText: f.string({
        default: 'Reply STOP to unsubscribe, START to resubscribe. Msg&data rates may apply.',
        doc: 'Reply to HELP/INFO',
      }),
      stopText: f.string({
        default: 'You are unsubscribed and will get no more messages. Reply START to resubscribe.',
        doc: 'Reply to STOP and the other opt-out words',
      }),
      startText: f.string({
        default: 'You are resubscribed. Reply STOP to unsubscribe.',
        doc: 'Reply to START/YES/UNSTOP',
      }),
      replies: f.boolean({
        default: true,
        doc: 'Answer STOP/START/HELP (TwiML for Twilio, a message through the driver for the others)',
      }),
    },
    webhooks: {
      publicUrl: f.url({
        protocols: ['http', 'https'],
        doc: 'The public base URL providers call (Twilio signs the full URL; set it behind a proxy)',
      }),
      snsTopicArns: f.list({ doc: 'SNS topics whose inbound SMS are accepted; empty accepts any verified topic' }),
      tolerance: f.duration({ default: '5m', doc: 'How far a signed timestamp may be from now' }),
      maxBody: f.bytes({ default: '64kb', doc: 'Largest webhook body read' }),
    },
    queue: {
      name: f.string({
        default: 'beaver-sms',
        pattern: /^[A-Za-z0-9_.:-]{1,100}$/,
        doc: 'Queue that sendLater() publishes to and the SMS worker consumes',
      }),
    },
    suppression: {
      enabled: f.boolean({
        default: true,
        doc: 'send() refuses numbers that opted out (STOP), and opt-outs are recorded from inbound messages',
      }),
    },
  },
  'sms',
)

/** The Slack incoming-webhook notifier (BEAVER_SLACK_*), a short-message channel beside SMS. */
export const slackSchema = defineSchema(
  'SLACK',
  {
    webhookUrl: f.url({
      protocols: ['https', 'http'],
      secret: true,
      doc: 'Incoming webhook URL (https://hooks.slack.com/services/…): a secret',
    }),
    perSecond: f.number({
      default: 1,
      min: 0.01,
      doc: 'Messages per second (Slack allows about one per second per webhook)',
    }),
    burst: f.int({ default: 3, min: 1, doc: 'Messages that may go at once after a quiet spell' }),
    attempts: f.int({ default: 4, min: 1, max: 20, doc: 'Attempts per message for 429 (after Retry-After) and 5xx' }),
    maxTextLength: f.int({ default: 40_000, min: 1, doc: 'Longest text accepted' }),
  },
  'slack',
)

export type SmsSettings = SchemaOptions<typeof smsSchema>
export type SmsConfig = SchemaConfig<typeof smsSchema>
export type SlackSettings = SchemaOptions<typeof slackSchema>
