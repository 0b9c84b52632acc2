// Acks of a consumer channel's oldest deliveries go as one basic.ack with multiple; an ack
// behind a delivery still out goes alone, and no delivery is ever acknowledged twice (a second
// ack of one tag is a channel error on a real broker). A stand-in channel records the frames.
import type { Channel, Message } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { AckRuns } from '../src/drivers/rabbitmq-ack-runs.ts'

const msg = (tag: number): Message => ({ fields: { deliveryTag: tag } }) as unknown as Message

function recorder(): { ch: Channel; frames: Array<[number, boolean]> } {
  const frames: Array<[number, boolean]> = []
  const ch = { ack: (m: Message, multiple = false) => void frames.push([m.fields.deliveryTag, multiple]) }
  return { ch: ch as unknown as Channel, frames }
}

describe('rabbitmq ack runs', () => {
  it('acknowledges a run of the oldest deliveries in one frame, and one behind a running delivery alone', () => {
    const runs = new AckRuns()
    const { ch, frames } = recorder()
    for (let t = 1; t <= 6; t++) runs.delivered(msg(t))
    // 1, 2, 3 done; 4 still running; 6 done behind it.
    expect(runs.ack(ch, [msg(2), msg(1), msg(3), msg(6)])).toBe(2)
    expect(frames).toEqual([
      [3, true],
      [6, false],
    ])
    frames.length = 0
    // 4 and 5 done: the run now reaches past 6, which must not be acknowledged again.
    expect(runs.ack(ch, [msg(5), msg(4)])).toBe(1)
    expect(frames).toEqual([[5, true]])
  })

  it('skips deliveries settled apart (a nack, an ack of its own) and never covers one still out', () => {
    const runs = new AckRuns()
    const { ch, frames } = recorder()
    for (let t = 1; t <= 4; t++) runs.delivered(msg(t))
    runs.settledApart(msg(1))
    runs.ack(ch, [msg(2)])
    expect(frames).toEqual([[2, true]])
    frames.length = 0
    runs.ack(ch, [msg(4)])
    expect(frames).toEqual([[4, false]])
    frames.length = 0
    runs.ack(ch, [msg(3)])
    expect(frames).toEqual([[3, true]])
  })

  it('keeps its order across many deliveries (compacted as it goes)', () => {
    const runs = new AckRuns()
    const { ch, frames } = recorder()
    for (let t = 1; t <= 5000; t++) {
      runs.delivered(msg(t))
      runs.ack(ch, [msg(t)])
    }
    expect(frames.length).toBe(5000)
    expect(frames.every(([, multiple]) => multiple)).toBe(true)
    runs.delivered(msg(5001))
    runs.delivered(msg(5002))
    runs.ack(ch, [msg(5002)])
    expect(frames.at(-1)).toEqual([5002, false])
  })
})
