import type { Channel, Message } from 'amqplib'

/** Settled tags kept at the front of the order before the array is compacted. */
const COMPACT_AFTER = 1024

/**
 * The deliveries one consumer channel has outstanding, in delivery order, so that acks of the
 * oldest ones go as one frame: `basic.ack` with `multiple` settles every outstanding delivery
 * up to its tag, which a broker applies as one settlement (on a quorum queue, one Raft command
 * instead of one per message). Only a run whose every delivery is settled is acknowledged that
 * way; an ack behind a delivery still running or buffered goes on its own, at once (holding it
 * would keep the prefetch window full behind a long handler).
 */
export class AckRuns {
  readonly #order: number[] = []
  #head = 0
  /** Outstanding tags already settled on their own (an ack, a nack) while older ones were out. */
  readonly #apart = new Set<number>()

  /** A delivery the broker pushed on this channel. */
  delivered(msg: Message): void {
    this.#order.push(msg.fields.deliveryTag)
  }

  /** A delivery settled by other means (a nack, an ack of its own). */
  settledApart(msg: Message): void {
    this.#apart.add(msg.fields.deliveryTag)
  }

  /**
   * Acknowledges `msgs`: the run they complete at the front in one frame, the others one by
   * one. Returns the frames sent.
   */
  ack(ch: Channel, msgs: readonly Message[]): number {
    const batch = new Map<number, Message>()
    for (const m of msgs) batch.set(m.fields.deliveryTag, m)
    let last: Message | undefined
    while (this.#head < this.#order.length) {
      const tag = this.#order[this.#head] as number
      const m = batch.get(tag)
      if (m) {
        last = m
        batch.delete(tag)
      } else if (!this.#apart.delete(tag)) break
      this.#head++
    }
    if (this.#head > COMPACT_AFTER) {
      this.#order.splice(0, this.#head)
      this.#head = 0
    }
    if (last) ch.ack(last, true)
    for (const m of batch.values()) {
      ch.ack(m)
      this.#apart.add(m.fields.deliveryTag)
    }
    return (last ? 1 : 0) + batch.size
  }
}

/** The AckRuns of each consumer channel, made at its first delivery and gone with the channel. */
export class AckRunsByChannel {
  readonly #runs = new WeakMap<Channel, AckRuns>()

  #of(ch: Channel): AckRuns {
    let runs = this.#runs.get(ch)
    if (!runs) {
      runs = new AckRuns()
      this.#runs.set(ch, runs)
    }
    return runs
  }

  delivered(ch: Channel, msg: Message): void {
    this.#of(ch).delivered(msg)
  }

  settledApart(ch: Channel, msg: Message): void {
    this.#of(ch).settledApart(msg)
  }

  ack(ch: Channel, msgs: readonly Message[]): number {
    return this.#of(ch).ack(ch, msgs)
  }
}
