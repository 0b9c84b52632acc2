// The SQS batch calls of the sqs driver, ten entries per request (SQS's limit): send, delete,
// and change visibility.
import type * as clientSqs from '@aws-sdk/client-sqs'
import type { SendMessageBatchRequestEntry, SQSClient } from '@aws-sdk/client-sqs'
import { QueueError } from '../errors.ts'
import { sqsError } from './sqs-errors.ts'

export const BATCH = 10

/** One SendMessageBatch per ten entries (each entry's Id is set here); a refused entry fails the send. */
export async function sendBatch(
  sqs: typeof clientSqs,
  client: SQSClient,
  url: string,
  entries: ReadonlyArray<Omit<SendMessageBatchRequestEntry, 'Id'>>,
): Promise<void> {
  for (let i = 0; i < entries.length; i += BATCH) {
    const out = await client
      .send(
        new sqs.SendMessageBatchCommand({
          QueueUrl: url,
          Entries: entries.slice(i, i + BATCH).map((e, k) => ({ ...e, Id: String(k) })),
        }),
      )
      .catch((error: unknown) => {
        throw sqsError(error, 'send messages')
      })
    if (out.Failed && out.Failed.length > 0) {
      const f = out.Failed[0]
      throw new QueueError(
        'QUEUE_DRIVER_UNAVAILABLE',
        `SQS refused ${out.Failed.length} message(s): ${f?.Code} ${f?.Message ?? ''}`,
      )
    }
  }
}

export async function deleteBatch(
  sqs: typeof clientSqs,
  client: SQSClient,
  url: string,
  receipts: readonly string[],
): Promise<void> {
  for (let i = 0; i < receipts.length; i += BATCH) {
    await client.send(
      new sqs.DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: receipts.slice(i, i + BATCH).map((r, k) => ({ Id: String(k), ReceiptHandle: r })),
      }),
    )
  }
}

/** Sets the visibility timeout of received messages (whole seconds, 0 to 12 hours). */
export async function changeVisibility(
  sqs: typeof clientSqs,
  client: SQSClient,
  url: string,
  receipts: readonly string[],
  seconds: number,
): Promise<void> {
  const timeout = Math.min(43_200, Math.max(0, Math.ceil(seconds)))
  for (let i = 0; i < receipts.length; i += BATCH) {
    await client.send(
      new sqs.ChangeMessageVisibilityBatchCommand({
        QueueUrl: url,
        Entries: receipts
          .slice(i, i + BATCH)
          .map((r, k) => ({ Id: String(k), ReceiptHandle: r, VisibilityTimeout: timeout })),
      }),
    )
  }
}
