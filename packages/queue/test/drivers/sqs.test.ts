// SQS against fauxqs, an SQS emulator from npm speaking the AWS JSON protocol that
// @aws-sdk/client-sqs uses today (sqslite only speaks the older query protocol). It is started
// here on a free port. Calls used: CreateQueue, GetQueueAttributes, SendMessageBatch,
// ReceiveMessage (long polling), DeleteMessageBatch, ChangeMessageVisibilityBatch, ListQueues.
// The whole suite runs twice: on standard queues and on FIFO queues (`sqs: { fifo: true }`).
import { afterAll, describe } from 'vitest'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'
import { startFauxqs } from 'fauxqs'
import { freePort } from '../support/servers.ts'

const server = await startFauxqs({ port: await freePort(), logger: false })
afterAll(async () => {
  await server.stop()
})

describe.each([
  { kind: 'standard', fifo: false },
  { kind: 'fifo', fifo: true },
])('sqs $kind queues (fauxqs)', ({ kind, fifo }) => {
  describeQueueDriver(
    kind === 'fifo' ? 'sqs-fifo' : 'sqs',
    (namespace) =>
      createQueue({
        driver: 'sqs',
        sqs: { endpoint: `http://127.0.0.1:${server.port}`, fifo },
        driverOptions: { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
        namespace,
        envPrefix: false,
      }),
    {
      ...(fifo
        ? {
            cannot: {
              retryLastError:
                'a FIFO retry waits out its backoff invisible in its place (a copy would go behind its group), and SQS cannot rewrite a message to carry the error',
              releaseUncounted:
                'a released FIFO message is made visible in its place, and SQS counts the receive (a copy would go behind its group)',
            },
          }
        : {}),
      rejectingJob: (queue) =>
        defineJob<never>(queue, {
          parse: () => {
            throw new Error('schema rejects it')
          },
        }),
    },
  )
})
