import { defineSchema, f, type SchemaOptions } from '@beaver-kit/config'

const NAME = /^[A-Za-z0-9_-]{1,64}$/

/** Every BEAVER_QUEUE_* setting: the one source of names, defaults, validation and the README table. */
export const queueSchema = defineSchema(
  'QUEUE',
  {
    driver: f.string({
      default: 'sqlite',
      minLength: 1,
      doc: 'Where messages live: memory, sqlite, postgres, mysql, redis, rabbitmq, sqs, nats, kafka, or a registered driver',
    }),
    namespace: f.string({
      default: 'default',
      pattern: NAME,
      doc: 'Scope of every queue name (letters, digits, _ and -): two namespaces never see each other',
    }),
    concurrency: f.int({ default: 10, min: 1, max: 10_000, doc: 'Handlers a consumer runs at once' }),
    propagateTrace: f.boolean({
      default: true,
      doc: 'Put the active OpenTelemetry span’s W3C traceparent in the headers of published messages',
    }),
    attempts: f.int({ default: 3, min: 1, max: 1000, doc: 'Deliveries before a failing message goes to the DLQ' }),
    backoff: {
      base: f.duration({ default: '1s', doc: 'Delay before the first retry (exponential, full jitter)' }),
      max: f.duration({ default: '5m', doc: 'Longest delay between two retries' }),
    },
    leaseTime: f.duration({
      default: '30s',
      doc: 'How long a delivered message stays invisible; a crashed worker’s message is redelivered after it',
    }),
    pollInterval: f.duration({
      default: '1s',
      doc: 'How often an idle consumer looks for work where the backend cannot push (SQLite, MariaDB)',
    }),
    drainTimeout: f.duration({
      default: '10s',
      doc: 'How long close() lets running handlers finish before it aborts them and releases their messages',
    }),
    maxPayloadSize: f.bytes({ default: '1mb', doc: 'Largest serialized payload publish() accepts' }),
    maxWaiting: f.int({
      default: 0,
      min: 0,
      doc: 'Refuse publish with QUEUE_FULL past this many waiting messages (0: no limit)',
    }),
    keepCompleted: f.duration({ default: '1h', doc: 'How long completed messages stay visible (stats, dashboard)' }),
    keepCompletedMax: f.int({
      default: 10_000,
      min: 0,
      doc: 'Most completed messages a queue keeps (the oldest go first), whatever their age',
    }),
    keepDead: f.duration({ default: '14d', doc: 'How long dead-lettered messages are kept for inspection and replay' }),
    db: {
      url: f.url({
        protocols: ['postgres', 'postgresql', 'mysql', 'mariadb', 'sqlite', 'file'],
        doc: 'Database of the sqlite/postgres/mysql drivers (default: the default db() of @beaver-kit/database)',
      }),
      table: f.string({
        default: 'beaver_queue',
        pattern: /^[a-z_][a-z0-9_]{0,40}$/,
        doc: 'Prefix of the queue’s tables (<table>_jobs, <table>_migrations)',
      }),
    },
    redis: {
      url: f.url({ protocols: ['redis', 'rediss'], default: 'redis://127.0.0.1:6379', doc: 'Redis URL' }),
      password: f.string({ secret: true, doc: 'Redis password (overrides the URL)' }),
      prefix: f.string({ default: 'bq', pattern: NAME, doc: 'First segment of every Redis key' }),
      cluster: f.boolean({ default: false, doc: 'Connect to a Redis Cluster seeded by the URL' }),
    },
    rabbitmq: {
      url: f.url({
        protocols: ['amqp', 'amqps'],
        default: 'amqp://guest:guest@127.0.0.1:5672',
        doc: 'RabbitMQ URL with user, password and virtual host (amqp://user:pw@host:5672/vhost)',
      }),
      queueType: f.enum({
        values: ['quorum', 'classic'],
        default: 'quorum',
        doc: 'Type of the queues the driver declares: quorum (replicated, poison-message safe) or classic',
      }),
      prefix: f.string({ default: 'bq', pattern: NAME, doc: 'First segment of every RabbitMQ queue name' }),
      prefetch: f.int({
        default: 0,
        min: 0,
        max: 65_535,
        doc: 'Unacknowledged messages per consumer (0: the consumer’s concurrency plus one)',
      }),
      expires: f.duration({
        default: '0',
        doc: 'Delete a queue (and its DLQ) unused for this long, for short-lived namespaces; 0 keeps it',
      }),
    },
    sqs: {
      endpoint: f.url({
        protocols: ['http', 'https'],
        doc: 'SQS-compatible endpoint (a local server); unset: AWS for the region (credentials from the AWS environment)',
      }),
      region: f.string({ default: 'us-east-1', doc: 'AWS region of the queues' }),
      prefix: f.string({ default: 'bq', pattern: NAME, doc: 'First segment of every SQS queue name' }),
      maxReceiveCount: f.int({
        default: 1000,
        min: 1,
        max: 1000,
        doc: 'Receives before SQS itself moves a message to the DLQ (redrive policy), a backstop behind attempts',
      }),
      fifo: f.boolean({
        default: false,
        doc: 'FIFO queues (<name>.fifo): the messages of one group run one at a time in publish order; no delays',
      }),
    },
    nats: {
      servers: f.list({
        default: ['nats://127.0.0.1:4222'],
        doc: 'NATS servers to connect to (comma-separated nats://host:port); the client reconnects and fails over between them',
      }),
      user: f.string({ doc: 'User name for user/password authentication' }),
      password: f.string({ secret: true, doc: 'Password for user/password authentication' }),
      token: f.string({ secret: true, doc: 'Token for token authentication' }),
      credentials: f.string({
        secret: true,
        doc: 'Path to a .creds file (JWT and NKey seed) for decentralised authentication; masked like a secret, since the path often names the account',
      }),
      prefix: f.string({ default: 'bq', pattern: NAME, doc: 'First segment of every stream and subject name' }),
      storage: f.enum({
        values: ['file', 'memory'],
        default: 'file',
        doc: 'Storage of the streams the driver creates: file (survives a server restart) or memory',
      }),
      replicas: f.int({
        default: 1,
        min: 1,
        max: 5,
        doc: 'Replicas of each stream the driver creates (a clustered JetStream)',
      }),
      maxDeliver: f.int({
        default: 1000,
        min: 1,
        max: 100_000,
        doc: 'Deliveries of one copy before JetStream stops and the driver moves it to the DLQ, a backstop behind attempts',
      }),
      duplicateWindow: f.duration({
        default: '2m',
        doc: 'How long a stream remembers message ids (Nats-Msg-Id): a publish with a known id inside it is stored once',
      }),
    },
    kafka: {
      brokers: f.list({
        default: ['127.0.0.1:9092'],
        doc: 'Bootstrap brokers of the kafka driver (comma-separated host:port); the client learns the rest of the cluster from them',
      }),
      clientId: f.string({ default: 'beaver-queue', doc: 'Client id the brokers see in their logs and quotas' }),
      user: f.string({ doc: 'SASL user name; SASL authentication is on when it is set' }),
      password: f.string({ secret: true, doc: 'SASL password' }),
      saslMechanism: f.enum({
        values: ['plain', 'scram-sha-256', 'scram-sha-512'],
        default: 'plain',
        doc: 'SASL mechanism (use TLS with plain)',
      }),
      tls: f.boolean({ default: false, doc: 'Connect to the brokers with TLS (system CAs)' }),
      compression: f.enum({
        values: ['none', 'gzip'],
        default: 'none',
        doc: 'Compression of produced batches (kafkajs ships gzip; snappy, lz4 and zstd need codec packages)',
      }),
      prefix: f.string({ default: 'bq', pattern: NAME, doc: 'First segment of every topic and consumer group name' }),
      partitions: f.int({
        default: 3,
        min: 1,
        max: 1000,
        doc: 'Partitions of each topic the driver creates: the most consumers of one queue that share its work',
      }),
      replicationFactor: f.int({
        default: 1,
        min: 1,
        max: 7,
        doc: 'Replicas of each topic the driver creates (3 on a production cluster)',
      }),
    },
  },
  'queue',
)

export type QueueSettings = SchemaOptions<typeof queueSchema>
