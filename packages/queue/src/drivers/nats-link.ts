import { readFile } from 'node:fs/promises'
import type * as jetstreamPkg from '@nats-io/jetstream'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import type * as transportPkg from '@nats-io/transport-node'
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node'
import { importPeer } from '@beaver-kit/core'
import { maskUrl } from '@beaver-kit/config'
import type { QueueDriverContext } from '../driver.ts'
import { QueueError } from '../errors.ts'
import { ENVELOPE_HEADER, encodeEnvelope, type BrokerEnvelope } from './broker-message.ts'
import type { NatsConnectOptions } from './nats-options.ts'

const PUBLISH_TRIES = 3

export interface NatsHandles {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  jetstream: typeof jetstreamPkg
  /** Makes a header set for a publish. */
  headers: typeof transportPkg.headers
}

const DRAIN_BOUND_MS = 5000

/**
 * One NATS connection with its JetStream client and manager, opened on first use. The client
 * reconnects by itself (forever, every 250 ms to 2 s); its status events become the facade's
 * `lost`/`restored`. A connection that closed for good (bad credentials, close()) is opened
 * again by the next call.
 */
export class NatsLink {
  readonly #options: NatsConnectOptions
  readonly #ctx: QueueDriverContext
  #open: Promise<NatsHandles> | undefined
  #closed = false
  #connected = false

  constructor(options: NatsConnectOptions, ctx: QueueDriverContext) {
    this.#options = options
    this.#ctx = ctx
  }

  get closed(): boolean {
    return this.#closed
  }

  /** False while the client is away from every server (it reconnects by itself). */
  get connected(): boolean {
    return this.#connected
  }

