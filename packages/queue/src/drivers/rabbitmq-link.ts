import { Writable } from 'node:stream'
import type * as amqplib from 'amqplib'
import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib'
import { importPeer } from '@beaver-kit/core'
import { maskUrl } from '@beaver-kit/config'
import type { QueueDriverContext } from '../driver.ts'
import { QueueError } from '../errors.ts'

type Amqp = typeof amqplib

/**
 * One AMQP connection and the channels built on it, recovered on demand. amqplib has no
 * reconnect of its own, and amqp-connection-manager does not recreate a channel the server
 * closed (a 406 on a bad declare, a 404 on a missing queue): here every channel is recreated
 * by the next call that needs it, and whoever holds consumers is told (`onChannelClosed`) so
 * it re-declares them. A connection that closed is reopened by the next call the same way.
 */
export class AmqpLink {
  readonly #url: string
  readonly #ctx: QueueDriverContext
  #amqp: Amqp | undefined
  #conn: Promise<ChannelModel> | undefined
  #publisher: Promise<ConfirmChannel> | undefined
  #admin: Promise<Channel> | undefined
  #lost = false
  #closed = false
  readonly #channelWatchers = new Set<(channel: Channel) => void>()
  /** The open connection's socket, while writes to it are being gathered (see gatherWrites). */
  #socket: Writable | undefined
  #gathering = false
  #framesThisTurn = 0

  constructor(url: string, ctx: QueueDriverContext) {
    this.#url = url
    this.#ctx = ctx
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Called with every channel that closes (server-closed or with its connection). */
  onChannelClosed(watch: (channel: Channel) => void): void {
    this.#channelWatchers.add(watch)
  }

  connection(): Promise<ChannelModel> {
    if (this.#closed) return Promise.reject(new QueueError('QUEUE_CLOSED', 'The rabbitmq queue driver is closed.'))
    this.#conn ??= this.#open()
    return this.#conn
  }

  async #open(): Promise<ChannelModel> {
    try {
      this.#amqp ??= await importPeer('amqplib', () => import('amqplib'), 'the rabbitmq queue driver')
      // noDelay: frames of one turn are gathered already (gatherWrites), so Nagle's algorithm
      // has nothing left to batch, and an ack held for the broker's delayed TCP ack stalled a
      // consumer whose next message was already prefetched (amqplib leaves Nagle on).
      const conn = await this.#amqp.connect(this.#url, {
        clientProperties: { connection_name: 'beaver-kit queue' },
        noDelay: true,
      })
      conn.on('error', () => undefined)
      this.#socket = socketOf(conn)
      conn.on('close', (error: unknown) => {
        this.#socket = undefined
        this.#conn = undefined
        this.#publisher = undefined
        this.#admin = undefined
        if (this.#closed) return
        this.#lost = true
        this.#ctx.onConnection('lost', error)
      })
      if (this.#closed) {
        await conn.close().catch(() => undefined)
        throw new QueueError('QUEUE_CLOSED', 'The rabbitmq queue driver is closed.')
      }
      if (this.#lost) {
        this.#lost = false
        this.#ctx.onConnection('restored')
      }
      return conn
    } catch (error) {
      this.#conn = undefined
      if (error instanceof QueueError) throw error
      throw connectError(error, this.#url)
    }
  }

  /**
   * Gathers the `frames` written in this turn of the event loop into one socket write. amqplib
   * writes each frame (a publish, an ack) with a write call of its own, from an immediate; on
   * loopback each is a system call that also wakes the broker, which at a few thousand
   * messages a second cost more than everything else the client does. The socket is corked
   * now and uncorked at the turn after amqplib's immediate has written (an immediate queued
   * by an immediate runs at the next turn), so nothing waits longer than one turn.
   */
  gatherWrites(frames = 1): void {
    const socket = this.#socket
    if (this.#gathering || !socket) return
    // A lone frame (one publish or one ack in the turn, as at concurrency 1) has nothing to
    // be gathered with: it goes out at once. Corked from the second on, which amqplib still
    // holds in its channel buffers until its immediate.
    if (this.#framesThisTurn === 0) setImmediate(() => (this.#framesThisTurn = 0))
    this.#framesThisTurn += frames
    if (this.#framesThisTurn < 2) return
    this.#gathering = true
    socket.cork()
    setImmediate(() =>
      setImmediate(() => {
        this.#gathering = false
        socket.uncork()
      }),
    )
  }

  /** A channel that tells the watchers when it closes. */
  async channel(): Promise<Channel> {
    const ch = await (await this.connection()).createChannel()
    this.#watch(ch)
    return ch
  }

  async confirmChannel(): Promise<ConfirmChannel> {
    const ch = await (await this.connection()).createConfirmChannel()
    this.#watch(ch)
    return ch
  }

  #watch(ch: Channel): void {
    ch.on('error', () => undefined)
    ch.on('close', () => {
      for (const w of this.#channelWatchers) w(ch)
    })
  }

  /** The confirm channel every publish goes through (publish resolves on the broker's ack). */
  publisher(): Promise<ConfirmChannel> {
    this.#publisher ??= this.#keep(this.confirmChannel(), () => (this.#publisher = undefined))
    return this.#publisher
  }

  /** A channel for declarations and checks; a failed check closes it, the next call opens another. */
  admin(): Promise<Channel> {
    this.#admin ??= this.#keep(this.channel(), () => (this.#admin = undefined))
    return this.#admin
  }

  #keep<C extends Channel>(opening: Promise<C>, forget: () => void): Promise<C> {
    const kept = opening.then((ch) => {
      ch.on('close', forget)
      return ch
    })
    kept.catch(forget)
    return kept
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const conn = await this.#conn?.catch(() => undefined)
    await conn?.close().catch(() => undefined)
  }
}

/**
 * The socket under an amqplib connection (`ChannelModel.connection.stream`, not in its types);
 * undefined if a version lays it out otherwise, and writes then go out one by one as before.
 */
function socketOf(conn: ChannelModel): Writable | undefined {
  const stream = (conn as unknown as { connection?: { stream?: unknown } }).connection?.stream
  return stream instanceof Writable ? stream : undefined
}

function connectError(error: unknown, url: string): QueueError {
  const text = error instanceof Error ? error.message : String(error)
  const auth = /ACCESS[-_]REFUSED|403/i.test(text)
  // A refused virtual host closes the connection in place of connection.open-ok.
  const vhost = /NOT_ALLOWED|vhost|ConnectionOpenOk/i.test(text)
  const hint = auth
    ? 'the broker refused the user name or password in BEAVER_QUEUE_RABBITMQ_URL'
    : vhost
      ? 'the virtual host in BEAVER_QUEUE_RABBITMQ_URL does not exist or the user may not use it'
      : 'check BEAVER_QUEUE_RABBITMQ_URL and that RabbitMQ is running'
  return new QueueError(
    'QUEUE_DRIVER_UNAVAILABLE',
    `Cannot connect to RabbitMQ at ${maskUrl(url)}: ${maskInText(text, url)}; ${hint}.`,
    { cause: error, details: { url: maskUrl(url) } },
  )
}

function maskInText(text: string, url: string): string {
  try {
    const pw = decodeURIComponent(new URL(url).password)
    return pw ? text.split(pw).join('***') : text
  } catch {
    return text
  }
}
