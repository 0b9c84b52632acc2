// The SQS queues behind one kit queue: its DLQ first, then the queue itself with the DLQ as its
// redrive target (FIFO pairs when the driver runs FIFO).
import { createHash } from 'node:crypto'
import type * as clientSqs from '@aws-sdk/client-sqs'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { sqsError } from './sqs-errors.ts'
import { FIFO_ATTRIBUTES, FIFO_SUFFIX } from './sqs-fifo.ts'

/** What SQS queue and SNS topic names may hold (besides a FIFO queue's `.fifo`). */
const AWS_NAME = /^[A-Za-z0-9_-]+$/

/**
 * The SQS queue (or SNS topic) name of a kit queue (or topic): `ns/emails` → `bq_ns--emails`.
 * A name with characters AWS refuses (`.` of a queue name, `@` of every group queue
 * `<topic>@<group>`) has them replaced by `_` and a hash of the whole name appended, so it is
 * accepted and no two kit names share one AWS name; a name AWS accepts is kept as it is.
 */
export function awsName(prefix: string, name: string): string {
  const plain = `${prefix}_${name.replace('/', '--')}`
  if (AWS_NAME.test(plain)) return plain
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 12)
  return `${plain.replace(/[^A-Za-z0-9_-]/g, '_')}-${hash}`
}

/** Creates (or finds: CreateQueue is idempotent) the queue `name` and its `-dead` queue; their URLs. */
export async function createQueuePair(
  sqs: typeof clientSqs,
  client: SQSClient,
  name: string,
  fifo: boolean,
  maxReceiveCount: number,
): Promise<{ main: string; dead: string }> {
  const suffix = fifo ? FIFO_SUFFIX : ''
  const attributes = fifo ? FIFO_ATTRIBUTES : {}
  try {
    const dead = await client.send(
      new sqs.CreateQueueCommand({ QueueName: `${name}-dead${suffix}`, Attributes: { ...attributes } }),
    )
    const attrs = await client.send(
      new sqs.GetQueueAttributesCommand({ QueueUrl: dead.QueueUrl, AttributeNames: ['QueueArn'] }),
    )
    const main = await client.send(
      new sqs.CreateQueueCommand({
        QueueName: `${name}${suffix}`,
        Attributes: {
          ...attributes,
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: attrs.Attributes?.QueueArn, maxReceiveCount }),
        },
      }),
    )
    return { main: main.QueueUrl as string, dead: dead.QueueUrl as string }
  } catch (error) {
    throw sqsError(error, `create queue "${name}${suffix}"`)
  }
}

/**
 * Lets one SNS topic send to a queue (the queue policy SNS needs on AWS; the kit made the queue,
 * so the policy is the kit's to set) and resolves the queue's ARN, for the subscription.
 */
export async function allowTopicToSend(
  sqs: typeof clientSqs,
  client: SQSClient,
  queueUrl: string,
  topicArn: string,
): Promise<string> {
  try {
    const attrs = await client.send(
      new sqs.GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    )
    const queueArn = attrs.Attributes?.QueueArn as string
    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'beaver-queue-topic',
          Effect: 'Allow',
          Principal: { Service: 'sns.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
          Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
        },
      ],
    }
    await client.send(
      new sqs.SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(policy) } }),
    )
    return queueArn
  } catch (error) {
    throw sqsError(error, `let SNS topic "${topicArn}" send to queue "${queueUrl}"`)
  }
}
