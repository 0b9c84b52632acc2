// SQS against fauxqs, an SQS emulator from npm speaking the AWS JSON protocol that
// @aws-sdk/client-sqs uses today (sqslite only speaks the older query protocol). It is started
// here on a free port. Calls used: CreateQueue, GetQueueAttributes, SendMessageBatch,
// ReceiveMessage (long polling), DeleteMessageBatch, ChangeMessageVisibilityBatch, ListQueues.
import { afterAll, describe } from 'vitest'
import { describeQueueDriver } from '@beaver-kit/testkit/queue'
import { createQueue, defineJob } from '@beaver-kit/queue'
import { startFauxqs } from 'fauxqs'
import { freePort } from '../support/servers.ts'

const server = await startFauxqs({ port: await freePort(), logger: false })
afterAll(async () => {
  await server.stop()
})

describe('sqs (fauxqs)', () => {
  describeQueueDriver(
    'sqs',
    (namespace) =>
      createQueue({
        driver: 'sqs',
        sqs: { endpoint: `http://127.0.0.1:${server.port}` },
        driverOptions: { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
        namespace,
        envPrefix: false,
      }),
    {
      rejectingJob: (queue) =>
        defineJob<never>(queue, {
          parse: () => {
            throw new Error('schema rejects it')
          },
        }),
    },
  )
})
