import { describe, expect, it } from 'vitest'
import { eventually } from '@beaver-kit/testkit'
import { createStandInQueue } from '@beaver-kit/testkit/job-queue'
import type { QueueLike } from '@beaver-kit/delivery'
import {
  createMailer,
  createMemoryLedger,
  isMailError,
  plainCapabilities,
  transportError,
  type MailTransport,
} from '@beaver-kit/mail'

const queueInstalled = await import('@beaver-kit/queue' as string).then(
  () => true,
  () => false,
)
const msg = { from: 'app@example.com', to: 'ada@example.com', subject: 'Welcome', text: 'Hello' }

describe('queued sending', () => {
  it('checks at sendLater, sends in the worker, and a job retried after its send never sends twice', async () => {
    const jobQueue = createStandInQueue()
    await using mailer = createMailer({ envPrefix: false, driver: 'memory', jobQueue })
    const { jobId, idempotencyKey } = await mailer.sendLater({
      ...msg,
      attachments: [{ filename: 'a.bin', content: Buffer.from([1, 2, 3]) }],
    })
    expect(jobId).toBe(`beaver-mail:${idempotencyKey}`)
    // The same logical message published again is the same job.
    const again = await mailer.sendLater({ ...msg, idempotencyKey })
    expect(again.jobId).toBe(jobId)
    expect(jobQueue.jobs.get('beaver-mail')).toHaveLength(1)
    expect(mailer.sent()).toHaveLength(0)

    const worker = await mailer.startWorker()
    jobQueue.crashAfterHandler()
    await jobQueue.drain()
    await worker.close()
    // Delivered twice (the first ack was lost), sent once; the attachment survived the queue.
    expect(jobQueue.jobs.get('beaver-mail')?.[0]).toMatchObject({ attempts: 2, state: 'done' })
    expect(mailer.sent()).toHaveLength(1)
    expect(mailer.sent()[0]?.attachments[0]?.content).toEqual(Buffer.from([1, 2, 3]))
  })

  it('refuses bad input at sendLater, before anything is queued', async () => {
    const jobQueue = createStandInQueue()
    await using mailer = createMailer({ envPrefix: false, driver: 'memory', jobQueue })
    await expect(mailer.sendLater({ ...msg, to: 'nope' })).rejects.toMatchObject({ code: 'MAIL_MESSAGE_INVALID' })
    expect(jobQueue.jobs.size).toBe(0)
  })

  it('renders templates at sendLater, and delays reach the queue', async () => {
    const jobQueue = createStandInQueue()
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'memory',
      jobQueue,
      templates: { inline: { hi: { subject: 'Hi {{name}}', text: 'Hello {{name}}' } } },
    })
    const runAt = new Date(Date.now() + 60_000)
    await mailer.sendLater(
      { from: 'a@example.com', to: 'b@example.com', template: 'hi', data: { name: 'Ada' } },
      { runAt },
    )
    const job = jobQueue.jobs.get('beaver-mail')?.[0]
    expect(job?.runAt).toBe(runAt.getTime())
    expect(job?.payload).toMatchObject({ subject: 'Hi Ada', text: 'Hello Ada' })
  })

  it('a failing send is retried by the queue and dead-lettered at the end', async () => {
    let calls = 0
    const transport: MailTransport = {
      name: 'down',
      capabilities: plainCapabilities({ retries: true }),
      send: async () => {
        calls++
        throw transportError('down', 'MAIL_UNAVAILABLE', 'down')
      },
      close: async () => {},
    }
    const jobQueue = createStandInQueue(2)
    await using mailer = createMailer({ envPrefix: false, transport, jobQueue, ledger: createMemoryLedger() })
    await mailer.sendLater(msg)
    const worker = await mailer.startWorker({ concurrency: 1 })
    await jobQueue.drain()
    await worker.close()
    expect(calls).toBe(2)
    expect(jobQueue.jobs.get('beaver-mail')?.[0]?.state).toBe('dead')
  })

  it.skipIf(queueInstalled)(
    'without a queue and without @beaver-kit/queue installed, says what to install',
    async () => {
      await using mailer = createMailer({ envPrefix: false, driver: 'memory' })
      const error = await mailer.sendLater(msg).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'CORE_PEER_MISSING' })
      expect((error as Error).message).toContain('npm install @beaver-kit/queue')
    },
  )

  it('a queue that refuses the job is MAIL_QUEUE; a closed mailer refuses', async () => {
    const mailer = createMailer({ envPrefix: false, driver: 'memory' })
    const publishFails = {
      publish: async () => Promise.reject(new Error('broker down')),
      consume: async () => ({ close: async () => {} }),
    }
    const failed = await mailer.sendLater(msg, { queue: publishFails }).catch((e: unknown) => e)
    expect(isMailError(failed, 'MAIL_QUEUE')).toBe(true)
    await mailer.close()
    await expect(mailer.sendLater(msg)).rejects.toMatchObject({ code: 'MAIL_CLOSED' })
    await expect(mailer.startWorker()).rejects.toMatchObject({ code: 'MAIL_CLOSED' })
  })
})

describe.runIf(queueInstalled)('queued sending on @beaver-kit/queue', () => {
  it('publishes one job per idempotency key and the worker sends it once (memory driver)', async () => {
    const { createQueue } = (await import('@beaver-kit/queue' as string)) as {
      createQueue: (options: Record<string, unknown>) => QueueLike & {
        close(): Promise<void>
      }
    }
    const queue = createQueue({ envPrefix: false, driver: 'memory', retry: { base: 1, max: 5 } })
    await using mailer = createMailer({ envPrefix: false, driver: 'memory', jobQueue: queue })
    try {
      const first = await mailer.sendLater({ ...msg, idempotencyKey: 'welcome/ada' })
      const again = await mailer.sendLater({ ...msg, idempotencyKey: 'welcome/ada' })
      expect(again.jobId).toBe(first.jobId)
      const worker = await mailer.startWorker()
      await eventually(() => expect(mailer.sent()).toHaveLength(1))
      await worker.close()
      expect(mailer.sent()[0]).toMatchObject({ subject: 'Welcome', idempotencyKey: 'welcome/ada' })
    } finally {
      await queue.close()
    }
  })
})
