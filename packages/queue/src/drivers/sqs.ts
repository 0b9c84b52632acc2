import type * as clientSqs from '@aws-sdk/client-sqs'
import type { Message, SQSClient } from '@aws-sdk/client-sqs'
import { importPeer } from '@beaver-kit/core'
import {
  defineQueueDriver,
  type Delivery,
  type DriverMessage,
  type Failure,
  type FetchOptions,
  type QueueCapabilities,
  type QueueCounts,
  type QueueDriver,
  type QueueDriverContext,
  type RenewResult,
  type StoredMessage,
} from '../driver.ts'
import { QueueError } from '../errors.ts'
import {
  DEAD_LOOKUP_LIMIT,
  ENVELOPE_HEADER,
  brokerCapabilities,
  decodeEnvelope,
  encodeEnvelope,
  envelopeOf,
  envelopeOfDelivery,
  foreignEnvelope,
  toActiveMessage,
  toBrokerDelivery,
  type BrokerEnvelope,
} from './broker-message.ts'
import { BATCH, changeVisibility, deleteBatch, sendBatch } from './sqs-batch.ts'
import { scanDeadLetters } from './sqs-dead.ts'
import { sqsError } from './sqs-errors.ts'
import { fifoFields, type FifoSend } from './sqs-fifo.ts'
import { SnsFanOut } from './sqs-fan-out.ts'
import { allowTopicToSend, awsName, createQueuePair } from './sqs-topology.ts'

import type { SqsQueueOptions } from './sqs-options.ts'

export type { SqsQueueOptions } from './sqs-options.ts'

type Sqs = typeof clientSqs

interface Held {
  queue: string
  receipt: string
  envelope: BrokerEnvelope
  body: string
  attempt: number
}

const MAX_DELAY_S = 900

class SqsQueueDriver implements QueueDriver {
  readonly name = 'sqs'
  readonly capabilities: QueueCapabilities
  readonly #options: SqsQueueOptions
  readonly #ctx: QueueDriverContext
  readonly #prefix: string
  readonly #fifo: boolean
  #sdk: Promise<{ sqs: Sqs; client: SQSClient }> | undefined
  readonly #urls = new Map<string, Promise<{ main: string; dead: string }>>()
  readonly #held = new Map<string, Held>()
  readonly #fanOut: SnsFanOut
  #closed = false

  constructor(options: SqsQueueOptions, ctx: QueueDriverContext) {
    this.#options = options
    this.#ctx = ctx
    this.#prefix = options.prefix ?? 'bq'
    this.#fifo = options.fifo === true
    // SQS refuses DelaySeconds per message on a FIFO queue; retries wait out their backoff invisible instead.
    this.capabilities = Object.freeze({
      ...brokerCapabilities({ extendLease: true, fanOut: true }),
      delay: !this.#fifo,
    })
    this.#fanOut = new SnsFanOut(options, this.#fifo)
  }

