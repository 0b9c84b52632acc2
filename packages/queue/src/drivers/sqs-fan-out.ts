// Pub/sub fan-out of the sqs driver through Amazon SNS: one SNS topic per kit topic, and each
// group's SQS queue subscribed to it with raw message delivery, so a group's copy arrives as
// the message the sqs driver itself would have sent (body and envelope attribute). SNS is an
// optional peer of its own (@aws-sdk/client-sns), loaded only when fan-out is used.
import type * as clientSns from '@aws-sdk/client-sns'
import type { SNSClient } from '@aws-sdk/client-sns'
import { importPeer } from '@beaver-kit/core'
import { QueueError } from '../errors.ts'
import { ENVELOPE_HEADER, encodeEnvelope, type BrokerEnvelope } from './broker-message.ts'
import { sqsError } from './sqs-errors.ts'
import { FIFO_SUFFIX, fifoFields } from './sqs-fifo.ts'
import type { SqsQueueOptions } from './sqs-options.ts'

type Sns = typeof clientSns

/** PublishBatch takes at most ten entries. */
const BATCH = 10

export class SnsFanOut {
  readonly #options: SqsQueueOptions
  readonly #fifo: boolean
  #sdk: Promise<{ sns: Sns; client: SNSClient }> | undefined
  readonly #arns = new Map<string, Promise<string>>()

  constructor(options: SqsQueueOptions, fifo: boolean) {
    this.#options = options
    this.#fifo = fifo
  }

  /** The SNS client: the SQS endpoint, region and credentials (one endpoint serves both locally). */
  #client(): Promise<{ sns: Sns; client: SNSClient }> {
    this.#sdk ??= (async () => {
      const sns = await importPeer(
        '@aws-sdk/client-sns',
        () => import('@aws-sdk/client-sns'),
        'pub/sub fan-out on the sqs queue driver',
      )
      const o = this.#options
      const client = new sns.SNSClient({
        region: o.region ?? 'us-east-1',
        ...(o.endpoint ? { endpoint: o.endpoint } : {}),
        ...(o.credentials ? { credentials: o.credentials } : {}),
      })
      return { sns, client }
    })()
    this.#sdk.catch(() => (this.#sdk = undefined))
    return this.#sdk
  }

  /** The topic's ARN; CreateTopic on first use (idempotent: an existing topic is answered as it is). */
  topicArn(name: string): Promise<string> {
    let p = this.#arns.get(name)
    if (!p) {
      p = (async () => {
        const { sns, client } = await this.#client()
        const out = await client
          .send(
            new sns.CreateTopicCommand({
              Name: `${name}${this.#fifo ? FIFO_SUFFIX : ''}`,
              ...(this.#fifo ? { Attributes: { FifoTopic: 'true' } } : {}),
            }),
          )
          .catch((error: unknown) => {
            throw sqsError(error, `create SNS topic "${name}"`)
          })
        if (!out.TopicArn) throw new QueueError('QUEUE_DRIVER_UNAVAILABLE', `SNS answered no ARN for topic "${name}".`)
        return out.TopicArn
      })()
      this.#arns.set(name, p)
      p.catch(() => this.#arns.delete(name))
    }
    return p
  }

  /** Subscribes a queue (idempotent: SNS answers the existing subscription), raw delivery on. */
  async subscribe(topicArn: string, queueArn: string): Promise<void> {
    const { sns, client } = await this.#client()
    await client
      .send(
        new sns.SubscribeCommand({
          TopicArn: topicArn,
          Protocol: 'sqs',
          Endpoint: queueArn,
          Attributes: { RawMessageDelivery: 'true' },
          ReturnSubscriptionArn: true,
        }),
      )
      .catch((error: unknown) => {
        throw sqsError(error, `subscribe queue "${queueArn}" to SNS topic "${topicArn}"`)
      })
  }

  /** Publishes once to the topic, ten per request; SNS copies to every subscribed queue. */
  async publish(topicArn: string, items: ReadonlyArray<{ envelope: BrokerEnvelope; body: string }>): Promise<void> {
    const { sns, client } = await this.#client()
    for (let i = 0; i < items.length; i += BATCH) {
      const chunk = items.slice(i, i + BATCH)
      const out = await client
        .send(
          new sns.PublishBatchCommand({
            TopicArn: topicArn,
            PublishBatchRequestEntries: chunk.map((it, k) => ({
              Id: String(k),
              Message: it.body,
              MessageAttributes: {
                [ENVELOPE_HEADER]: { DataType: 'String', StringValue: encodeEnvelope(it.envelope) },
              },
              ...(this.#fifo ? fifoFields(it.envelope, 'fresh') : {}),
            })),
          }),
        )
        .catch((error: unknown) => {
          throw sqsError(error, `publish to SNS topic "${topicArn}"`)
        })
      if (out.Failed && out.Failed.length > 0) {
        const f = out.Failed[0]
        throw new QueueError(
          'QUEUE_DRIVER_UNAVAILABLE',
          `SNS refused ${out.Failed.length} message(s) for topic "${topicArn}": ${f?.Code} ${f?.Message ?? ''}`,
        )
      }
    }
  }

  async close(): Promise<void> {
    const sdk = await this.#sdk?.catch(() => undefined)
    sdk?.client.destroy()
  }
}
