// The nats driver's options, apart from the code that loads the client, so that the published
// types of `@beaver-kit/queue/nats` name no type of the optional @nats-io packages.

/** How the nats driver connects (`BEAVER_QUEUE_NATS_*`). */
export interface NatsConnectOptions {
  /** Servers (`nats://host:4222`); the client fails over between them. Default the local server. */
  servers?: string | readonly string[] | undefined
  user?: string | undefined
  password?: string | undefined
  token?: string | undefined
  /** Path to a `.creds` file (JWT + NKey seed). */
  credentials?: string | undefined
}

/** Options of the nats driver (`BEAVER_QUEUE_NATS_*`). */
export interface NatsQueueOptions extends NatsConnectOptions {
  /** First segment of every stream and subject name. Default `bq`. */
  prefix?: string | undefined
  /** Storage of the streams the driver creates. Default `file`. */
  storage?: 'file' | 'memory' | undefined
  /** Replicas of each stream (a clustered JetStream). Default 1. */
  replicas?: number | undefined
  /** Deliveries of one copy before JetStream stops delivering it (then the driver dead-letters it). Default 1000. */
  maxDeliver?: number | undefined
  /** How long a stream remembers message ids (ms). Default 2 minutes. */
  duplicateWindow?: number | undefined
}
