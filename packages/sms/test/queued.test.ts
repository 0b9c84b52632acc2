import { describe, expect, it } from 'vitest'
import { createStandInQueue } from '@beaver-kit/testkit/job-queue'
import { createSms, isSmsError } from '@beaver-kit/sms'

const msg = { to: '+14155550100', from: '+15005550006', body: 'Your code is 123456' }

describe('queued SMS', () => {
  it('checks at sendLater, sends once per idempotency key in the worker', async () => {
    const jobQueue = createStandInQueue()
    await using sms = createSms({ envPrefix: false, driver: 'memory', jobQueue })
    const first = await sms.sendLater({ ...msg, idempotencyKey: 'otp/1' }, { delay: '10s' })
    const second = await sms.sendLater({ ...msg, idempotencyKey: 'otp/1' })
    expect(second.jobId).toBe(first.jobId)
    await expect(sms.sendLater({ ...msg, to: '4155550100' })).rejects.toMatchObject({ code: 'SMS_MESSAGE_INVALID' })
    const worker = await sms.startWorker()
    jobQueue.crashAfterHandler()
    await jobQueue.drain()
    await worker.close()
    expect(sms.sent()).toHaveLength(1)
    expect(sms.sent()[0]).toMatchObject({ to: '+14155550100', idempotencyKey: 'otp/1' })
  })

  it('reports a queue that refuses, and a closed sender', async () => {
    await using sms = createSms({ envPrefix: false, driver: 'memory' })
    const failing = {
      publish: async () => Promise.reject(new Error('down')),
      consume: async () => ({ close: async () => {} }),
    }
    expect(isSmsError(await sms.sendLater(msg, { queue: failing }).catch((e: unknown) => e), 'SMS_QUEUE')).toBe(true)
    await sms.close()
    await expect(sms.sendLater(msg)).rejects.toMatchObject({ code: 'SMS_CLOSED' })
    await expect(sms.startWorker()).rejects.toMatchObject({ code: 'SMS_CLOSED' })
  })
})