  #client(): Promise<{ sqs: Sqs; client: SQSClient }> {
    if (this.#closed) return Promise.reject(new QueueError('QUEUE_CLOSED', 'The sqs queue driver is closed.'))
    this.#sdk ??= (async () => {
      const sqs = await importPeer('@aws-sdk/client-sqs', () => import('@aws-sdk/client-sqs'), 'the sqs queue driver')
      const o = this.#options
      const client =
        o.client ??
        new sqs.SQSClient({
          region: o.region ?? 'us-east-1',
          ...(o.endpoint ? { endpoint: o.endpoint } : {}),
          ...(o.credentials ? { credentials: o.credentials } : {}),
        })
      return { sqs, client }
    })()
    this.#sdk.catch(() => (this.#sdk = undefined))
    return this.#sdk
  }

  /** `ns/emails` → `bq_ns--emails` (see awsName for the names AWS would refuse). */
  #name(queue: string): string {
    return awsName(this.#prefix, queue)
  }

  #queue(queue: string): Promise<{ main: string; dead: string }> {
    let p = this.#urls.get(queue)
    if (!p) {
      p = (async () => {
        const { sqs, client } = await this.#client()
        return createQueuePair(sqs, client, this.#name(queue), this.#fifo, this.#options.maxReceiveCount ?? 1000)
      })()
      this.#urls.set(queue, p)
      p.catch(() => this.#urls.delete(queue))
    }
    return p
  }

  /**
   * Sends in batches of ten; a delay past SQS's 15 minutes is sent again on receipt. `kind`
   * sets a FIFO queue's group and deduplication ids (see fifoFields).
   */
  async #send(
    url: string,
    items: ReadonlyArray<{ envelope: BrokerEnvelope; body: string }>,
    kind: FifoSend = 'copy',
  ): Promise<void> {
    const { sqs, client } = await this.#client()
    const now = this.#ctx.now()
    await sendBatch(
      sqs,
      client,
      url,
      items.map((it) => ({
        MessageBody: it.body,
        ...(this.#fifo
          ? fifoFields(it.envelope, kind)
          : { DelaySeconds: Math.min(MAX_DELAY_S, Math.max(0, Math.ceil((it.envelope.runAt - now) / 1000))) }),
        MessageAttributes: { [ENVELOPE_HEADER]: { DataType: 'String', StringValue: encodeEnvelope(it.envelope) } },
      })),
    )
  }

  async enqueue(messages: readonly DriverMessage[]): Promise<string[]> {
    const byQueue = new Map<string, DriverMessage[]>()
    for (const m of messages) byQueue.set(m.queue, [...(byQueue.get(m.queue) ?? []), m])
    for (const [queue, list] of byQueue) {
      const { main } = await this.#queue(queue)
      await this.#send(
        main,
        list.map((m) => ({ envelope: envelopeOf(m), body: m.payload })),
        'fresh',
      )
    }
    return messages.map((m) => m.id)
  }

  /**
   * Fan-out through SNS: the topic `ns/orders` is the SNS topic `bq_ns--orders`, and the group
   * queue `ns/orders@billing` (an SQS queue with its DLQ, like every other queue) is subscribed to it with
   * raw delivery. SNS has no per-message delay: a delayed message reaches each group at once and
   * that group's consumer sends it back to its queue with the delay (as past SQS's 15 minutes).
   */
  async subscribe(topic: string, queue: string): Promise<void> {
    if (this.#closed) throw new QueueError('QUEUE_CLOSED', 'The sqs queue driver is closed.')
    const [topicArn, urls, { sqs, client }] = await Promise.all([
      this.#fanOut.topicArn(this.#name(topic)),
      this.#queue(queue),
      this.#client(),
    ])
    const queueArn = await allowTopicToSend(sqs, client, urls.main, topicArn)
    await this.#fanOut.subscribe(topicArn, queueArn)
  }

  async publishTopic(topic: string, messages: readonly DriverMessage[]): Promise<string[]> {
    if (this.#closed) throw new QueueError('QUEUE_CLOSED', 'The sqs queue driver is closed.')
    const topicArn = await this.#fanOut.topicArn(this.#name(topic))
    await this.#fanOut.publish(
      topicArn,
      messages.map((m) => ({ envelope: envelopeOf(m), body: m.payload })),
    )
    return messages.map((m) => m.id)
  }

  async fetch(queue: string, options: FetchOptions): Promise<Delivery[]> {
    const { main } = await this.#queue(queue)
    const { sqs, client } = await this.#client()
    const receive = async (max: number, waitMs: number): Promise<Message[]> => {
      const out = await client.send(
        new sqs.ReceiveMessageCommand({
          QueueUrl: main,
          MaxNumberOfMessages: max,
          WaitTimeSeconds: Math.min(20, Math.ceil(waitMs / 1000)),
          VisibilityTimeout: Math.max(1, Math.ceil(options.leaseMs / 1000)),
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
        { abortSignal: options.signal },
      )
      return out.Messages ?? []
    }
    const max = Math.min(BATCH, Math.max(1, options.max))
    let received: Message[]
    try {
      if (this.#fifo) {
        // One message per receive: SQS may hand several of one group to one receive, and the
        // consumer would run them side by side. One in flight locks its group, so each further
        // receive takes the head of another group.
        received = await receive(1, options.waitMs)
        if (received.length > 0 && max > 1) {
          const more = await Promise.all(Array.from({ length: max - 1 }, () => receive(1, 0)))
          received.push(...more.flat())
        }
      } else received = await receive(max, options.waitMs)
    } catch (error) {
      if (options.signal.aborted) return []
      throw sqsError(error, 'receive messages')
    }
    const now = this.#ctx.now()
    const deliveries: Delivery[] = []
    const early: Held[] = []
    for (const m of received) {
      const decoded = decodeEnvelope(m.MessageAttributes?.[ENVELOPE_HEADER]?.StringValue)
      // A topic's copy names the topic: from here on it is this group queue's (retries, DLQ).
      const envelope = decoded ? { ...decoded, queue } : foreignEnvelope(m.MessageId ?? '', queue, now)
      const receives = Number(m.Attributes?.ApproximateReceiveCount ?? 1)
      const held: Held = {
        queue,
        receipt: m.ReceiptHandle as string,
        envelope,
        body: m.Body ?? '',
        attempt: envelope.attempts + receives,
      }
      // Delayed past SQS's 15-minute limit: not due yet, so it goes back for another delay.
      if (!this.#fifo && envelope.runAt > now + 1000) early.push(held)
      else {
        this.#held.set(held.receipt, held)
        deliveries.push(toBrokerDelivery(envelope, held.body, held.attempt, held.receipt))
      }
    }
    if (early.length > 0) {
      await this.#send(
        main,
        early.map((h) => ({ envelope: h.envelope, body: h.body })),
      )
      await this.#delete(
        main,
        early.map((h) => h.receipt),
      )
    }
    return deliveries
  }

  async #delete(url: string, receipts: readonly string[]): Promise<void> {
    const { sqs, client } = await this.#client()
    await deleteBatch(sqs, client, url, receipts)
  }

  async #visibility(url: string, receipts: readonly string[], seconds: number): Promise<void> {
    const { sqs, client } = await this.#client()
    await changeVisibility(sqs, client, url, receipts, seconds)
  }

  async complete(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const receipts = deliveries.filter((d) => this.#held.delete(d.token)).map((d) => d.token)
    if (receipts.length > 0) await this.#delete((await this.#queue(queue)).main, receipts)
  }

  async fail(queue: string, d: Delivery, failure: Failure): Promise<void> {
    if (!this.#held.has(d.token)) return
    const urls = await this.#queue(queue)
    if (failure.kind === 'retry' && this.#fifo) {
      // A copy would go behind the group's later messages: the message itself waits out its
      // backoff invisible, keeping its place (the next receive counts the attempt; the error of
      // this one is not kept, SQS cannot rewrite a message).
      this.#held.delete(d.token)
      await this.#visibility(urls.main, [d.token], (failure.runAt - this.#ctx.now()) / 1000)
      return
    }
    if (failure.kind === 'retry') {
      await this.#send(urls.main, [
        { envelope: { ...envelopeOfDelivery(d, d.attempt, failure.error), runAt: failure.runAt }, body: d.payload },
      ])
    } else if (failure.kind === 'dead') {
      const envelope = {
        ...envelopeOfDelivery(d, d.attempt, failure.error),
        deadReason: failure.reason,
        deadAt: this.#ctx.now(),
      }
      await this.#send(urls.dead, [{ envelope, body: d.payload }], 'dead')
    }
    // Deleted only once the copy is stored: a crash in between redelivers the original.
    if (this.#held.delete(d.token)) await this.#delete(urls.main, [d.token])
  }

  async release(queue: string, deliveries: readonly Delivery[]): Promise<void> {
    const urls = await this.#queue(queue)
    const mine = deliveries.filter((d) => this.#held.has(d.token))
    if (this.#fifo) {
      // Made visible again in its place; SQS counts the receive, so its next attempt counts one more.
      const receipts = mine.filter((d) => this.#held.delete(d.token)).map((d) => d.token)
      await this.#visibility(urls.main, receipts, 0)
      return
    }
    // A visibility reset would count a receive; a copy with the attempt taken back does not.
    await this.#send(
      urls.main,
      mine.map((d) => ({ envelope: envelopeOfDelivery(d, d.attempt - 1, d.lastError), body: d.payload })),
    )
    const receipts = mine.filter((d) => this.#held.delete(d.token)).map((d) => d.token)
    if (receipts.length > 0) await this.#delete(urls.main, receipts)
  }

  async renew(queue: string, deliveries: readonly Delivery[], leaseMs: number): Promise<RenewResult> {
    const lost = deliveries.filter((d) => !this.#held.has(d.token)).map((d) => d.id)
    const live = deliveries.filter((d) => this.#held.has(d.token))
    if (live.length === 0) return { cancelled: [], lost }
    const { sqs, client } = await this.#client()
    const { main } = await this.#queue(queue)
    for (let i = 0; i < live.length; i += BATCH) {
      const chunk = live.slice(i, i + BATCH)
      const out = await client.send(
        new sqs.ChangeMessageVisibilityBatchCommand({
          QueueUrl: main,
          Entries: chunk.map((d, k) => ({
            Id: String(k),
            ReceiptHandle: d.token,
            VisibilityTimeout: Math.min(43_200, Math.max(1, Math.ceil(leaseMs / 1000))),
          })),
        }),
      )
      // A receipt handle SQS no longer accepts: the message became visible and was received again.
      for (const f of out.Failed ?? []) {
        const d = chunk[Number(f.Id)]
        if (d) {
          this.#held.delete(d.token)
          lost.push(d.id)
        }
      }
    }
    return { cancelled: [], lost }
  }

  async cancel(): Promise<'removed' | 'signalled' | 'none'> {
    return 'none'
  }

  async counts(queue: string): Promise<QueueCounts> {
    const { sqs, client } = await this.#client()
    const urls = await this.#queue(queue)
    const attrs = async (url: string): Promise<Record<string, string>> =>
      (
        await client.send(
          new sqs.GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        )
      ).Attributes ?? {}
    const [main, dead] = await Promise.all([attrs(urls.main), attrs(urls.dead)])
    return {
      waiting: Number(main.ApproximateNumberOfMessages ?? 0),
      active: Number(main.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(main.ApproximateNumberOfMessagesDelayed ?? 0),
      completed: 0,
      failed: 0,
      dead: Number(dead.ApproximateNumberOfMessages ?? 0),
    }
  }

  async get(queue: string, id: string): Promise<StoredMessage | undefined> {
    for (const h of this.#held.values()) {
      if (h.queue === queue && h.envelope.id === id) return toActiveMessage(h.envelope, h.body, h.attempt)
    }
    return (await this.listDead(queue, { limit: DEAD_LOOKUP_LIMIT, offset: 0 })).find((m) => m.id === id)
  }

  async progress(): Promise<void> {
    // No per-message record to attach it to (capabilities.history false).
  }

  /** Reads the whole DLQ and settles what `take` takes (see scanDeadLetters). */
  async #scanDead(
    queue: string,
    take: (m: StoredMessage) => boolean,
    onTake?: (m: StoredMessage) => Promise<void>,
  ): Promise<StoredMessage[]> {
    const { sqs, client } = await this.#client()
    const { dead } = await this.#queue(queue)
    return scanDeadLetters(
      {
        receive: async () =>
          (
            await client.send(
              new sqs.ReceiveMessageCommand({
                QueueUrl: dead,
                MaxNumberOfMessages: BATCH,
                VisibilityTimeout: 30,
                WaitTimeSeconds: 0,
                MessageAttributeNames: ['All'],
              }),
            )
          ).Messages ?? [],
        remove: (receipts) => this.#delete(dead, receipts),
        giveBack: (receipts) => this.#visibility(dead, receipts, 0),
      },
      queue,
      this.#ctx.now(),
      take,
      onTake,
    )
  }

  async listDead(queue: string, options: { limit: number; offset: number }): Promise<StoredMessage[]> {
    const all: StoredMessage[] = []
    await this.#scanDead(queue, (m) => {
      all.push(m)
      return false
    })
    all.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))
    return all.slice(options.offset, options.offset + options.limit)
  }

  async replayDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const wanted = ids === 'all' ? undefined : new Set(ids)
    const { main } = await this.#queue(queue)
    const taken = await this.#scanDead(
      queue,
      (m) => !wanted || wanted.has(m.id),
      async (m) => {
        const envelope = { ...envelopeOf({ ...m, dedupeKey: undefined }, 0, m.lastError), runAt: this.#ctx.now() }
        await this.#send(main, [{ envelope, body: m.payload }])
      },
    )
    return taken.length
  }

  async purgeDead(queue: string, ids: readonly string[] | 'all'): Promise<number> {
    const wanted = ids === 'all' ? undefined : new Set(ids)
    return (await this.#scanDead(queue, (m) => !wanted || wanted.has(m.id))).length
  }

  async queues(): Promise<string[]> {
    return [...this.#urls.keys()]
  }

  async ping(): Promise<void> {
    const { sqs, client } = await this.#client()
    await client.send(new sqs.ListQueuesCommand({ MaxResults: 1 })).catch((error: unknown) => {
      throw sqsError(error, 'reach SQS')
    })
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const sdk = await this.#sdk?.catch(() => undefined)
    if (sdk && !this.#options.client) sdk.client.destroy()
    await this.#fanOut.close()
    this.#held.clear()
  }
}

/**
 * Amazon SQS (or a compatible server) on @aws-sdk/client-sqs: long polling, visibility
 * timeout as the lease (renewed by the consumer's heartbeat), a DLQ per queue that is also
 * the queue's redrive target, delays up to 15 minutes per hop, batch send and delete; pub/sub
 * fan-out through an SNS topic per topic, with each group's queue subscribed to it.
 * @example createQueue({ driver: 'sqs', sqs: { region: 'eu-west-1' } })
 */
export const sqsDriver = defineQueueDriver<SqsQueueOptions>({
  name: 'sqs',
  // client-sns is loaded only by publishTopic/subscribe (pub/sub fan-out through SNS).
  peers: ['@aws-sdk/client-sqs', '@aws-sdk/client-sns'],
  section: 'sqs',
  create: (options, ctx) => new SqsQueueDriver(options, ctx),
})
