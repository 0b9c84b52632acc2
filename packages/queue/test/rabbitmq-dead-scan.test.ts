// The DLQ scan's wait for the broker: a quorum queue applies the return of what a scan kept a
// moment after the scan's channel closes. Here a stand-in channel and count play that broker,
// so the order of events is fixed (the real broker's timing is covered in rabbitmq-delivery).
import type { ConfirmChannel, GetMessage } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { scanDead } from '../src/drivers/rabbitmq-messages.ts'

function channel(ids: string[]): ConfirmChannel {
  const ready = ids.map(
    (id) => ({ content: Buffer.from('"x"'), fields: {}, properties: { messageId: id, headers: {} } }) as GetMessage,
  )
  return {
    checkQueue: async () => ({ queue: 'dead', messageCount: ids.length, consumerCount: 0 }),
    get: async () => ready.shift() ?? false,
    ack: () => undefined,
    waitForConfirms: async () => undefined,
    close: async () => undefined,
  } as unknown as ConfirmChannel
}

describe('rabbitmq DLQ scan', () => {
  it('resolves only once the broker shows again what the scan gave back', async () => {
    // The broker shows 0, then 1, then all 3 returned messages.
    const shown = [0, 1, 3]
    let looks = 0
    const count = async (): Promise<number> => shown[Math.min(looks++, shown.length - 1)] as number
    const seen: string[] = []
    const taken = await scanDead(
      channel(['a', 'b', 'c']),
      'dead',
      'ns/q',
      Date.now(),
      (m) => (seen.push(m.id), 'keep'),
      undefined,
      count,
    )
    expect(taken).toBe(0)
    expect(seen).toEqual(['a', 'b', 'c'])
    expect(looks).toBe(3)
  })

  it('waits for what it kept only, not for what it took', async () => {
    let looks = 0
    const count = async (): Promise<number> => (looks++, 1)
    const taken = await scanDead(
      channel(['a', 'b']),
      'dead',
      'ns/q',
      Date.now(),
      (m) => (m.id === 'a' ? 'take' : 'keep'),
      undefined,
      count,
    )
    expect(taken).toBe(1)
    expect(looks).toBe(1)
  })

  it('does not look at all when it took everything', async () => {
    let looks = 0
    const taken = await scanDead(
      channel(['a']),
      'dead',
      'ns/q',
      Date.now(),
      () => 'take',
      undefined,
      async () => (looks++, 0),
    )
    expect([taken, looks]).toEqual([1, 0])
  })
})
