// The SQS queues behind one kit queue: its DLQ first, then the queue itself with the DLQ as its
// redrive target (FIFO pairs when the driver runs FIFO).
import type * as clientSqs from '@aws-sdk/client-sqs'
import type { SQSClient } from '@aws-sdk/client-sqs'
import { sqsError } from './sqs-errors.ts'
import { FIFO_ATTRIBUTES, FIFO_SUFFIX } from './sqs-fifo.ts'

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
