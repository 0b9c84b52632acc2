import type { SQSClient, SQSClientConfig } from '@aws-sdk/client-sqs'

/** Options of the sqs driver (`BEAVER_QUEUE_SQS_*`). */
export interface SqsQueueOptions {
  /** An SQS-compatible endpoint (a local server); default: AWS for the region. */
  endpoint?: string | undefined
  region?: string | undefined
  /** First segment of every SQS queue name. Default `bq`. */
  prefix?: string | undefined
  /** Receives before SQS itself moves a message to the DLQ (redrive policy), a backstop behind `attempts`. */
  maxReceiveCount?: number | undefined
  /**
   * FIFO queues (`<name>.fifo`): `group` is the MessageGroupId, so the messages of one group
   * run one at a time, in publish order, across every consumer; no delays.
   */
  fifo?: boolean | undefined
  /** Credentials, when not from the AWS environment (a local server takes any). */
  credentials?: SQSClientConfig['credentials']
  /** A client to use (never closed by the queue). */
  client?: SQSClient | undefined
}
