import { describe, expect, it } from 'vitest'
import { requireService, uniqueNamespace } from '@beaver-kit/testkit'
import { createMailer } from '@beaver-kit/mail'

const msg = { from: 'app@example.com', to: 'ada@example.com', subject: 'Hi', text: 'x' }
const redisUrl = await requireService('redis')

describe('send rate limit', () => {
  it('asks the limiter once per message, before the transport', async () => {
    const order: string[] = []
    await using mailer = createMailer({
      envPrefix: false,
      driver: 'memory',
      rateLimiter: { take: async (cost) => void order.push(`take ${cost}`) },
    })
    await mailer.sendBatch([msg, msg, msg])
    expect(order).toEqual(['take 1', 'take 1', 'take 1'])
    expect(mailer.sent()).toHaveLength(3)
  })

  it('holds a message back until the bucket refills, and an abort lets go of it', async () => {
    await using mailer = createMailer({ envPrefix: false, driver: 'memory', rateLimit: { perSecond: 0.001, burst: 2 } })
    await mailer.send(msg)
    await mailer.send(msg)
    // The third would wait 1000 s: it is still waiting when the signal fires, and never sent.
    await expect(mailer.send(msg, { signal: AbortSignal.timeout(200) })).rejects.toMatchObject({ name: 'TimeoutError' })
    expect(mailer.sent()).toHaveLength(2)
  })

  describe.runIf(redisUrl)('shared through Redis', () => {
    it('one bucket for two mailers (two processes) on the same key', async () => {
      const key = uniqueNamespace('mail-rate')
      const options = {
        envPrefix: false as const,
        driver: 'memory',
        rateLimit: { perSecond: 0.001, burst: 4, redisUrl, key },
      }
      await using a = createMailer(options)
      await using b = createMailer(options)
      await a.send(msg)
      await b.send(msg)
      await a.send(msg)
      await b.send(msg)
      // Four taken between them: the fifth waits, whichever mailer sends it.
      await expect(a.send(msg, { signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: 'TimeoutError' })
      await expect(b.send(msg, { signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: 'TimeoutError' })
      expect(a.sent().length + b.sent().length).toBe(4)
      const { Redis } = await import('ioredis')
      const redis = new Redis(redisUrl as string)
      await redis.del(key)
      redis.disconnect()
    })
  })
})