  /** The servers, masked, for messages and describe(). */
  get servers(): string {
    return serverList(this.#options.servers).map(maskUrl).join(', ')
  }

  /**
   * Publishes and resolves once the stream has stored it. A publish whose acknowledgement did
   * not come (a dropped connection) is sent again with the same Nats-Msg-Id, which the stream
   * stores once, so retrying never duplicates. No stream on the subject is QUEUE_NOT_FOUND.
   */
  async publish(subject: string, body: string, envelope: BrokerEnvelope, msgId: string): Promise<void> {
    const { js, headers } = await this.handles()
    const h = headers()
    h.set(ENVELOPE_HEADER, encodeEnvelope(envelope))
    let last: unknown
    for (let attempt = 1; attempt <= PUBLISH_TRIES; attempt++) {
      try {
        await js.publish(subject, body, { msgID: msgId, headers: h, timeout: 5000 })
        return
      } catch (error) {
        last = error
        if ((error as { name?: string }).name === 'JetStreamNotEnabled') {
          throw new QueueError(
            'QUEUE_NOT_FOUND',
            `No JetStream stream takes "${subject}"; the message was not stored.`,
            {
              cause: error,
            },
          )
        }
        // A refusal from the stream (limits, a wrong sequence) does not get better by retrying.
        if ((error as { name?: string }).name === 'JetStreamApiError' || this.#closed) break
      }
    }
    throw new QueueError(
      'QUEUE_DRIVER_UNAVAILABLE',
      `JetStream did not acknowledge a message to "${subject}" (${(last as Error)?.message ?? String(last)}); it may not be stored.`,
      { cause: last },
    )
  }

  handles(): Promise<NatsHandles> {
    if (this.#closed) return Promise.reject(new QueueError('QUEUE_CLOSED', 'The nats queue driver is closed.'))
    this.#open ??= this.#connect()
    this.#open.catch(() => (this.#open = undefined))
    return this.#open
  }

  async #connect(): Promise<NatsHandles> {
    const transport = await importPeer<typeof transportPkg>(
      '@nats-io/transport-node',
      () => import('@nats-io/transport-node'),
      'the nats queue driver',
    )
    const jetstream = await importPeer<typeof jetstreamPkg>(
      '@nats-io/jetstream',
      () => import('@nats-io/jetstream'),
      'the nats queue driver',
    )
    const o = this.#options
    const options: ConnectionOptions = {
      servers: serverList(o.servers),
      name: 'beaver-kit queue',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      reconnectJitter: 250,
      // Publishes made while disconnected wait in the client for the reconnect; their
      // acknowledgement times out if it takes too long, so nothing is lost silently.
      waitOnFirstConnect: false,
      // Without this, every request (a publish awaiting its PubAck, a confirmed ack) builds two
      // Error objects up front for their stack traces, about a third of the client's CPU per
      // message; a failure still names the operation, which the driver's QueueError carries.
      noAsyncTraces: true,
    }
    if (o.user !== undefined || o.password !== undefined) {
      options.user = o.user ?? ''
      options.pass = o.password ?? ''
    }
    if (o.token !== undefined) options.token = o.token
    if (o.credentials !== undefined) {
      let creds: Uint8Array
      try {
        creds = await readFile(o.credentials)
      } catch (error) {
        throw new QueueError(
          'QUEUE_DRIVER_UNAVAILABLE',
          `Cannot read the NATS credentials file BEAVER_QUEUE_NATS_CREDENTIALS ("${o.credentials}"): ${(error as Error).message}.`,
          { cause: error },
        )
      }
      options.authenticator = transport.credsAuthenticator(creds)
    }
    let nc: NatsConnection
    try {
      nc = await transport.connect(options)
    } catch (error) {
      throw connectError(error, this.servers, o)
    }
    if (this.#closed) {
      await nc.close().catch(() => undefined)
      throw new QueueError('QUEUE_CLOSED', 'The nats queue driver is closed.')
    }
    this.#connected = true
    void this.#watch(nc)
    let jsm: JetStreamManager
    try {
      jsm = await jetstream.jetstreamManager(nc)
    } catch (error) {
      await nc.close().catch(() => undefined)
      throw new QueueError(
        'QUEUE_DRIVER_UNAVAILABLE',
        `NATS at ${this.servers} has no JetStream (${(error as Error).message}); start nats-server with -js, or check the account's JetStream limits.`,
        { cause: error },
      )
    }
    return { nc, js: jetstream.jetstream(nc), jsm, jetstream, headers: transport.headers }
  }

  async #watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.#connected = false
        this.#ctx.onConnection('lost', new Error(`disconnected from ${s.server}`))
      } else if (s.type === 'reconnect') {
        this.#connected = true
        this.#ctx.onConnection('restored')
      }
    }
    // The iterator ends when the connection closes; unless close() did it, the next call reopens.
    this.#connected = false
    if (!this.#closed) {
      this.#open = undefined
      this.#ctx.onConnection('lost', new Error('the NATS connection closed'))
    }
  }

  /** Drains: pending publishes and acknowledgements are flushed before the socket closes. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const h = await this.#open?.catch(() => undefined)
    if (!h || h.nc.isClosed()) return
    // A drain cannot finish while the server is unreachable: past the bound, close outright
    // (what was not acknowledged is redelivered after its lease).
    let timer: ReturnType<typeof setTimeout> | undefined
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, DRAIN_BOUND_MS)))
    await Promise.race([h.nc.drain().catch(() => undefined), bound])
    clearTimeout(timer)
    if (!h.nc.isClosed()) await h.nc.close().catch(() => undefined)
  }
}

function serverList(servers: string | readonly string[] | undefined): string[] {
  if (servers === undefined) return ['nats://127.0.0.1:4222']
  const list = typeof servers === 'string' ? servers.split(',') : [...servers]
  return list.map((s) => s.trim()).filter((s) => s !== '')
}

function connectError(error: unknown, servers: string, o: NatsConnectOptions): QueueError {
  let text = error instanceof Error ? error.message : String(error)
  for (const secret of [o.password, o.token]) if (secret) text = text.split(secret).join('***')
  const auth = /authoriz|authentic|user|password|token|creds|permission/i.test(text)
  const setting =
    o.credentials !== undefined
      ? 'BEAVER_QUEUE_NATS_CREDENTIALS'
      : o.token !== undefined
        ? 'BEAVER_QUEUE_NATS_TOKEN'
        : 'BEAVER_QUEUE_NATS_USER and BEAVER_QUEUE_NATS_PASSWORD'
  const hint = auth
    ? `the server refused the credentials: check ${setting}`
    : 'check BEAVER_QUEUE_NATS_SERVERS and that nats-server is running'
  return new QueueError('QUEUE_DRIVER_UNAVAILABLE', `Cannot connect to NATS at ${servers}: ${text}; ${hint}.`, {
    cause: error,
    details: { servers },
  })
}
