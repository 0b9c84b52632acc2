import { defineSchema, f, type SchemaConfig, type SchemaOptions } from '@beaver-kit/config'

const transportList = (doc: string) => f.list({ doc })

/**
 * Every BEAVER_MAIL_* setting: the one source of names, defaults, validation and the README
 * table. A driver reads its own section (`BEAVER_MAIL_SMTP_*` for smtp).
 */
export const mailerSchema = defineSchema(
  'MAIL',
  {
    driver: f.string({
      minLength: 1,
      pattern: /^[a-z][a-z0-9-]*$/,
      doc: 'Transport: smtp, ses, sendgrid, mailgun, postmark, resend, log, file, memory, failover, round-robin, or a registered name. Unset: log outside production; in production send() fails rather than drop mail',
    }),
    from: f.string({ doc: 'Default From address of messages that set none (`Name <addr@host>` or `addr@host`)' }),
    replyTo: f.string({ doc: 'Default Reply-To of messages that set none' }),
    concurrency: f.int({ default: 5, min: 1, max: 1000, doc: 'Messages sendBatch() sends at once' }),
    maxMessageSize: f.bytes({ default: '25mb', doc: 'Largest message accepted (bodies plus attachments)' }),
    maxRecipients: f.int({ default: 1000, min: 1, doc: 'Most recipients (to + cc + bcc) one message may have' }),
    retry: {
      attempts: f.int({
        default: 3,
        min: 1,
        max: 20,
        doc: 'Attempts per message for temporary failures (421/454 replies, throttling, lost connections), the first included',
      }),
      baseDelay: f.duration({ default: '1s', doc: 'Backoff before the first retry (exponential, full jitter)' }),
      maxDelay: f.duration({ default: '30s', doc: 'Cap of one backoff delay' }),
    },
    rateLimit: {
      perSecond: f.number({ min: 0, doc: 'Messages per second across every connection (unset: no limit)' }),
      burst: f.int({ min: 1, doc: 'Messages that may go at once after a quiet spell (default: one second worth)' }),
      redisUrl: f.url({
        protocols: ['redis', 'rediss'],
        doc: 'Share the rate across processes through this Redis (needs ioredis)',
      }),
      key: f.string({ default: 'beaver:mail:rate', doc: 'Redis key of the shared bucket (one per sending account)' }),
    },
    smtp: {
      url: f.url({
        protocols: ['smtp', 'smtps'],
        secret: true,
        doc: 'smtp://user:pass@host:587 (STARTTLS when offered) or smtps://host:465 (TLS); fields below override it',
      }),
      host: f.string({ doc: 'SMTP server host (default from the URL, else 127.0.0.1)' }),
      port: f.int({ min: 1, max: 65_535, doc: 'SMTP port (default from the URL, else 587, 465 for tls)' }),
      security: f.enum({
        values: ['starttls', 'tls', 'none'],
        doc: 'starttls: upgrade and require it; tls: TLS from the first byte; none: plain (local relays only). Default from the URL',
      }),
      user: f.string({ doc: 'SMTP user name' }),
      password: f.string({ secret: true, doc: 'SMTP password' }),
      pool: f.boolean({ default: true, doc: 'Keep connections open and reuse them' }),
      maxConnections: f.int({ default: 5, min: 1, max: 100, doc: 'Pooled connections at most' }),
      maxMessages: f.int({ default: 100, min: 1, doc: 'Messages per pooled connection before it is renewed' }),
      connectionTimeout: f.duration({ default: '10s', doc: 'Time to connect' }),
      greetingTimeout: f.duration({ default: '10s', doc: 'Time to wait for the server greeting' }),
      socketTimeout: f.duration({ default: '60s', doc: 'Longest silence on an open connection' }),
      rejectUnauthorized: f.boolean({
        default: true,
        doc: 'Verify the server certificate (false only for a local server with a self-signed one)',
      }),
      dkim: {
        domain: f.string({ doc: 'DKIM signing domain (d=); signing is on when domain, selector and key are set' }),
        selector: f.string({ doc: 'DKIM selector (s=)' }),
        privateKey: f.string({
          secret: true,
          doc: 'DKIM private key, PEM (use BEAVER_MAIL_SMTP_DKIM_PRIVATE_KEY_FILE)',
        }),
      },
    },
    ses: {
      region: f.string({ doc: 'AWS region (default from AWS_REGION)' }),
      endpoint: f.url({ protocols: ['http', 'https'], doc: 'Endpoint override (aws-ses-v2-local, a VPC endpoint)' }),
      accessKeyId: f.string({ doc: 'Access key id (default: the AWS SDK credential chain)' }),
      secretAccessKey: f.string({ secret: true, doc: 'Secret access key' }),
      configurationSet: f.string({ doc: 'Configuration set (event publishing to SNS for delivery events)' }),
    },
    sendgrid: {
      apiKey: f.string({ secret: true, doc: 'SendGrid API key' }),
      baseUrl: f.url({ protocols: ['http', 'https'], default: 'https://api.sendgrid.com', doc: 'API base URL' }),
      sandbox: f.boolean({ default: false, doc: 'Sandbox mode: validated, never delivered' }),
      ipPool: f.string({ doc: 'IP pool name' }),
    },
    mailgun: {
      apiKey: f.string({ secret: true, doc: 'Mailgun API key' }),
      domain: f.string({ doc: 'Sending domain' }),
      region: f.enum({ values: ['us', 'eu'], default: 'us', doc: 'us: api.mailgun.net; eu: api.eu.mailgun.net' }),
      baseUrl: f.url({ protocols: ['http', 'https'], doc: 'API base URL (overrides region)' }),
    },
    postmark: {
      serverToken: f.string({ secret: true, doc: 'Postmark server token' }),
      messageStream: f.string({ default: 'outbound', doc: 'Message stream' }),
      baseUrl: f.url({ protocols: ['http', 'https'], default: 'https://api.postmarkapp.com', doc: 'API base URL' }),
    },
    resend: {
      apiKey: f.string({ secret: true, doc: 'Resend API key' }),
      baseUrl: f.url({ protocols: ['http', 'https'], default: 'https://api.resend.com', doc: 'API base URL' }),
    },
    file: {
      dir: f.string({ default: 'mail', doc: 'Folder the file transport writes .eml files to' }),
    },
    log: {
      body: f.boolean({ default: true, doc: 'Print the text body (links in dev mail) as well as the envelope' }),
    },
    failover: {
      transports: transportList('Transports in order for the failover driver: the next one is used when one fails'),
    },
    roundRobin: {
      transports: transportList('Transports the round-robin driver rotates through (failing over on errors)'),
    },
    breaker: {
      failures: f.int({
        default: 3,
        min: 0,
        doc: 'Consecutive failures after which failover/round-robin try a transport last; 0 never',
      }),
      cooldown: f.duration({ default: '30s', doc: 'How long a failing transport stays last in line' }),
    },
    templates: {
      dir: f.string({
        doc: 'Folder of templates: <name>.html.hbs, <name>.text.hbs, <name>.subject.hbs, layouts/, partials/',
      }),
      strict: f.boolean({
        default: true,
        doc: 'A variable missing from the data fails the render (MAIL_TEMPLATE_RENDER)',
      }),
      layout: f.string({ doc: 'Layout every HTML template is wrapped in unless it names its own' }),
      version: f.string({
        default: '1',
        doc: 'Version in template cache keys: bump it to invalidate cached templates everywhere',
      }),
      cacheTtl: f.duration({
        default: '1h',
        doc: 'How long template sources stay in the template cache (when one is given)',
      }),
    },
    webhooks: {
      sesTopicArns: f.list({
        doc: 'SNS topics whose SES events are accepted (AWS advises refusing other topics); empty accepts any verified topic',
      }),
      sesConfirmSubscriptions: f.boolean({
        default: true,
        doc: 'Confirm an SNS subscription (GET its SubscribeURL) when its signed confirmation arrives',
      }),
      sendgridPublicKey: f.string({ doc: 'SendGrid signed event webhook verification key (base64 or PEM)' }),
      mailgunSigningKey: f.string({ secret: true, doc: 'Mailgun HTTP webhook signing key' }),
      postmarkUser: f.string({ doc: 'User of the Basic auth in the Postmark webhook URL (Postmark signs nothing)' }),
      postmarkPassword: f.string({ secret: true, doc: 'Password of the Basic auth in the Postmark webhook URL' }),
      resendSecret: f.string({ secret: true, doc: 'Resend webhook signing secret (whsec_…, Svix)' }),
      tolerance: f.duration({
        default: '5m',
        doc: 'How far a signed timestamp may be from now (older deliveries are replays)',
      }),
      maxBody: f.bytes({ default: '1mb', doc: 'Largest webhook body read' }),
    },
    queue: {
      name: f.string({
        default: 'beaver-mail',
        pattern: /^[A-Za-z0-9_.:-]{1,100}$/,
        doc: 'Queue that sendLater() publishes to and the mail worker consumes',
      }),
    },
    suppression: {
      enabled: f.boolean({
        default: true,
        doc: 'send() skips suppressed recipients, and hard bounces and complaints are added from delivery events',
      }),
    },
  },
  'mail',
)

export type MailerSettings = SchemaOptions<typeof mailerSchema>
export type MailConfig = SchemaConfig<typeof mailerSchema>
